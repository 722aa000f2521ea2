/**
 * Wiring of the registration subsystem: nonces → blocker → authenticator → registrar → keepalive,
 * from the runtime configuration. The pbx process calls `createRegistrationService` once and routes
 * REGISTER to `registrar.handleRegister`; the B2BUA uses `authenticator` (407 on INVITE) and
 * `registrar.lookup`.
 */
import type { Logger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { Authenticator } from '../auth/authenticator.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import { NonceManager } from '../auth/nonce.js';
import { Blocker } from '../security/blocker.js';
import type { TransactionLayer, TransportKind } from '../types.js';
import { Keepalive } from './keepalive.js';
import { Registrar } from './registrar.js';

export { Authenticator, type AuthKind, type AuthOutcome } from '../auth/authenticator.js';
export { NonceManager } from '../auth/nonce.js';
export { DIGEST_ALGORITHMS, type DigestAlgorithm } from '../auth/digest.js';
export { Blocker } from '../security/blocker.js';
export { Keepalive } from './keepalive.js';
export { Registrar, type RegistrarEvents, type RegistrationStatus } from './registrar.js';
export type { Binding } from './location.js';

export interface RegistrationServiceOptions {
  store: Store;
  /** RuntimeConfig.realm: fixed by the box. */
  realm: string;
  /** RuntimeConfig.registrar. */
  registrar: { minExpires: number; maxExpires: number; defaultExpires: number; maxContactsPerAor?: number };
  /** RuntimeConfig.auth. */
  auth: { maxFailures: number; windowSeconds: number; blockSeconds: number };
  transactions: Pick<TransactionLayer, 'sendRequest'>;
  localEndpoint(transport: TransportKind): { address: string; port: number };
  /** OPTIONS keepalive; false disables it. Defaults: every 30 s, unreachable after 3 timeouts. */
  keepalive?: { intervalSeconds?: number; maxFailures?: number } | false;
  /** Default 30 s. */
  nonceLifetimeMs?: number;
  /** Challenge order; default SHA-256 then MD5 (see AuthenticatorOptions.algorithms). */
  digestAlgorithms?: readonly DigestAlgorithm[];
  logger: Logger;
}

export interface RegistrationService {
  readonly nonces: NonceManager;
  readonly blocker: Blocker;
  readonly authenticator: Authenticator;
  readonly registrar: Registrar;
  readonly keepalive: Keepalive | null;
  /** Stops the timers and flushes bindings; the store and stack stay open (their owners close them). */
  close(): void;
}

export function createRegistrationService(options: RegistrationServiceOptions): RegistrationService {
  const logger = options.logger;
  const nonces = new NonceManager(options.nonceLifetimeMs === undefined ? {} : { lifetimeMs: options.nonceLifetimeMs });
  const blocker = new Blocker({ repository: options.store.authBlocks, ...options.auth, logger: logger.child({ module: 'blocker' }) });
  const authenticator = new Authenticator({
    realm: options.realm,
    extensions: options.store.extensions,
    nonces,
    blocker,
    logger: logger.child({ module: 'auth' }),
    ...(options.digestAlgorithms !== undefined && { algorithms: options.digestAlgorithms }),
  });
  const registrar = new Registrar({
    store: options.store,
    authenticator,
    ...options.registrar,
    logger: logger.child({ module: 'registrar' }),
  });
  blocker.setExemption((source) => registrar.hasBindingFrom(source));
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
    blocker,
    authenticator,
    registrar,
    keepalive,
    close() {
      keepalive?.close();
      registrar.close();
    },
  };
}
