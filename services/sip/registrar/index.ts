/**
 * Wiring of the registration subsystem: nonces → authenticator → location → registrar →
 * keepalive, from the runtime configuration, around one access policy (blocks, failures, known
 * phones) that the pbx process builds before the stack (`createAccessPolicy`) so transport
 * admission and the authenticator share it. The B2BUA uses `authenticator` (407 on INVITE) and
 * `registrar.lookup`.
 */
import type { Logger } from '../../log.js';
import { Authenticator } from '../auth/authenticator.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import { NonceManager } from '../auth/nonce.js';
import { AccessPolicy, claimedExtension } from '../security/access-policy.js';
import type { SipRequest } from '../message.js';
import type { SipStores } from '../stores.js';
import type { Endpoint, TransactionLayer, TransportKind } from '../types.js';
import { Keepalive } from './keepalive.js';
import { MemoryLocation } from './location.js';
import { Registrar } from './registrar.js';

export { Authenticator, DEFAULT_CHALLENGE_ALGORITHMS, type AuthKind, type AuthOutcome } from '../auth/authenticator.js';
export { NonceManager } from '../auth/nonce.js';
export { DIGEST_ALGORITHMS, type DigestAlgorithm } from '../auth/digest.js';
export { AccessPolicy, EVERY_EXTENSION, claimedExtension } from '../security/access-policy.js';
export { Keepalive } from './keepalive.js';
export { MemoryLocation } from './location.js';
export { Registrar, type RegistrarEvents, type RegistrationStatus } from './registrar.js';
export type { Binding } from './location.js';

/** RuntimeConfig.auth. */
export interface AuthLimits {
  maxFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

/** The one access policy of a process: build it before the stack, give `admit` to the stack. */
export function createAccessPolicy(options: { store: Pick<SipStores, 'authBlocks' | 'knownDevices'>; auth: AuthLimits; logger: Logger }): AccessPolicy {
  return new AccessPolicy({ blocks: options.store.authBlocks, known: options.store.knownDevices, ...options.auth, logger: options.logger });
}

/** Transport admission over an access policy (SipStackOptions.admit). */
export function admissionOf(access: AccessPolicy): (request: SipRequest, source: Endpoint) => boolean {
  return (request, source) => access.admit(source.address, claimedExtension(request));
}

export interface RegistrationServiceOptions {
  /** Credentials, bindings, blocks and known phones (the SQLite store fits). */
  store: SipStores;
  /** RuntimeConfig.realm: fixed by the box. */
  realm: string;
  /** RuntimeConfig.registrar. */
  registrar: { minExpires: number; maxExpires: number; defaultExpires: number; maxContactsPerAor?: number };
  /** The process's access policy (built before the stack); built from `auth` when absent. */
  access?: AccessPolicy;
  /** RuntimeConfig.auth, used when `access` is absent. */
  auth?: AuthLimits;
  transactions: Pick<TransactionLayer, 'sendRequest'>;
  localEndpoint(transport: TransportKind): { address: string; port: number };
  /** OPTIONS keepalive; false disables it. Defaults: every 30 s, unreachable after 3 timeouts. */
  keepalive?: { intervalSeconds?: number; maxFailures?: number } | false;
  /** Default 30 s. */
  nonceLifetimeMs?: number;
  /** Challenges offered (default MD5 alone; see AuthenticatorOptions.algorithms). */
  digestAlgorithms?: readonly DigestAlgorithm[];
  logger: Logger;
}

export interface RegistrationService {
  readonly nonces: NonceManager;
  readonly access: AccessPolicy;
  readonly authenticator: Authenticator;
  readonly registrar: Registrar;
  readonly keepalive: Keepalive | null;
  /** Stops the timers and flushes bindings; the store and stack stay open (their owners close them). */
  close(): void;
}

const DEFAULT_AUTH: AuthLimits = { maxFailures: 5, windowSeconds: 60, blockSeconds: 600 };

export function createRegistrationService(options: RegistrationServiceOptions): RegistrationService {
  const logger = options.logger;
  const nonces = new NonceManager(options.nonceLifetimeMs === undefined ? {} : { lifetimeMs: options.nonceLifetimeMs });
  const access =
    options.access ?? createAccessPolicy({ store: options.store, auth: options.auth ?? DEFAULT_AUTH, logger: logger.child({ module: 'access' }) });
  const authenticator = new Authenticator({
    realm: options.realm,
    extensions: options.store.extensions,
    nonces,
    access,
    logger: logger.child({ module: 'auth' }),
    ...(options.digestAlgorithms !== undefined && { algorithms: options.digestAlgorithms }),
  });
  const location = new MemoryLocation({ store: options.store, logger: logger.child({ module: 'location' }) });
  const registrar = new Registrar({
    location,
    authenticator,
    ...options.registrar,
    logger: logger.child({ module: 'registrar' }),
  });
  registrar.start();
  let keepalive: Keepalive | null = null;
  if (options.keepalive !== false) {
    keepalive = new Keepalive({
      registrar,
      transactions: options.transactions,
      localEndpoint: options.localEndpoint,
      domain: options.realm,
      ...(options.keepalive ?? {}),
      logger: logger.child({ module: 'keepalive' }),
    });
    keepalive.start();
  }
  return {
    nonces,
    access,
    authenticator,
    registrar,
    keepalive,
    close() {
      keepalive?.close();
      authenticator.close();
      registrar.close();
      access.close();
    },
  };
}
