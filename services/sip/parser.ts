/**
 * Bytes → typed SIP message (RFC 3261 §7, §20, §25; RFC 4475 torture cases).
 *
 * One pass: find the blank line in the Buffer, decode the header section once (UTF-8), walk its
 * lines, parse the typed headers as they come, keep the rest raw. Every failure is a returned value,
 * never an exception: a malformed request gets the bytes of a stateless error response when its
 * Via and CSeq can be read (§8.2.6, RFC 4475 §3.1.2), a malformed response is dropped (§18.1.2).
 */
import { newTag, reasonPhrase } from './build.js';
import type { CSeq, NameAddr, RawHeader, SipMessage, Uri, Via } from './message.js';
import { isToken, isTokenChar, parseNameAddr, parseNameAddrList, parseUri, parseVia } from './uri.js';

export interface SipParseError {
  /** Human-readable, for logs. */
  reason: string;
  /**
   * For requests whose Via and CSeq could be read: serialized response bytes to send back (400 Bad
   * Request, 505 Version Not Supported, 513 Message Too Large) per RFC 4475. null = drop silently
   * (every malformed response, an ACK, or a request too broken to answer).
   */
  errorResponse: Buffer | null;
}

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; error: SipParseError };

export interface ParseOptions {
  /** Largest message accepted, in bytes (default 65535); larger requests get 513. */
  maxSize?: number;
}

export const DEFAULT_MAX_SIZE = 65535;

const EMPTY_BODY = Buffer.alloc(0);
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const MAX_CSEQ = 2 ** 31; // §8.1.1.5: less than 2**31
const MAX_EXPIRES = 2 ** 32 - 1; // §20.19
const MAX_CONTENT_LENGTH = 2 ** 31 - 1;

const enum H {
  VIA = 1,
  FROM,
  TO,
  CALLID,
  CSEQ,
  MAXFWD,
  CONTACT,
  ROUTE,
  RECORDROUTE,
  EXPIRES,
  CTYPE,
  CLENGTH,
}

/** Lower-cased names (long and compact, §7.3.3) of the headers that are typed fields. */
const TYPED = new Map<string, H>([
  ['via', H.VIA],
  ['v', H.VIA],
  ['from', H.FROM],
  ['f', H.FROM],
  ['to', H.TO],
  ['t', H.TO],
  ['call-id', H.CALLID],
  ['i', H.CALLID],
  ['cseq', H.CSEQ],
  ['max-forwards', H.MAXFWD],
  ['contact', H.CONTACT],
  ['m', H.CONTACT],
  ['route', H.ROUTE],
  ['record-route', H.RECORDROUTE],
  ['expires', H.EXPIRES],
  ['content-type', H.CTYPE],
  ['c', H.CTYPE],
  ['content-length', H.CLENGTH],
  ['l', H.CLENGTH],
]);

/** Case-insensitive compare of src[at, at+lower.length) with a lower-case letters-and-dashes literal. */
function eqi(src: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((src.charCodeAt(at + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * The typed header a name denotes (long or compact form, any case), 0 for any other header. Works
 * on the name in place: no substring, no lower-casing, no hashing on the hot path.
 */
function classify(src: string, a: number, n: number): H | 0 {
  const c = src.charCodeAt(a) | 0x20;
  switch (n) {
    case 1:
      switch (c) {
        case 0x76: return H.VIA; // v
        case 0x66: return H.FROM; // f
        case 0x74: return H.TO; // t
        case 0x69: return H.CALLID; // i
        case 0x6d: return H.CONTACT; // m
        case 0x63: return H.CTYPE; // c
        case 0x6c: return H.CLENGTH; // l
      }
      return 0;
    case 2: return eqi(src, a, 'to') ? H.TO : 0;
    case 3: return eqi(src, a, 'via') ? H.VIA : 0;
    case 4: return c === 0x66 ? (eqi(src, a, 'from') ? H.FROM : 0) : eqi(src, a, 'cseq') ? H.CSEQ : 0;
    case 5: return eqi(src, a, 'route') ? H.ROUTE : 0;
    case 7:
      if (c === 0x63) return eqi(src, a, 'call-id') ? H.CALLID : eqi(src, a, 'contact') ? H.CONTACT : 0;
      return eqi(src, a, 'expires') ? H.EXPIRES : 0;
    case 12:
      if (c === 0x6d) return eqi(src, a, 'max-forwards') ? H.MAXFWD : 0;
      if (c === 0x72) return eqi(src, a, 'record-route') ? H.RECORDROUTE : 0;
      return eqi(src, a, 'content-type') ? H.CTYPE : 0;
    case 14: return eqi(src, a, 'content-length') ? H.CLENGTH : 0;
  }
  return 0;
}

/** Compact forms of untyped headers (RFC 3261 §7.3.3 and the IANA registry). */
const COMPACT: Readonly<Record<string, string>> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  j: 'Reject-Contact',
  k: 'Supported',
  n: 'Identity-Info',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  u: 'Allow-Events',
  x: 'Session-Expires',
  y: 'Identity',
};

/** Single-value headers that may appear once only (multi01.dat, mcl01.dat). */
const SINGLE_NAMES: Readonly<Partial<Record<H, string>>> = {
  [H.FROM]: 'From',
  [H.TO]: 'To',
  [H.CALLID]: 'Call-ID',
  [H.CSEQ]: 'CSeq',
  [H.MAXFWD]: 'Max-Forwards',
  [H.EXPIRES]: 'Expires',
  [H.CTYPE]: 'Content-Type',
  [H.CLENGTH]: 'Content-Length',
};

interface Failure {
  readonly failed: true;
  status: number;
  reason: string;
}

function failure(reason: string, status = 400): Failure {
  return { failed: true, status, reason };
}

/** Decimal digits only, no sign; null when empty, not all digits, or above `max`. */
function parseDecimal(text: string, max: number): number | null {
  if (text.length === 0) return null;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return null;
    value = value * 10 + c;
    if (value > max) return null;
  }
  return value;
}

function parseCSeq(text: string): CSeq | null {
  let i = 0;
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
  if (i === 0) return null;
  const seq = parseDecimal(text.slice(0, i), MAX_CSEQ - 1);
  if (seq === null) return null;
  const ws = i;
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  if (i === ws) return null;
  const method = text.slice(i);
  return isToken(method) ? { seq, method } : null;
}

/** Trims SP and HT only: String.prototype.trim would also eat a U+FEFF that is part of a value (intmeth.dat). */
function trimLws(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && (text.charCodeAt(a) === 0x20 || text.charCodeAt(a) === 0x09)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 0x20 || text.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

function hasWhitespace(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) <= 0x20) return true;
  return false;
}

/** Finds the blank line ending the header section: [end of last header line, start of body]. */
function findHeaderEnd(data: Buffer, start: number): [number, number] | null {
  const crlf = data.indexOf(CRLFCRLF, start);
  if (crlf >= 0) return [crlf, crlf + 4];
  // tolerated: bare LF line ends (some embedded stacks)
  let p = data.indexOf(0x0a, start);
  while (p >= 0 && p + 1 < data.length) {
    if (data[p + 1] === 0x0a) return [p, p + 2];
    if (data[p + 1] === 0x0d && data[p + 2] === 0x0a) return [p, p + 3];
    p = data.indexOf(0x0a, p + 1);
  }
  // a datagram whose last header line ends the datagram without the blank line (baddn.dat as
  // shipped): the header section is complete, the body empty
  const n = data.length;
  if (n > start && data[n - 1] === 0x0a) return [data[n - 2] === 0x0d ? n - 2 : n - 1, n];
  return null;
}

/** One datagram, or one message cut out of a stream by `frameStream`. Never throws. */
export function parseMessage(data: Buffer, options?: ParseOptions): ParseResult {
  const maxSize = options?.maxSize ?? DEFAULT_MAX_SIZE;
  try {
    return parse(data, maxSize);
  } catch (err: unknown) {
    // Last resort only: every known malformation is handled as a value above.
    return { ok: false, error: { reason: 'internal error: ' + String(err), errorResponse: null } };
  }
}

function parse(data: Buffer, maxSize: number): ParseResult {
  let start = 0;
  // §7.5: CRLFs before the start line are ignored
  while (start < data.length && (data[start] === 0x0d || data[start] === 0x0a)) start++;
  if (start >= data.length) return reject(data, start, -1, null, failure('empty message'), maxSize);
  const isResponse =
    data.length - start >= 4 && data[start] === 0x53 && data[start + 1] === 0x49 && data[start + 2] === 0x50 && data[start + 3] === 0x2f;
  const ends = findHeaderEnd(data, start);
  if (data.length - start > maxSize) {
    return reject(data, start, ends ? ends[0] : -1, isResponse ? null : requestMethod(data.toString('latin1', start, Math.min(data.length, start + 64))), failure(`message larger than ${maxSize} bytes`, 513), maxSize);
  }
  if (ends === null) {
    return reject(data, start, -1, isResponse ? null : requestMethod(data.toString('latin1', start, Math.min(data.length, start + 64))), failure('no blank line after the header section'), maxSize);
  }
  const [headerEnd, bodyStart] = ends;
  const text = data.toString('utf8', start, headerEnd);
  const result = parseText(data, text, bodyStart, isResponse);
  if ('failed' in result) {
    const method = isResponse ? null : requestMethod(text);
    return reject(data, start, headerEnd, method, result, maxSize);
  }
  return { ok: true, message: result };
}

function requestMethod(text: string): string {
  const sp = text.indexOf(' ');
  return sp > 0 ? text.slice(0, sp) : '';
}

function parseText(data: Buffer, text: string, bodyStart: number, isResponse: boolean): SipMessage | Failure {
  const len = text.length;
  let nl = text.indexOf('\n');
  if (nl < 0) nl = len;
  let lineEnd = nl > 0 && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
  const startLine = text.slice(0, lineEnd);
  if (startLine.indexOf('\r') >= 0) return failure('bare CR in the start line');

  // ---- start line (§7.1, §7.2) ----
  let method = '';
  let uri: Uri | null = null;
  let status = 0;
  let reason = '';
  if (isResponse) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    if (startLine.length < 11 || startLine.slice(0, 8).toUpperCase() !== 'SIP/2.0 ') return failure('bad status line version');
    for (let i = 8; i < 11; i++) {
      const c = startLine.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return failure('bad status code');
    }
    if (startLine.length > 11 && startLine.charCodeAt(11) !== 0x20) return failure('bad status code');
    status = Number(startLine.slice(8, 11));
    if (status < 100 || status > 699) return failure('status code out of range');
    reason = startLine.length > 12 ? startLine.slice(12) : '';
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one space each (lwsstart, trws)
    const sp1 = startLine.indexOf(' ');
    if (sp1 <= 0) return failure('bad request line');
    method = startLine.slice(0, sp1);
    const sp2 = startLine.indexOf(' ', sp1 + 1);
    if (sp2 < 0) return failure('bad request line');
    const version = startLine.slice(sp2 + 1);
    if (version.toUpperCase() !== 'SIP/2.0') {
      if (/^SIP\/[0-9]+\.[0-9]+$/i.test(version)) return failure('SIP version ' + version.slice(4), 505);
      return failure('bad request line');
    }
    if (!isToken(method)) return failure('bad method');
    const uriText = startLine.slice(sp1 + 1, sp2);
    if (uriText.length === 0 || uriText.charCodeAt(0) === 0x3c) return failure('bad Request-URI');
    uri = parseUri(uriText);
    if (uri === null) return failure('bad Request-URI');
    // §19.1.5: headers are meaningless in a Request-URI (escruri.dat)
    if (uri.kind === 'sip' && uri.headers.size > 0) return failure('headers in Request-URI');
  }

  // ---- header fields (§7.3) ----
  const via: Via[] = [];
  let from: NameAddr | null = null;
  let to: NameAddr | null = null;
  let callId: string | null = null;
  let cseq: CSeq | null = null;
  let maxForwards: number | null = null;
  let contact: NameAddr[] | '*' | null = null;
  let route: NameAddr[] = [];
  let recordRoute: NameAddr[] = [];
  let expires: number | null = null;
  let contentType: string | null = null;
  let contentLength: number | null = null;
  const headers: RawHeader[] = [];
  let seen = 0;

  let pos = nl + 1;
  let nextCr = -1;
  while (pos < len) {
    nl = text.indexOf('\n', pos);
    if (nl < 0) nl = len;
    lineEnd = nl > pos && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    let src = text;
    let a = pos;
    let b = lineEnd;
    pos = nl + 1;
    // §7.3.1 line folding: a line starting with SP/HT continues the previous one (rare: slow path)
    if (pos < len && (text.charCodeAt(pos) === 0x20 || text.charCodeAt(pos) === 0x09)) {
      let line = text.slice(a, b);
      while (pos < len && (text.charCodeAt(pos) === 0x20 || text.charCodeAt(pos) === 0x09)) {
        nl = text.indexOf('\n', pos);
        if (nl < 0) nl = len;
        lineEnd = nl > pos && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
        line = trimLws(line) + ' ' + trimLws(text.slice(pos, lineEnd));
        pos = nl + 1;
      }
      src = line;
      a = 0;
      b = line.length;
    }
    if (a === b) return failure('empty line in the header section');
    // CR only ever comes as part of CRLF (§7.3.1); a bare one could split a header downstream
    if (src !== text) {
      if (src.indexOf('\r') >= 0) return failure('bare CR in a header line');
    } else {
      if (nextCr < a) {
        nextCr = text.indexOf('\r', a);
        if (nextCr < 0) nextCr = len + 1;
      }
      if (nextCr < b) return failure('bare CR in a header line');
    }
    // header-name *(SP/HT) ":" — scanned in place, no per-line copy
    let nameEnd = a;
    while (nameEnd < b && isTokenChar(src.charCodeAt(nameEnd))) nameEnd++;
    if (nameEnd === a) return failure('bad header name');
    let colon = nameEnd;
    while (colon < b && (src.charCodeAt(colon) === 0x20 || src.charCodeAt(colon) === 0x09)) colon++;
    if (colon >= b || src.charCodeAt(colon) !== 0x3a) return failure('bad header name or missing colon');
    let v0 = colon + 1;
    let v1 = b;
    while (v0 < v1 && (src.charCodeAt(v0) === 0x20 || src.charCodeAt(v0) === 0x09)) v0++;
    while (v1 > v0 && (src.charCodeAt(v1 - 1) === 0x20 || src.charCodeAt(v1 - 1) === 0x09)) v1--;
    const value = src.slice(v0, v1);
    const kind = classify(src, a, nameEnd - a);
    if (kind === 0) {
      const name = src.slice(a, nameEnd);
      headers.push({ name: name.length === 1 ? (COMPACT[name.toLowerCase()] ?? name) : name, value });
      continue;
    }
    const bit = 1 << kind;
    if ((seen & bit) !== 0 && SINGLE_NAMES[kind] !== undefined) return failure('duplicate ' + SINGLE_NAMES[kind]);
    seen |= bit;
    switch (kind) {
      case H.VIA: {
        const list = parseVia(value);
        if (list === null) return failure('bad Via');
        for (const v of list) via.push(v);
        break;
      }
      case H.FROM:
        from = parseNameAddr(value);
        if (from === null) return failure('bad From');
        break;
      case H.TO:
        to = parseNameAddr(value);
        if (to === null) return failure('bad To');
        break;
      case H.CALLID:
        if (value.length === 0 || hasWhitespace(value)) return failure('bad Call-ID');
        callId = value;
        break;
      case H.CSEQ:
        cseq = parseCSeq(value);
        if (cseq === null) return failure('bad CSeq');
        break;
      case H.MAXFWD:
        maxForwards = parseDecimal(value, 255);
        if (maxForwards === null) return failure('bad Max-Forwards');
        break;
      case H.CONTACT: {
        if (value === '*') {
          if (contact !== null) return failure('Contact * mixed with other contacts');
          contact = '*';
          break;
        }
        if (contact === '*') return failure('Contact * mixed with other contacts');
        const list = parseNameAddrList(value);
        if (list === null) return failure('bad Contact');
        if (contact === null) contact = list;
        else for (const c of list) contact.push(c);
        break;
      }
      case H.ROUTE: {
        const list = parseNameAddrList(value);
        if (list === null) return failure('bad Route');
        route = route.length === 0 ? list : route.concat(list);
        break;
      }
      case H.RECORDROUTE: {
        const list = parseNameAddrList(value);
        if (list === null) return failure('bad Record-Route');
        recordRoute = recordRoute.length === 0 ? list : recordRoute.concat(list);
        break;
      }
      case H.EXPIRES:
        expires = parseDecimal(value, MAX_EXPIRES);
        if (expires === null) return failure('bad Expires');
        break;
      case H.CTYPE: {
        const slash = value.indexOf('/');
        if (slash <= 0 || slash === value.length - 1) return failure('bad Content-Type');
        contentType = value;
        break;
      }
      case H.CLENGTH:
        contentLength = parseDecimal(value, MAX_CONTENT_LENGTH);
        if (contentLength === null) return failure('bad Content-Length');
        break;
    }
  }

  // ---- mandatory headers (§8.1.1, insuf.dat) ----
  if (via.length === 0) return failure('missing Via');
  if (from === null) return failure('missing From');
  if (to === null) return failure('missing To');
  if (callId === null) return failure('missing Call-ID');
  if (cseq === null) return failure('missing CSeq');
  if (!isResponse && cseq.method !== method) return failure('CSeq method differs from the request method');
  if (contact === '*' && (isResponse || method !== 'REGISTER')) return failure('Contact * outside REGISTER');

  // ---- body (§18.3): Content-Length, else the rest of the datagram ----
  const available = data.length - bodyStart;
  let bodyLength = available;
  if (contentLength !== null) {
    if (contentLength > available) return failure('Content-Length larger than the message');
    bodyLength = contentLength; // anything after it is ignored (dblreq.dat)
  }
  const body = bodyLength === 0 ? EMPTY_BODY : Buffer.from(data.subarray(bodyStart, bodyStart + bodyLength));

  // two literal shapes (no spread): V8 keeps each monomorphic for the layers above
  contact ??= [];
  if (isResponse) {
    return { kind: 'response', status, reason, via, from, to, callId, cseq, maxForwards, contact, route, recordRoute, expires, contentType, headers, body };
  }
  return { kind: 'request', method, uri: uri!, via, from, to, callId, cseq, maxForwards, contact, route, recordRoute, expires, contentType, headers, body };
}

// ---- stateless error responses for malformed requests (§8.2.6, RFC 4475 §3.1.2) ---------------

function reject(data: Buffer, start: number, headerEnd: number, method: string | null, fail: Failure, maxSize: number): ParseResult {
  let errorResponse: Buffer | null = null;
  // Responses are dropped (§18.1.2); an ACK is never answered (§17.1.1.3).
  if (method !== null && method !== 'ACK') {
    const end = headerEnd >= 0 ? headerEnd : Math.min(data.length, start + maxSize);
    errorResponse = buildErrorResponse(data.toString('utf8', start, end), fail.status);
  }
  return { ok: false, error: { reason: fail.reason, errorResponse } };
}

function clean(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

/**
 * A lenient second look at the header section: enough of Via, From, To, Call-ID and CSeq to let the
 * client match the answer (§17.1.3 matches on the top Via branch and the CSeq method). Without a Via
 * or a CSeq no answer can be matched, so none is built.
 */
function buildErrorResponse(text: string, status: number): Buffer | null {
  const vias: string[] = [];
  let from: string | null = null;
  let to: string | null = null;
  let callId: string | null = null;
  let cseq: string | null = null;
  const lines = text.split('\n');
  let current: string | null = null;
  const take = (line: string): void => {
    const colon = line.indexOf(':');
    if (colon <= 0) return;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = clean(line.slice(colon + 1));
    const kind = TYPED.get(name);
    if (kind === H.VIA) vias.push(value);
    else if (kind === H.FROM) from ??= value;
    else if (kind === H.TO) to ??= value;
    else if (kind === H.CALLID) callId ??= value;
    else if (kind === H.CSEQ) cseq ??= value;
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.length > 0 && (line[0] === ' ' || line[0] === '\t') && current !== null) {
      current += ' ' + line.trim();
      continue;
    }
    if (current !== null) take(current);
    current = line;
  }
  if (current !== null) take(current);
  if (vias.length === 0 || vias[0]!.length === 0 || cseq === null || (cseq as string).length === 0) return null;
  let head = 'SIP/2.0 ' + status + ' ' + reasonPhrase(status) + '\r\n';
  for (const v of vias) head += 'Via: ' + v + '\r\n';
  if (from !== null) head += 'From: ' + from + '\r\n';
  if (to !== null) {
    let toValue: string = to;
    const parsed = parseNameAddr(toValue);
    // §8.2.6.2: the UAS adds a To tag; a To we cannot read is echoed as it came
    if (parsed !== null && !parsed.params.has('tag')) toValue += ';tag=' + newTag();
    head += 'To: ' + toValue + '\r\n';
  }
  if (callId !== null) head += 'Call-ID: ' + callId + '\r\n';
  head += 'CSeq: ' + cseq + '\r\n';
  head += 'Content-Length: 0\r\n\r\n';
  return Buffer.from(head, 'utf8');
}
