/**
 * One connection of a stream transport (TCP, TLS, WebSocket), as the transport layer sees it:
 * an id the transaction user can carry in `Endpoint.connectionId`, the peer, and a write.
 */
import type { TransportKind } from '../types.js';

export interface Connection {
  readonly id: number;
  readonly transport: TransportKind;
  /** The peer's numeric address (IPv4-mapped IPv6 reduced to IPv4) and port. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  isOpen(): boolean;
  write(data: Buffer, onError: (error: Error) => void): void;
  close(reason: string): void;
}

let nextConnectionId = 1;

/** Process-wide unique ids, so an id from a closed connection is never reused for another. */
export function allocateConnectionId(): number {
  return nextConnectionId++;
}

/** `::ffff:127.0.0.1` (a dual-stack socket's view of an IPv4 peer) → `127.0.0.1`. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '0.0.0.0';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
