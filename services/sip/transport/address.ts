/**
 * Address rules of the transport layer: where a response may go (RFC 3261 §18.2.2, RFC 3581 §4)
 * and which addresses are never a destination (broadcast, multicast, unspecified: see the RFC 4475
 * torture message bcast.dat).
 */
import net from 'node:net';
import type { Via } from '../message.js';
import type { Endpoint, TransportKind } from '../types.js';

/** `[::1]` → `::1`; hosts in Via/URIs keep IPv6 brackets, sockets want them off. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Default port of a transport when a Via or URI names none (§18.1.1, RFC 7118 §5: 80/443). */
export function defaultPort(transport: TransportKind): number {
  switch (transport) {
    case 'UDP':
    case 'TCP':
      return 5060;
    case 'TLS':
      return 5061;
    case 'WS':
      return 80;
    case 'WSS':
      return 443;
  }
}

/** Parses a Via transport token; unknown tokens (SCTP, ...) give null. */
export function transportOf(token: string): TransportKind | null {
  switch (token.toUpperCase()) {
    case 'UDP':
      return 'UDP';
    case 'TCP':
      return 'TCP';
    case 'TLS':
      return 'TLS';
    case 'WS':
      return 'WS';
    case 'WSS':
      return 'WSS';
    default:
      return null;
  }
}

export function isReliable(transport: TransportKind): boolean {
  return transport !== 'UDP';
}

/**
 * True for addresses a message must never be sent to: the unspecified address, IPv4 limited
 * broadcast, IPv4 multicast (224/4), IPv6 multicast (ff00::/8), and anything that is not a numeric
 * address (we never resolve names taken from a Via).
 */
export function isForbiddenDestination(address: string): boolean {
  const host = stripBrackets(address);
  const family = net.isIP(host);
  if (family === 4) {
    if (host === '0.0.0.0' || host === '255.255.255.255') return true;
    const first = Number.parseInt(host, 10); // the first octet (parseInt stops at the dot)
    return first >= 224; // 224/4 multicast and 240/4 reserved
  }
  if (family === 6) {
    const lower = host.toLowerCase();
    return lower === '::' || lower.startsWith('ff');
  }
  return true;
}

/**
 * §18.2.2 with RFC 3581 §4: where a response to a request received from `source` goes, computed
 * from the packet's real source. The sender's own `received`, `rport` value and `maddr` are never
 * followed: they would let anyone aim our responses at a victim (reflection, issue 15).
 * - Stream transports: back on the connection the request came in on; if it has closed, a new
 *   connection to the source address and the Via's sent-by port.
 * - UDP: to the source address (what `received` says once the receive path has stamped it); to
 *   the source port when the Via asks for rport (RFC 3581 §4), else the sent-by port (§18.2.2,
 *   default 5060). `maddr` is ignored: we do not multicast.
 * Returns null when no acceptable destination exists; the caller drops the response and logs.
 */
export function responseDestination(topVia: Via, source: Endpoint): Endpoint | null {
  const address = stripBrackets(source.address);
  if (isForbiddenDestination(address)) return null;
  if (source.transport !== 'UDP') {
    return { transport: source.transport, address, port: topVia.port ?? source.port, connectionId: source.connectionId };
  }
  const port = topVia.params.has('rport') ? source.port : (topVia.port ?? defaultPort('UDP'));
  if (port <= 0 || port > 65535) return null;
  return { transport: 'UDP', address, port, connectionId: null };
}

/**
 * §18.2.1 with RFC 3581 §4: stamps the top Via of a received request with `received` when its
 * host differs from the packet's source or the sender wrote a `received` of its own, and sets
 * `rport` to the source port whenever the Via carries rport (a value written by the sender is
 * overwritten: only we may fill it).
 */
export function stampReceived(topVia: Via, source: Endpoint): void {
  if (topVia.params.has('rport')) {
    topVia.params.set('rport', String(source.port));
    topVia.params.set('received', source.address);
    return;
  }
  if (topVia.params.has('received') || stripBrackets(topVia.host).toLowerCase() !== source.address.toLowerCase()) {
    topVia.params.set('received', source.address);
  }
}
