/**
 * A UDP socket bound on `address` (port 0: one the kernel picks), or the bind error (EADDRINUSE,
 * EADDRNOTAVAIL) as a rejection rather than an 'error' event nobody listens to yet.
 */
import dgram from 'node:dgram';

export async function bindUdpSocket(address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
