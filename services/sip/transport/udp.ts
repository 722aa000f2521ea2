/**
 * The UDP listener (RFC 3261 §18): one dgram socket with large kernel buffers, so a burst of
 * REGISTERs is queued by the kernel rather than dropped at the socket under load.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Endpoint } from '../types.js';

/** 4 MiB: about 8,000 typical SIP datagrams of burst headroom (the kernel may cap it at rmem_max). */
export const UDP_SOCKET_BUFFER = 4 * 1024 * 1024;

export interface UdpListener {
  readonly port: number;
  send(data: Buffer, address: string, port: number, onError: (error: Error) => void): void;
  /** Kernel buffer sizes actually granted (diagnostics). */
  bufferSizes(): { receive: number; send: number };
  close(): Promise<void>;
}

/**
 * Destinations are always numeric (the transport layer refuses names): answer at once instead of
 * dns.lookup's extra process.nextTick per datagram sent. A name still goes to dns.lookup.
 */
function numericLookup(
  host: string,
  options: dns.LookupOneOptions | number,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = net.isIP(host);
  if (family !== 0) {
    callback(null, host, family);
    return;
  }
  dns.lookup(host, typeof options === 'number' ? { family: options } : options, callback);
}

export function listenUdp(
  bind: string,
  port: number,
  onDatagram: (data: Buffer, source: Endpoint) => void,
  onSocketError: (error: Error) => void,
): Promise<UdpListener> {
  const socket = dgram.createSocket({
    type: net.isIPv6(bind) ? 'udp6' : 'udp4',
    recvBufferSize: UDP_SOCKET_BUFFER,
    sendBufferSize: UDP_SOCKET_BUFFER,
    lookup: numericLookup,
  });
  socket.on('message', (data, rinfo) => {
    onDatagram(data, { transport: 'UDP', address: rinfo.address, port: rinfo.port, connectionId: null });
  });
  return new Promise((resolve, reject) => {
    const failStart = (error: Error): void => reject(error);
    socket.once('error', failStart);
    socket.bind(port, bind, () => {
      socket.off('error', failStart);
      // After start, socket errors (ICMP-triggered, EPERM) are reported, never thrown.
      socket.on('error', onSocketError);
      const bound = socket.address().port;
      let closed = false;
      resolve({
        port: bound,
        send(data, address, destPort, onError) {
          if (closed) {
            onError(new Error('UDP listener closed'));
            return;
          }
          socket.send(data, destPort, address, (error) => {
            if (error) onError(error);
          });
        },
        bufferSizes() {
          return { receive: socket.getRecvBufferSize(), send: socket.getSendBufferSize() };
        },
        close() {
          if (closed) return Promise.resolve();
          closed = true;
          return new Promise<void>((done) => socket.close(() => done()));
        },
      });
    });
  });
}
