/**
 * HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 7616, RFC 8760 for SHA-256 in SIP; RFC 2069 style
 * without qop for old phones). Pure functions: parse a credentials header, compute a response,
 * format a challenge. Nonce policy lives in `nonce.ts`, the decision in `authenticator.ts`.
 */
import { hash, timingSafeEqual } from 'node:crypto';

/** The algorithms the box offers and accepts (RFC 8760 §2). The -sess variants are not offered. */
export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

const HASH_OF: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

/** A `Digest` Authorization / Proxy-Authorization header, parsed (RFC 7616 §3.4). */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** Upper-cased as received; absent means MD5 (RFC 7616 §3.3). */
  algorithm: string;
  /** 'auth' or null for the RFC 2069 form; anything else is kept to be refused. */
  qop: string | null;
  /** nc as received (8 hex digits) and its value; null without qop. */
  nc: string | null;
  ncValue: number | null;
  cnonce: string | null;
  opaque: string | null;
}

export type CredentialsParse =
  | { kind: 'digest'; credentials: DigestCredentials }
  /** Another scheme (RFC 4475 §3.3.7 regaut01): the server challenges as if none were sent. */
  | { kind: 'other-scheme'; scheme: string }
  | { kind: 'malformed'; reason: string };

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'MD5' || value === 'SHA-256';
}

/**
 * Splits `auth-param *(COMMA auth-param)` (RFC 7235 §2.1) into lower-cased names and unquoted
 * values. Returns null on a syntax error; never throws.
 */
export function parseAuthParams(text: string): Map<string, string> | null {
  const params = new Map<string, string>();
  const n = text.length;
  let i = skipLws(text, 0);
  while (i < n) {
    const eq = text.indexOf('=', i);
    if (eq < 0) return null;
    const name = text.slice(i, eq).trimEnd().toLowerCase();
    if (name === '' || /[\s,"]/.test(name)) return null;
    i = skipLws(text, eq + 1);
    let value: string;
    if (text.charCodeAt(i) === 0x22) {
      // quoted-string (RFC 7230 §3.2.6): the common case has no quoted-pair, so slice directly.
      let end = text.indexOf('"', i + 1);
      const slash = text.indexOf('\\', i + 1);
      if (slash >= 0 && (end < 0 || slash < end)) {
        let out = '';
        let j = i + 1;
        for (; j < n; j++) {
          const c = text[j]!;
          if (c === '\\' && j + 1 < n) out += text[++j];
          else if (c === '"') break;
          else out += c;
        }
        if (j >= n) return null;
        value = out;
        end = j;
      } else {
        if (end < 0) return null;
        value = text.slice(i + 1, end);
      }
      i = end + 1;
    } else {
      const start = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) break;
        i++;
      }
      value = text.slice(start, i);
    }
    // A repeated parameter is ambiguous: refuse rather than guess which one a peer meant.
    if (params.has(name)) return null;
    params.set(name, value);
    i = skipLws(text, i);
    if (i >= n) break;
    if (text.charCodeAt(i) !== 0x2c) return null;
    i = skipLws(text, i + 1);
    if (i < n && text.charCodeAt(i) === 0x2c) return null;
  }
  return params;
}

function skipLws(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i++;
  }
  return i;
}

/** Parses one Authorization / Proxy-Authorization value. */
export function parseCredentials(value: string): CredentialsParse {
  const trimmed = value.trimStart();
  const space = trimmed.search(/[ \t]/);
  const scheme = space < 0 ? trimmed : trimmed.slice(0, space);
  if (scheme.toLowerCase() !== 'digest') return { kind: 'other-scheme', scheme };
  const params = parseAuthParams(space < 0 ? '' : trimmed.slice(space + 1));
  if (params === null) return { kind: 'malformed', reason: 'bad auth-param syntax' };
  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return { kind: 'malformed', reason: 'missing username, realm, nonce, uri or response' };
  }
  const qop = params.get('qop') ?? null;
  const nc = params.get('nc') ?? null;
  const cnonce = params.get('cnonce') ?? null;
  let ncValue: number | null = null;
  if (qop !== null) {
    // RFC 7616 §3.4: with qop, nc (8LHEX) and cnonce are mandatory.
    if (nc === null || cnonce === null || !/^[0-9a-fA-F]{8}$/.test(nc)) {
      return { kind: 'malformed', reason: 'qop without a valid nc or cnonce' };
    }
    ncValue = Number.parseInt(nc, 16);
  }
  return {
    kind: 'digest',
    credentials: {
      username,
      realm,
      nonce,
      uri,
      response: response.toLowerCase(),
      algorithm: (params.get('algorithm') ?? 'MD5').toUpperCase(),
      qop,
      nc,
      ncValue,
      cnonce,
      opaque: params.get('opaque') ?? null,
    },
  };
}

/** One-shot `crypto.hash`: no Hash object per digest (three or four of these per authenticated request). */
function hex(algorithm: DigestAlgorithm, data: string): string {
  return hash(HASH_OF[algorithm], data, 'hex');
}

/** RFC 7616 §3.4.2: HA1 = H(username:realm:password). */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hex(algorithm, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  /** null: RFC 2069 form, response = H(HA1:nonce:HA2). */
  qop: 'auth' | null;
  nc: string | null;
  cnonce: string | null;
}

/** RFC 7616 §3.4.1 (qop=auth) and RFC 2069 (no qop). A2 = method:uri (auth-int is not offered). */
export function computeResponse(input: ResponseInput): string {
  const ha2 = hex(input.algorithm, `${input.method}:${input.uri}`);
  if (input.qop === null) return hex(input.algorithm, `${input.ha1}:${input.nonce}:${ha2}`);
  return hex(input.algorithm, `${input.ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${ha2}`);
}

/** Constant-time comparison of two hex digests (different lengths compare false). */
export function digestEquals(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(received, 'latin1');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export interface ChallengeInput {
  realm: string;
  nonce: string;
  opaque: string;
  algorithm: DigestAlgorithm;
  stale: boolean;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** One WWW-Authenticate / Proxy-Authenticate value (RFC 7616 §3.3); qop="auth" always offered. */
export function formatChallenge(input: ChallengeInput): string {
  const parts = [
    `realm=${quote(input.realm)}`,
    `nonce=${quote(input.nonce)}`,
    `opaque=${quote(input.opaque)}`,
    `algorithm=${input.algorithm}`,
    'qop="auth"',
  ];
  if (input.stale) parts.push('stale=true');
  return `Digest ${parts.join(', ')}`;
}
