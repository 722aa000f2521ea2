/**
 * Message framing on byte streams (TCP, TLS): RFC 3261 §18.3. A message is its header section up
 * to the blank line plus exactly Content-Length bytes of body (0 when absent). CRLFs between
 * messages are the RFC 5626 §4.4.1 keepalives: CRLFCRLF is a ping (answer with CRLF), a lone CRLF
 * is a pong.
 */

export type FrameResult =
  | { kind: 'message'; length: number }
  | { kind: 'keepalive'; length: number }
  | { kind: 'incomplete' }
  | { kind: 'error'; reason: string };

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Looks at the front of `buffer`: one whole message, a keepalive, not enough bytes yet, or a stream
 * that cannot be resynchronised (the connection must be closed). `maxSize` bounds header section
 * plus body.
 */
export function frameStream(buffer: Buffer, maxSize: number): FrameResult {
  const n = buffer.length;
  if (n === 0) return { kind: 'incomplete' };
  const first = buffer[0]!;
  if (first === 0x0d || first === 0x0a) {
    if (first === 0x0a) return { kind: 'keepalive', length: 1 }; // stray LF: skip it
    if (n < 2) return { kind: 'incomplete' };
    if (buffer[1] !== 0x0a) return { kind: 'error', reason: 'CR not followed by LF between messages' };
    if (n === 3 && buffer[2] === 0x0d) return { kind: 'incomplete' };
    if (n >= 4 && buffer[2] === 0x0d && buffer[3] === 0x0a) return { kind: 'keepalive', length: 4 };
    return { kind: 'keepalive', length: 2 };
  }
  let headerEnd = buffer.indexOf(CRLFCRLF);
  let bodyStart = headerEnd + 4;
  if (headerEnd < 0) {
    // bare-LF line ends are tolerated as by the parser
    const lf = buffer.indexOf('\n\n', 0, 'latin1');
    if (lf >= 0) {
      headerEnd = lf;
      bodyStart = lf + 2;
    }
  }
  if (headerEnd < 0) {
    if (n > maxSize) return { kind: 'error', reason: `header section larger than ${maxSize} bytes` };
    return { kind: 'incomplete' };
  }
  if (bodyStart > maxSize) return { kind: 'error', reason: `header section larger than ${maxSize} bytes` };
  const contentLength = findContentLength(buffer.toString('latin1', 0, headerEnd));
  if (typeof contentLength === 'string') return { kind: 'error', reason: contentLength };
  const length = bodyStart + contentLength;
  if (length > maxSize) return { kind: 'error', reason: `message larger than ${maxSize} bytes` };
  if (n < length) return { kind: 'incomplete' };
  return { kind: 'message', length };
}

/** The Content-Length of a header section (0 when absent), or an error text. */
function findContentLength(head: string): number | string {
  let value: number | null = null;
  let pos = head.indexOf('\n') + 1;
  if (pos === 0) return 0;
  while (pos < head.length) {
    let nl = head.indexOf('\n', pos);
    if (nl < 0) nl = head.length;
    const c = head.charCodeAt(pos) | 0x20;
    // only lines starting with 'l' or 'c' can be Content-Length (long or compact form)
    if (c === 0x6c || c === 0x63) {
      const colon = head.indexOf(':', pos);
      if (colon > 0 && colon < nl) {
        const name = head.slice(pos, colon).trimEnd().toLowerCase();
        if (name === 'content-length' || name === 'l') {
          let text = head.slice(colon + 1, nl).trim();
          // a folded value continues on lines starting with whitespace
          let next = nl + 1;
          while (next < head.length && (head[next] === ' ' || head[next] === '\t')) {
            let nl2 = head.indexOf('\n', next);
            if (nl2 < 0) nl2 = head.length;
            text += head.slice(next, nl2).trim();
            next = nl2 + 1;
          }
          if (!/^[0-9]{1,10}$/.test(text)) return 'bad Content-Length';
          const parsed = Number(text);
          if (value !== null && value !== parsed) return 'conflicting Content-Length headers';
          value = parsed;
        }
      }
    }
    pos = nl + 1;
  }
  return value ?? 0;
}
