/** The TLS listener and outbound TLS connections (RFC 3261 §18.3, §26.2.1). */
import type net from 'node:net';
import tls from 'node:tls';
import { listen } from './tcp.js';

export interface TlsCredentials {
  key: string | Buffer;
  cert: string | Buffer;
}

export function listenTls(
  bind: string,
  port: number,
  credentials: TlsCredentials,
  onSocket: (socket: net.Socket) => void,
): Promise<tls.Server> {
  const server = tls.createServer({ key: credentials.key, cert: credentials.cert, minVersion: 'TLSv1.2' }, onSocket);
  // A peer that fails the handshake must not disturb anything else.
  server.on('tlsClientError', () => undefined);
  return listen(server, bind, port);
}

/**
 * Outbound TLS. Phones present self-signed certificates, so verification is a setting
 * (`rejectUnauthorized`, default true) rather than hard-wired.
 */
export function connectTls(address: string, port: number, rejectUnauthorized: boolean): tls.TLSSocket {
  return tls.connect({ host: address, port, rejectUnauthorized, minVersion: 'TLSv1.2' });
}
