/** The TCP listener and outbound TCP connections (RFC 3261 §18.3). */
import net from 'node:net';

export function listenTcp(bind: string, port: number, onSocket: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, onSocket);
  return listen(server, bind, port);
}

export function connectTcp(address: string, port: number): net.Socket {
  return net.connect({ host: address, port, noDelay: true });
}

/** Starts a net/tls/http server and resolves once bound (port 0 → an ephemeral port). */
export function listen<T extends net.Server>(server: T, bind: string, port: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => reject(error);
    server.once('error', fail);
    server.listen(port, bind, () => {
      server.off('error', fail);
      resolve(server);
    });
  });
}

export function boundPort(server: net.Server): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
