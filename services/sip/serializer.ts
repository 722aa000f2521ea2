/**
 * Typed message → bytes (RFC 3261 §7). The typed fields are the single source of truth: Via, From,
 * To, Call-ID, CSeq, Max-Forwards, Contact, Route, Record-Route, Expires and Content-Type are written
 * from them, then the raw headers in order, then a Content-Length computed from the body (never
 * trusted from anywhere else, so a relayed message can never carry a stale one).
 */
import type { SipMessage } from './message.js';
import { formatNameAddr, formatUri, formatVia } from './uri.js';

export { formatNameAddr, formatUri, formatVia };

/** A raw value set by code could hold CR/LF: folding them to spaces keeps header injection out. */
function safe(value: string): string {
  if (value.indexOf('\r') < 0 && value.indexOf('\n') < 0) return value;
  return value.replace(/[\r\n]+/g, ' ');
}

export function serializeMessage(message: SipMessage): Buffer {
  let head =
    message.kind === 'request'
      ? message.method + ' ' + formatUri(message.uri) + ' SIP/2.0\r\n'
      : 'SIP/2.0 ' + message.status + ' ' + safe(message.reason) + '\r\n';
  for (const via of message.via) head += 'Via: ' + formatVia(via) + '\r\n';
  head += 'From: ' + formatNameAddr(message.from) + '\r\n';
  head += 'To: ' + formatNameAddr(message.to) + '\r\n';
  head += 'Call-ID: ' + safe(message.callId) + '\r\n';
  head += 'CSeq: ' + message.cseq.seq + ' ' + message.cseq.method + '\r\n';
  if (message.maxForwards !== null) head += 'Max-Forwards: ' + message.maxForwards + '\r\n';
  if (message.contact === '*') {
    head += 'Contact: *\r\n';
  } else if (message.contact.length > 0) {
    head += 'Contact: ' + message.contact.map(formatNameAddr).join(', ') + '\r\n';
  }
  if (message.route.length > 0) head += 'Route: ' + message.route.map(formatNameAddr).join(', ') + '\r\n';
  if (message.recordRoute.length > 0) {
    head += 'Record-Route: ' + message.recordRoute.map(formatNameAddr).join(', ') + '\r\n';
  }
  if (message.expires !== null) head += 'Expires: ' + message.expires + '\r\n';
  if (message.contentType !== null) head += 'Content-Type: ' + safe(message.contentType) + '\r\n';
  for (const header of message.headers) head += safe(header.name) + ': ' + safe(header.value) + '\r\n';
  head += 'Content-Length: ' + message.body.length + '\r\n\r\n';
  if (message.body.length === 0) return Buffer.from(head, 'utf8');
  const headBytes = Buffer.from(head, 'utf8');
  return Buffer.concat([headBytes, message.body], headBytes.length + message.body.length);
}
