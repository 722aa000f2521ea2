/**
 * Digest on the client side (RFC 3261 §22.2, RFC 7616, RFC 8760): our answer to a carrier's 401/407
 * when the box registers a trunk or sends an INVITE through it. Pure: challenge in, header out.
 */
import { randomBytes } from 'node:crypto';
import type { RawHeader, SipResponse } from '../message.js';
import { getHeaders } from '../message.js';
import { computeHa1, computeResponse, isDigestAlgorithm, parseAuthParams, type DigestAlgorithm } from './digest.js';

export interface ClientCredentials {
  username: string;
  password: string;
}

export interface DigestChallenge {
  /** 401 → Authorization, 407 → Proxy-Authorization (§22.2, §22.3). */
  header: 'Authorization' | 'Proxy-Authorization';
  realm: string;
  nonce: string;
  opaque: string | null;
  algorithm: DigestAlgorithm;
  qop: 'auth' | null;
  stale: boolean;
}

/**
 * The first challenge of a 401/407 we can answer: SHA-256 preferred over MD5 when both are offered
 * (RFC 8760 §2.4), qop=auth when offered, else the RFC 2069 form. null when none is usable.
 */
export function readChallenge(response: SipResponse): DigestChallenge | null {
  const [name, header] = response.status === 407 ? ['Proxy-Authenticate', 'Proxy-Authorization' as const] : ['WWW-Authenticate', 'Authorization' as const];
  let best: DigestChallenge | null = null;
  for (const value of getHeaders(response, name)) {
    const trimmed = value.trimStart();
    const space = trimmed.search(/[ \t]/);
    if (space < 0 || trimmed.slice(0, space).toLowerCase() !== 'digest') continue;
    const params = parseAuthParams(trimmed.slice(space + 1));
    const realm = params?.get('realm');
    const nonce = params?.get('nonce');
    if (params === null || realm === undefined || nonce === undefined) continue;
    const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
    if (!isDigestAlgorithm(algorithm)) continue;
    const qops = (params.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
    // A server that offers only auth-int cannot be answered (we do not hash bodies).
    if (params.has('qop') && !qops.includes('auth')) continue;
    const challenge: DigestChallenge = {
      header,
      realm,
      nonce,
      opaque: params.get('opaque') ?? null,
      algorithm,
      qop: qops.includes('auth') ? 'auth' : null,
      stale: (params.get('stale') ?? '').toLowerCase() === 'true',
    };
    if (best === null || (best.algorithm === 'MD5' && algorithm === 'SHA-256')) best = challenge;
  }
  return best;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The Authorization / Proxy-Authorization header answering `challenge` for `method uri`. */
export function authorizationHeader(challenge: DigestChallenge, credentials: ClientCredentials, method: string, uri: string, nc = 1): RawHeader {
  const ha1 = computeHa1(challenge.algorithm, credentials.username, challenge.realm, credentials.password);
  const cnonce = challenge.qop === null ? null : randomBytes(8).toString('hex');
  const ncText = challenge.qop === null ? null : nc.toString(16).padStart(8, '0');
  const response = computeResponse({ algorithm: challenge.algorithm, ha1, method, uri, nonce: challenge.nonce, qop: challenge.qop, nc: ncText, cnonce });
  const parts = [
    `username=${quote(credentials.username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
    `response=${quote(response)}`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (challenge.opaque !== null) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (challenge.qop !== null) parts.push(`qop=auth`, `nc=${ncText}`, `cnonce=${quote(cnonce ?? '')}`);
  return { name: challenge.header, value: `Digest ${parts.join(', ')}` };
}
