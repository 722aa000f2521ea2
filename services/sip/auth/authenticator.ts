/**
 * The one place a SIP request is authenticated (RFC 3261 §22.2 for the registrar's 401 /
 * WWW-Authenticate, §22.3 for the proxy-style 407 / Proxy-Authenticate the B2BUA uses on INVITE).
 *
 * Policy (written down because it is security):
 * - The realm is the box's (config), never taken from the request; credentials for any other realm
 *   are a failure.
 * - No enumeration (Asterisk `alwaysauthreject=yes` behaviour): an unknown user and a wrong password
 *   get the same answer — a fresh 401/407 challenge built by the same code path with the same
 *   headers — and cost the same work (an unknown user is checked against a dummy secret). We
 *   answer a failure with a new challenge rather than 403 so a phone with a wrong secret looks
 *   exactly like a phone that has not yet answered one.
 * - Each challenge offers SHA-256 first, then MD5 (RFC 8760 §2.4), both with qop="auth"; answers
 *   without qop (RFC 2069 phones) are accepted once per nonce.
 * - A correct answer with an expired/unknown nonce (e.g. after a reboot) or a replayed nc gets a
 *   challenge with `stale=true` and is not counted as a failure; a wrong answer is counted by the
 *   blocker whatever the nonce.
 * - Requests from a blocked source are dropped without an answer.
 * - The digest `uri` is not compared with the Request-URI: phones and SIPp disagree on its form,
 *   and the response hash already binds it; the method is bound through A2.
 */
import type { Logger } from '../../log.js';
import type { Extension, ExtensionRepository } from '../../store/types.js';
import { getHeaders } from '../message.js';
import type { ServerTransaction } from '../types.js';
import type { Blocker } from '../security/blocker.js';
import {
  computeHa1,
  computeResponse,
  DIGEST_ALGORITHMS,
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
export type AuthOutcome = { ok: true; extension: Extension } | { ok: false };

/** Why a request was not authenticated: for logs and tests, never sent to the network. */
export type AuthFailure =
  | 'blocked'
  | 'no-credentials'
  | 'malformed'
  | 'wrong-realm'
  | 'unsupported'
  | 'bad-credentials'
  | 'stale'
  | 'replay';

export type Verification = { ok: true; extension: Extension } | { ok: false; failure: AuthFailure; identity: string | null };

export interface AuthenticatorOptions {
  realm: string;
  /** `version()` keeps the extension cache exact: a secret changed with pbxctl applies to the next request. */
  extensions: Pick<ExtensionRepository, 'get' | 'version'>;
  nonces: NonceManager;
  blocker: Blocker;
  logger: Logger;
  /**
   * Challenges sent, in order (default SHA-256 then MD5, RFC 8760 §2.4). SIPp 3.6 answers only
   * MD5 and reads the first challenge: put MD5 first (or alone) for SIPp-driven tests and benchmarks.
   */
  algorithms?: readonly DigestAlgorithm[];
}

const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_KEY = 32;

/** An extension as last read, with its HA1 per algorithm (it depends only on user, realm and secret). */
interface CachedExtension {
  extension: Extension | null;
  ha1: Partial<Record<DigestAlgorithm, string>>;
}

const HEADERS: Record<AuthKind, { status: number; credentials: string; challenge: string }> = {
  www: { status: 401, credentials: 'Authorization', challenge: 'WWW-Authenticate' },
  proxy: { status: 407, credentials: 'Proxy-Authorization', challenge: 'Proxy-Authenticate' },
};

/** Failures that count towards a block: the peer claimed an identity and got it wrong. */
const COUNTED: Record<AuthFailure, boolean> = {
  blocked: false,
  'no-credentials': false,
  malformed: true,
  'wrong-realm': true,
  unsupported: true,
  'bad-credentials': true,
  stale: false,
  replay: false,
};

const DUMMY_SECRET = 'x'.repeat(24);

export class Authenticator {
  readonly realm: string;
  readonly #extensions: Pick<ExtensionRepository, 'get' | 'version'>;
  readonly #nonces: NonceManager;
  readonly #blocker: Blocker;
  readonly #logger: Logger;
  readonly #algorithms: readonly DigestAlgorithm[];
  /** Extensions read from the store, valid while the store's extension version stays the same. */
  readonly #cache = new Map<string, CachedExtension>();
  #cacheVersion = -1;

  constructor(options: AuthenticatorOptions) {
    this.realm = options.realm;
    this.#algorithms = options.algorithms ?? DIGEST_ALGORITHMS;
    if (this.#algorithms.length === 0) throw new TypeError('authenticator: at least one digest algorithm');
    this.#extensions = options.extensions;
    this.#nonces = options.nonces;
    this.#blocker = options.blocker;
    this.#logger = options.logger;
  }

  /**
   * Authenticates the transaction's request. On failure it has already answered with a 401
   * (`www`, registrar) or 407 (`proxy`, INVITE and other requests) challenge, or dropped the
   * request silently when the source is blocked.
   */
  authenticate(txn: ServerTransaction, kind: AuthKind): AuthOutcome {
    const verification = this.verify(txn, kind);
    if (verification.ok) return verification;
    if (verification.failure !== 'blocked') this.challenge(txn, kind, verification.failure === 'stale' || verification.failure === 'replay');
    return { ok: false };
  }

  /** Sends a fresh challenge: by default SHA-256 first, then MD5 (RFC 8760 §2.4). */
  challenge(txn: ServerTransaction, kind: AuthKind, stale = false): void {
    const spec = HEADERS[kind];
    const opaque = this.#nonces.opaque;
    // One nonce for every offered algorithm: the phone answers one of them, so replay tracking
    // per nonce is unaffected, and a challenge costs one HMAC.
    const nonce = this.#nonces.issue();
    const headers = this.#algorithms.map((algorithm) => ({
      name: spec.challenge,
      value: formatChallenge({ realm: this.realm, nonce, opaque, algorithm, stale }),
    }));
    txn.respond(spec.status, { headers });
  }

  /** Verifies without answering; updates the blocker's counters. */
  verify(txn: ServerTransaction, kind: AuthKind): Verification {
    const source = txn.source.address;
    if (this.#blocker.isBlocked(source)) return { ok: false, failure: 'blocked', identity: null };
    const result = this.#check(txn, kind);
    if (result.ok) {
      this.#blocker.recordSuccess(source);
      return result;
    }
    const counted = COUNTED[result.failure];
    if (counted) {
      this.#blocker.recordFailure(source, result.identity, result.failure);
    }
    // A failed login (wrong password, unknown user) is what a technician looks for: warn, with who and
    // from where. Missing or stale credentials are the normal first half of a challenge: debug.
    const level = counted ? 'warn' : 'debug';
    this.#logger[level]({ event: 'auth-failure', source, extension: result.identity, failure: result.failure, method: txn.request.method }, 'authentication failed');
    return result;
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
    if (!isDigestAlgorithm(algorithm) || !this.#algorithms.includes(algorithm) || (credentials.qop !== null && credentials.qop !== 'auth')) {
      return { ok: false, failure: 'unsupported', identity };
    }
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
      qop: credentials.qop === null ? null : 'auth',
      nc: credentials.nc,
      cnonce: credentials.cnonce,
    });
    const matches = digestEquals(expected, credentials.response);
    if (extension === null || !matches) return { ok: false, failure: 'bad-credentials', identity };
    const nonce = this.#nonces.check(credentials.nonce);
    if (nonce.kind !== 'valid' || (credentials.opaque !== null && credentials.opaque !== this.#nonces.opaque)) {
      return { ok: false, failure: 'stale', identity };
    }
    if (this.#nonces.use(credentials.nonce, nonce.issuedAt, credentials.ncValue) === 'replay') {
      return { ok: false, failure: 'replay', identity };
    }
    return { ok: true, extension };
  }
}
