/**
 * The one place a SIP request is authenticated (RFC 3261 §22.2 for the registrar's 401 /
 * WWW-Authenticate, §22.3 for the proxy-style 407 / Proxy-Authenticate the B2BUA uses on INVITE).
 *
 * Policy (written down because it is security; docs/security.md):
 * - The realm is the box's (config), never taken from the request; credentials for any other realm
 *   are refused.
 * - No enumeration (Asterisk `alwaysauthreject=yes`): an unknown user and a wrong password get the
 *   same answer, a fresh challenge built by the same code path, and cost the same work (an unknown
 *   user is checked against a dummy secret).
 * - Challenges (docs/decisions.md): by default one MD5 challenge, the way Kamailio and Asterisk
 *   stay compatible with every phone (baresip 1.0 fails when offered MD5 then SHA-256; SIPp reads
 *   only the first). A request whose credentials already used SHA-256 is challenged with SHA-256
 *   only; `algorithms` (config `sip.digestAlgorithms`) lists what is offered otherwise. MD5 and
 *   SHA-256 answers are both accepted.
 * - Strict digest (RFC 7616 §3.4, RFC 3261 §22.4): qop="auth" is always offered, so an answer
 *   without qop is refused (no RFC 2069 downgrade); the digest `uri` must be the Request-URI (else
 *   an on-path attacker could move an authenticated INVITE to another number); the nonce must
 *   carry our HMAC and the opaque must be the one issued to this source address, both checked
 *   before any store access or hashing.
 * - The opaque is an HMAC of the source address: a nonce obtained at one address cannot be used
 *   from a forged source address, so a spoofed flood never makes a guess that counts.
 * - A correct answer with an expired nonce (e.g. after a reboot) or a replayed nc gets a challenge
 *   with `stale=true` and is not counted; a wrong answer is counted by the access policy, which
 *   also decides whether an answer is evaluated at all and how late a failure is answered.
 * - Requests from a blocked (source, extension) are dropped without an answer.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import { getHeaders, type SipRequest } from '../message.js';
import type { ServerTransaction } from '../types.js';
import type { AccessPolicy } from '../security/access-policy.js';
import type { CredentialStore, SipCredential } from '../stores.js';
import { formatUri, parseUri } from '../uri.js';
import {
  computeHa1,
  computeResponse,
  digestEquals,
  formatChallenge,
  isDigestAlgorithm,
  parseCredentials,
  type DigestAlgorithm,
  type DigestCredentials,
} from './digest.js';
import type { NonceManager } from './nonce.js';

export type AuthKind = 'www' | 'proxy';

/** On failure the request has already been answered (challenge) or deliberately dropped (blocked). */
export type AuthOutcome = { ok: true; extension: SipCredential } | { ok: false };

/** Why a request was not authenticated: for logs and tests, never sent to the network. */
export type AuthFailure =
  | 'blocked'
  | 'held'
  | 'no-credentials'
  | 'malformed'
  | 'wrong-realm'
  | 'unsupported'
  | 'no-qop'
  | 'uri-mismatch'
  | 'foreign-nonce'
  | 'foreign-opaque'
  | 'bad-credentials'
  | 'stale'
  | 'replay';

export type Verification = { ok: true; extension: SipCredential } | { ok: false; failure: AuthFailure; identity: string | null };

export interface AuthenticatorOptions {
  realm: string;
  /** `version()` keeps the extension cache exact: a secret changed with pbxctl applies to the next request. */
  extensions: CredentialStore;
  nonces: NonceManager;
  access: AccessPolicy;
  logger: Logger;
  /**
   * Challenges sent to a request without SHA-256 credentials, in order (default MD5 alone; see
   * the policy above). RFC 8760 §2.4 order when several: the preferred one first.
   */
  algorithms?: readonly DigestAlgorithm[];
  /** Bound on late answers waiting at once; beyond it a late answer is dropped (default 2000). */
  maxDelayed?: number;
}

/** The default challenge: MD5 alone (docs/decisions.md). */
export const DEFAULT_CHALLENGE_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5'];

const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_KEY = 32;

/** An extension as last read, with its HA1 per algorithm (it depends only on user, realm and secret). */
interface CachedExtension {
  extension: SipCredential | null;
  ha1: Partial<Record<DigestAlgorithm, string>>;
}

const HEADERS: Record<AuthKind, { status: number; credentials: string; challenge: string }> = {
  www: { status: 401, credentials: 'Authorization', challenge: 'WWW-Authenticate' },
  proxy: { status: 407, credentials: 'Proxy-Authorization', challenge: 'Proxy-Authenticate' },
};

const DUMMY_SECRET = 'x'.repeat(24);

export class Authenticator {
  readonly realm: string;
  readonly #extensions: CredentialStore;
  readonly #nonces: NonceManager;
  readonly #access: AccessPolicy;
  readonly #logger: Logger;
  readonly #algorithms: readonly DigestAlgorithm[];
  readonly #opaqueKey = randomBytes(32);
  readonly #opaques = new Map<string, string>();
  readonly #maxDelayed: number;
  readonly #delayed = new Set<NodeJS.Timeout>();
  /** Extensions read from the store, valid while the store's extension version stays the same. */
  readonly #cache = new Map<string, CachedExtension>();
  #cacheVersion = -1;

  constructor(options: AuthenticatorOptions) {
    this.realm = options.realm;
    this.#algorithms = options.algorithms ?? DEFAULT_CHALLENGE_ALGORITHMS;
    if (this.#algorithms.length === 0) throw new TypeError('authenticator: at least one digest algorithm');
    this.#extensions = options.extensions;
    this.#nonces = options.nonces;
    this.#access = options.access;
    this.#logger = options.logger;
    this.#maxDelayed = options.maxDelayed ?? 2000;
  }

  /**
   * Authenticates the transaction's request. On failure it has already answered with a 401
   * (`www`, registrar) or 407 (`proxy`, INVITE and other requests) challenge, now or a little
   * later, or dropped the request silently when the source is blocked for that extension.
   */
  authenticate(txn: ServerTransaction, kind: AuthKind): AuthOutcome {
    const verification = this.verify(txn, kind);
    if (verification.ok) return { ok: true, extension: verification.extension };
    if (verification.failure === 'blocked') return { ok: false };
    const stale = verification.failure === 'stale' || verification.failure === 'replay' || verification.failure === 'foreign-nonce' || verification.failure === 'foreign-opaque';
    const delayMs = verification.delayMs;
    if (delayMs <= 0) {
      this.challenge(txn, kind, stale);
      return { ok: false };
    }
    if (this.#delayed.size >= this.#maxDelayed) return { ok: false };
    const timer = setTimeout(() => {
      this.#delayed.delete(timer);
      try {
        this.challenge(txn, kind, stale);
      } catch (error) {
        this.#logger.debug({ err: error, callId: txn.request.callId }, 'late challenge not sent');
      }
    }, delayMs);
    this.#delayed.add(timer);
    return { ok: false };
  }

  /** Late answers still waiting (status, tests). */
  get delayedCount(): number {
    return this.#delayed.size;
  }

  /** Cancels late answers (shutdown): their clients retransmit and meet the next process. */
  close(): void {
    for (const timer of this.#delayed) clearTimeout(timer);
    this.#delayed.clear();
  }

  /**
   * Sends a fresh challenge: SHA-256 alone to a request whose credentials used SHA-256, else the
   * configured list (default MD5 alone).
   */
  challenge(txn: ServerTransaction, kind: AuthKind, stale = false): void {
    const spec = HEADERS[kind];
    const opaque = this.opaqueFor(txn.source.address);
    // One nonce for every offered algorithm: the phone answers one of them, so replay tracking
    // per nonce is unaffected, and a challenge costs one HMAC.
    const nonce = this.#nonces.issue();
    const algorithms = this.#usesSha256(txn.request, kind) ? (['SHA-256'] as const) : this.#algorithms;
    const headers = algorithms.map((algorithm) => ({
      name: spec.challenge,
      value: formatChallenge({ realm: this.realm, nonce, opaque, algorithm, stale }),
    }));
    txn.respond(spec.status, { headers });
  }

  /** The opaque issued to a source address: an HMAC of it under a per-boot key (cached, bounded). */
  opaqueFor(address: string): string {
    let opaque = this.#opaques.get(address);
    if (opaque === undefined) {
      opaque = createHmac('sha256', this.#opaqueKey).update(address).digest('base64url').slice(0, 22);
      // A spray of source addresses only ever empties the cache.
      if (this.#opaques.size >= CACHE_MAX_ENTRIES) this.#opaques.clear();
      this.#opaques.set(address, opaque);
    }
    return opaque;
  }

  /** Verifies without answering; updates the access policy's counters. */
  verify(txn: ServerTransaction, kind: AuthKind): Verification & { delayMs: number } {
    const source = txn.source.address;
    const result = this.#check(txn, kind);
    if (result.ok) {
      this.#access.recordSuccess(source, result.extension.number);
      return { ...result, delayMs: 0 };
    }
    let delayMs = 0;
    if (result.failure === 'bad-credentials' && result.identity !== null) {
      delayMs = this.#access.recordFailure(source, result.identity, 'wrong digest');
    } else if (result.failure === 'held') {
      delayMs = this.#access.holdDelayMs;
    }
    // A wrong password is what a technician looks for: warn, with who and from where. Missing, stale or
    // forged credentials are the normal first half of a challenge, or noise: debug.
    const level = result.failure === 'bad-credentials' ? 'warn' : 'debug';
    this.#logger[level]({ event: 'auth-failure', source, extension: result.identity, failure: result.failure, method: txn.request.method }, 'authentication failed');
    return { ...result, delayMs };
  }

  #usesSha256(request: SipRequest, kind: AuthKind): boolean {
    for (const value of getHeaders(request, HEADERS[kind].credentials)) {
      if (/algorithm\s*=\s*"?SHA-256"?(?:[\s,]|$)/i.test(value)) return true;
    }
    return false;
  }

  /**
   * The extension and its HA1 for a user name, from the cache while the store's extension version
   * is unchanged: a repeat caller costs neither a SELECT nor a hash.
   */
  #lookup(user: string): CachedExtension {
    const version = this.#extensions.version();
    if (version !== this.#cacheVersion) {
      this.#cache.clear();
      this.#cacheVersion = version;
    }
    const hit = this.#cache.get(user);
    if (hit !== undefined) return hit;
    const entry: CachedExtension = { extension: this.#extensions.get(user), ha1: {} };
    // Bounded: a spray of invented user names only ever empties the cache.
    if (user.length <= CACHE_MAX_KEY) {
      if (this.#cache.size >= CACHE_MAX_ENTRIES) this.#cache.clear();
      this.#cache.set(user, entry);
    }
    return entry;
  }

  #check(txn: ServerTransaction, kind: AuthKind): Verification {
    const request = txn.request;
    let credentials: DigestCredentials | null = null;
    let sawMalformed = false;
    let sawOtherRealm: string | null = null;
    for (const value of getHeaders(request, HEADERS[kind].credentials)) {
      const parsed = parseCredentials(value);
      if (parsed.kind === 'other-scheme') continue;
      if (parsed.kind === 'malformed') {
        sawMalformed = true;
        continue;
      }
      // RFC 3261 §22.4: several credentials may be present, one per realm; ours is the one to use.
      if (parsed.credentials.realm !== this.realm) {
        sawOtherRealm = parsed.credentials.username;
        continue;
      }
      credentials = parsed.credentials;
      break;
    }
    if (credentials === null) {
      if (sawOtherRealm !== null) return { ok: false, failure: 'wrong-realm', identity: sawOtherRealm };
      if (sawMalformed) return { ok: false, failure: 'malformed', identity: null };
      return { ok: false, failure: 'no-credentials', identity: null };
    }
    const identity = credentials.username;
    const algorithm = credentials.algorithm;
    if (!isDigestAlgorithm(algorithm)) return { ok: false, failure: 'unsupported', identity };
    // RFC 7616 §3.4: qop="auth" was offered, so the answer must use it (no RFC 2069 downgrade).
    if (credentials.qop === null) return { ok: false, failure: 'no-qop', identity };
    if (credentials.qop !== 'auth') return { ok: false, failure: 'unsupported', identity };
    // RFC 3261 §22.4 / RFC 7616 §3.4: the digest binds the Request-URI, not some other URI.
    if (!uriMatches(credentials.uri, request)) return { ok: false, failure: 'uri-mismatch', identity };
    // Ours, and issued to this address, before the store or a hash is touched.
    const nonce = this.#nonces.check(credentials.nonce);
    if (nonce.kind === 'invalid') return { ok: false, failure: 'foreign-nonce', identity };
    if (credentials.opaque === null || !digestEquals(this.opaqueFor(txn.source.address), credentials.opaque)) {
      return { ok: false, failure: 'foreign-opaque', identity };
    }
    const admission = this.#access.beforeGuess(txn.source.address, identity);
    if (admission === 'drop') return { ok: false, failure: 'blocked', identity };
    if (admission === 'hold') return { ok: false, failure: 'held', identity };
    const cached = this.#lookup(identity);
    const extension = cached.extension;
    // An unknown user gets an HA1 of a dummy secret, cached the same way: no timing oracle.
    const ha1 = (cached.ha1[algorithm] ??= computeHa1(algorithm, identity, this.realm, extension?.secret ?? DUMMY_SECRET));
    const expected = computeResponse({
      algorithm,
      ha1,
      method: request.method,
      uri: credentials.uri,
      nonce: credentials.nonce,
      qop: 'auth',
      nc: credentials.nc,
      cnonce: credentials.cnonce,
    });
    const matches = digestEquals(expected, credentials.response);
    if (extension === null || !matches) return { ok: false, failure: 'bad-credentials', identity };
    if (nonce.kind !== 'valid') return { ok: false, failure: 'stale', identity };
    if (this.#nonces.use(credentials.nonce, nonce.issuedAt, credentials.ncValue) === 'replay') {
      return { ok: false, failure: 'replay', identity };
    }
    return { ok: true, extension };
  }
}

/**
 * Does the digest `uri` name the Request-URI? Same text, or the same URI once both are parsed and
 * formatted (host case, parameter name case), as RFC 3261 §19.1.4 compares them.
 */
function uriMatches(digestUri: string, request: SipRequest): boolean {
  const requestUri = formatUri(request.uri);
  if (digestUri === requestUri) return true;
  const parsed = parseUri(digestUri);
  return parsed !== null && formatUri(parsed) === requestUri;
}
