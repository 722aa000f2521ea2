/**
 * URI, name-addr and Via parsing (RFC 3261 §19.1, §20.10, §20.42, §25.1) and their formatting.
 *
 * Every function takes one header value (already unfolded, trimmed) and returns a typed value or
 * null: a null is a syntax error the caller turns into 400 (request) or a drop (response). The
 * scanners walk the string once with charCodeAt and lookup tables: this is the registrar's hot path.
 */
import type { NameAddr, Params, SipUri, Uri, Via } from './message.js';

// ---- character classes (RFC 3261 §25.1) -------------------------------------------------------

const enum C {
  TOKEN = 1, // token
  HOST = 2, // hostname / IPv4 characters (with '_' tolerated, seen in container host names)
  SCHEME = 4, // scheme characters after the first ALPHA
  PARAMVAL = 8, // gen-value as token / host / unbracketed IPv6 (RFC 3261 `received`)
  URICHAR = 16, // any character allowed inside a URI: printable ASCII minus space, < > " and \
  DIGIT = 32,
}

const CLASS = new Uint8Array(128);
function mark(chars: string, bit: number): void {
  for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)]! |= bit;
}
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
mark(ALNUM + "-.!%*_+`'~", C.TOKEN);
mark(ALNUM + '-._', C.HOST);
mark(ALNUM + '+-.', C.SCHEME);
mark(ALNUM + "-.!%*_+`'~:[]", C.PARAMVAL);
mark('0123456789', C.DIGIT);
for (let c = 0x21; c < 0x7f; c++) {
  if (c !== 0x3c && c !== 0x3e && c !== 0x22 && c !== 0x5c) CLASS[c]! |= C.URICHAR;
}

function is(code: number, bit: number): boolean {
  return code < 128 && (CLASS[code]! & bit) !== 0;
}

export function isTokenChar(code: number): boolean {
  return code < 128 && (CLASS[code]! & C.TOKEN) !== 0;
}

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

function isWs(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function skipWs(text: string, pos: number): number {
  while (pos < text.length && isWs(text.charCodeAt(pos))) pos++;
  return pos;
}

/** End (exclusive) of the quoted-string starting at `pos` (a '"'), or -1 when unterminated. */
export function quotedStringEnd(text: string, pos: number): number {
  for (let i = pos + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      // quoted-pair: any octet but CR and LF (§25.1)
      i++;
      if (i >= text.length) return -1;
      const e = text.charCodeAt(i);
      if (e === 0x0d || e === 0x0a) return -1;
    } else if (c === 0x22) {
      return i + 1;
    }
  }
  return -1;
}

function unquote(text: string, start: number, end: number): string {
  // text[start] and text[end-1] are the quotes
  const inner = text.slice(start + 1, end - 1);
  if (inner.indexOf('\\') < 0) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '\\' && i + 1 < inner.length) {
      out += inner[i + 1];
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

// ---- URI (§19.1) -------------------------------------------------------------------------------

/** A sip:, sips: or other absolute URI; null when malformed. No whitespace or <> allowed. */
export function parseUri(text: string): Uri | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const first = text.charCodeAt(0);
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return null;
  for (let i = 1; i < colon; i++) if (!is(text.charCodeAt(i), C.SCHEME)) return null;
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, colon + 1, scheme === 'sips');
  if (colon + 1 >= text.length) return null;
  for (let i = colon + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // opaque / hier part: anything visible but space, <, >, " ; UTF-8 tolerated
    if (c < 0x21 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22) return null;
  }
  return { kind: 'absolute', scheme, raw: text };
}

function parseSipUri(text: string, start: number, secure: boolean): SipUri | null {
  const end = text.length;
  let user: string | null = null;
  let password: string | null = null;
  let hostStart = start;
  // userinfo may hold ; ? , / (intmeth.dat, semiuri.dat) but never an unescaped '@'
  const at = text.indexOf('@', start);
  if (at >= 0) {
    if (at === start) return null;
    for (let i = start; i < at; i++) if (!is(text.charCodeAt(i), C.URICHAR)) return null;
    const pc = text.indexOf(':', start);
    if (pc >= 0 && pc < at) {
      if (pc === start) return null;
      user = text.slice(start, pc);
      password = text.slice(pc + 1, at);
    } else {
      user = text.slice(start, at);
    }
    hostStart = at + 1;
  }
  let pos = hostStart;
  let host: string;
  if (text.charCodeAt(pos) === 0x5b) {
    const close = text.indexOf(']', pos);
    if (close < 0 || close === pos + 1) return null;
    for (let i = pos + 1; i < close; i++) {
      const c = text.charCodeAt(i);
      if (!((c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2e)) return null;
    }
    pos = close + 1;
    host = text.slice(hostStart, pos).toLowerCase();
  } else {
    while (pos < end && is(text.charCodeAt(pos), C.HOST)) pos++;
    if (pos === hostStart) return null;
    host = text.slice(hostStart, pos).toLowerCase();
  }
  let port: number | null = null;
  if (pos < end && text.charCodeAt(pos) === 0x3a) {
    pos++;
    const p0 = pos;
    let value = 0;
    while (pos < end && is(text.charCodeAt(pos), C.DIGIT)) {
      value = value * 10 + (text.charCodeAt(pos) - 0x30);
      pos++;
      if (pos - p0 > 5) return null;
    }
    if (pos === p0 || value > 65535) return null;
    port = value;
  }
  const params: Params = new Map();
  while (pos < end && text.charCodeAt(pos) === 0x3b) {
    pos++;
    const nameStart = pos;
    let eq = -1;
    while (pos < end) {
      const c = text.charCodeAt(pos);
      if (c === 0x3b || c === 0x3f) break;
      if (!is(c, C.URICHAR)) return null;
      if (c === 0x3d && eq < 0) eq = pos;
      pos++;
    }
    if (eq === nameStart || pos === nameStart) return null;
    if (eq < 0) params.set(text.slice(nameStart, pos).toLowerCase(), null);
    else params.set(text.slice(nameStart, eq).toLowerCase(), text.slice(eq + 1, pos));
  }
  const headers = new Map<string, string>();
  if (pos < end && text.charCodeAt(pos) === 0x3f) {
    pos++;
    while (pos <= end) {
      let amp = text.indexOf('&', pos);
      if (amp < 0) amp = end;
      const eq = text.indexOf('=', pos);
      if (eq < 0 || eq >= amp || eq === pos) return null;
      for (let i = pos; i < amp; i++) if (!is(text.charCodeAt(i), C.URICHAR)) return null;
      headers.set(text.slice(pos, eq), text.slice(eq + 1, amp));
      pos = amp + 1;
    }
  } else if (pos !== end) {
    return null;
  }
  return { kind: 'sip', secure, user, password, host, port, params, headers };
}

// ---- generic parameters (§25.1 generic-param, with SWS around ; and =) ------------------------

/**
 * Reads `*( SEMI generic-param )` from `pos` to the end of `text` into `params`. Quoted values keep
 * their quotes, as received. Returns false on a syntax error (empty name, junk, unterminated quote).
 */
export function parseParams(text: string, pos: number, params: Params): boolean {
  const end = text.length;
  for (;;) {
    pos = skipWs(text, pos);
    if (pos >= end) return true;
    if (text.charCodeAt(pos) !== 0x3b) return false;
    pos = skipWs(text, pos + 1);
    const nameStart = pos;
    while (pos < end && isTokenChar(text.charCodeAt(pos))) pos++;
    if (pos === nameStart) return false;
    const name = text.slice(nameStart, pos).toLowerCase();
    const afterName = skipWs(text, pos);
    if (afterName < end && text.charCodeAt(afterName) === 0x3d) {
      pos = skipWs(text, afterName + 1);
      if (pos >= end) return false;
      const valueStart = pos;
      if (text.charCodeAt(pos) === 0x22) {
        pos = quotedStringEnd(text, pos);
        if (pos < 0) return false;
      } else {
        while (pos < end && is(text.charCodeAt(pos), C.PARAMVAL)) pos++;
        if (pos === valueStart) return false;
      }
      params.set(name, text.slice(valueStart, pos));
    } else {
      params.set(name, null);
      pos = afterName;
    }
  }
}

// ---- name-addr / addr-spec (§20.10, §25.1) -----------------------------------------------------

/** One `name-addr / addr-spec *(SEMI param)` value (From, To, one Contact or Route entry). */
export function parseNameAddr(text: string): NameAddr | null {
  const end = text.length;
  let pos = skipWs(text, 0);
  if (pos >= end) return null;
  let displayName: string | null = null;
  let uriStart: number;
  let uriEnd: number;
  let after: number;
  const first = text.charCodeAt(pos);
  let angle = -1;
  if (first === 0x22) {
    const q = quotedStringEnd(text, pos);
    if (q < 0) return null;
    displayName = unquote(text, pos, q);
    angle = skipWs(text, q);
    if (angle >= end || text.charCodeAt(angle) !== 0x3c) return null;
  } else if (first === 0x3c) {
    angle = pos;
  } else {
    // a display name is *(token LWS); anything else (':' first) means an addr-spec. UTF-8 letters
    // are tolerated unquoted (phones send `José <sip:…>`); ASCII non-token characters are not (baddn.dat)
    let i = pos;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (!isTokenChar(c) && !isWs(c) && c < 0x80) break;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x3c) {
      angle = i;
      displayName = text.slice(pos, i).trim().replace(/[ \t]+/g, ' ');
    }
  }
  if (angle >= 0) {
    uriStart = angle + 1;
    uriEnd = text.indexOf('>', uriStart);
    if (uriEnd < 0) return null;
    after = uriEnd + 1;
  } else {
    // addr-spec: the URI may not hold ; , ? (§20.10): it ends at the first ';' or whitespace
    uriStart = pos;
    let i = pos;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === 0x3b || isWs(c)) break;
      if (c === 0x3f || c === 0x2c) return null;
      i++;
    }
    uriEnd = i;
    after = i;
  }
  const uri = parseUri(text.slice(uriStart, uriEnd));
  if (uri === null) return null;
  const params: Params = new Map();
  if (!parseParams(text, after, params)) return null;
  return { displayName, uri, params };
}

/**
 * Splits a comma-separated header value at top-level commas (outside quotes and <>). Returns null
 * when an element is empty or a quote / angle bracket is unbalanced.
 */
export function splitList(text: string): string[] | null {
  if (text.indexOf(',') < 0) return text.length > 0 ? [text] : null;
  const out: string[] = [];
  let start = 0;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const q = quotedStringEnd(text, i);
      if (q < 0) return null;
      i = q - 1;
    } else if (c === 0x3c) {
      if (angle) return null;
      angle = true;
    } else if (c === 0x3e) {
      angle = false;
    } else if (c === 0x2c && !angle) {
      const item = text.slice(start, i).trim();
      if (item.length === 0) return null;
      out.push(item);
      start = i + 1;
    }
  }
  if (angle) return null;
  const last = text.slice(start).trim();
  if (last.length === 0) return null;
  out.push(last);
  return out;
}

/** A comma-separated list of name-addr values (Contact, Route, Record-Route). */
export function parseNameAddrList(text: string): NameAddr[] | null {
  const items = splitList(text);
  if (items === null) return null;
  const out: NameAddr[] = [];
  for (const item of items) {
    const value = parseNameAddr(item);
    if (value === null) return null;
    out.push(value);
  }
  return out;
}

// ---- Via (§20.42) ------------------------------------------------------------------------------

function parseOneVia(text: string): Via | null {
  const end = text.length;
  let pos = skipWs(text, 0);
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS
  let s = pos;
  while (pos < end && isTokenChar(text.charCodeAt(pos))) pos++;
  if (pos === s || text.slice(s, pos).toUpperCase() !== 'SIP') return null;
  pos = skipWs(text, pos);
  if (text.charCodeAt(pos) !== 0x2f) return null;
  pos = skipWs(text, pos + 1);
  s = pos;
  while (pos < end && isTokenChar(text.charCodeAt(pos))) pos++;
  if (text.slice(s, pos) !== '2.0') return null;
  pos = skipWs(text, pos);
  if (text.charCodeAt(pos) !== 0x2f) return null;
  pos = skipWs(text, pos + 1);
  s = pos;
  while (pos < end && isTokenChar(text.charCodeAt(pos))) pos++;
  if (pos === s) return null;
  const transport = text.slice(s, pos).toUpperCase();
  const ws = pos;
  pos = skipWs(text, pos);
  if (pos === ws) return null;
  // sent-by = host [ COLON port ]
  s = pos;
  let host: string;
  if (text.charCodeAt(pos) === 0x5b) {
    const close = text.indexOf(']', pos);
    if (close < 0) return null;
    for (let i = pos + 1; i < close; i++) {
      const c = text.charCodeAt(i);
      if (!((c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2e)) return null;
    }
    pos = close + 1;
  } else {
    while (pos < end && is(text.charCodeAt(pos), C.HOST)) pos++;
  }
  if (pos === s) return null;
  host = text.slice(s, pos).toLowerCase();
  let port: number | null = null;
  const p = skipWs(text, pos);
  if (p < end && text.charCodeAt(p) === 0x3a) {
    pos = skipWs(text, p + 1);
    const p0 = pos;
    let value = 0;
    while (pos < end && is(text.charCodeAt(pos), C.DIGIT)) {
      value = value * 10 + (text.charCodeAt(pos) - 0x30);
      pos++;
      if (pos - p0 > 5) return null;
    }
    if (pos === p0 || value > 65535) return null;
    port = value;
  }
  const params: Params = new Map();
  if (!parseParams(text, pos, params)) return null;
  return { transport, host, port, params };
}

/** One Via header value: one or more comma-separated via-parms. */
export function parseVia(text: string): Via[] | null {
  const items = splitList(text);
  if (items === null) return null;
  const out: Via[] = [];
  for (const item of items) {
    const via = parseOneVia(item);
    if (via === null) return null;
    out.push(via);
  }
  return out;
}

// ---- formatting (inverse of the above; the serializer re-exports these) -----------------------

function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? ';' + name : ';' + name + '=' + value;
  return out;
}

export function formatUri(uri: Uri): string {
  if (uri.kind === 'absolute') return uri.raw;
  let out = uri.secure ? 'sips:' : 'sip:';
  if (uri.user !== null) {
    out += uri.user;
    if (uri.password !== null) out += ':' + uri.password;
    out += '@';
  }
  out += uri.host;
  if (uri.port !== null) out += ':' + uri.port;
  if (uri.params.size > 0) out += formatParams(uri.params);
  if (uri.headers.size > 0) {
    let sep = '?';
    for (const [name, value] of uri.headers) {
      out += sep + name + '=' + value;
      sep = '&';
    }
  }
  return out;
}

/** A display name as a quoted-string: '"' and '\' and control characters become quoted-pairs. */
function quoteDisplayName(name: string): string {
  let out = '"';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) continue; // cannot be escaped (§25.1 quoted-pair)
    if (c === 0x22 || c === 0x5c || (c < 0x20 && c !== 0x09) || c === 0x7f) out += '\\';
    out += name[i];
  }
  return out + '"';
}

export function formatNameAddr(n: NameAddr): string {
  let out = n.displayName !== null ? quoteDisplayName(n.displayName) + ' <' : '<';
  out += formatUri(n.uri) + '>';
  if (n.params.size > 0) out += formatParams(n.params);
  return out;
}

export function formatVia(v: Via): string {
  let out = 'SIP/2.0/' + v.transport + ' ' + v.host;
  if (v.port !== null) out += ':' + v.port;
  if (v.params.size > 0) out += formatParams(v.params);
  return out;
}
