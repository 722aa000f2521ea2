/**
 * What the SIP side needs from durable storage, declared here and nowhere else: credentials (the
 * authenticator), bindings (the location service), blocks and known phones (the access policy).
 * The SQLite store implements these by shape (services/store, which imports nothing from SIP);
 * the pbx process passes its repositories in. Nothing in SIP imports the store.
 */
import type { TransportKind } from './types.js';

/** What digest authentication needs of an extension. */
export interface SipCredential {
  /** The SIP user name (the extension number). */
  readonly number: string;
  readonly displayName: string;
  /** Digest secret, in clear (HA1 depends on the realm, which only the box knows). */
  readonly secret: string;
}

export interface CredentialStore {
  get(user: string): SipCredential | null;
  /** Changes whenever a credential may have changed: a reader may cache while it stays the same. */
  version(): number;
}

/** One persisted contact binding (RFC 3261 §10.3). */
export interface StoredBinding {
  aor: string;
  contactUri: string;
  instanceId: string | null;
  callId: string;
  cseq: number;
  /** Epoch milliseconds. */
  expiresAt: number;
  q: number | null;
  transport: TransportKind;
  sourceAddress: string;
  sourcePort: number;
  userAgent: string | null;
  /** Epoch milliseconds. */
  registeredAt: number;
}

export interface BindingStore {
  readonly registrations: {
    upsert(binding: StoredBinding): void;
    remove(aor: string, contactUri: string): boolean;
    all(): StoredBinding[];
    purgeExpired(nowMs: number): number;
  };
  /** Runs fn in one storage transaction (a batch of binding writes is all or nothing). */
  transaction<T>(fn: () => T): T;
}

/** A block of one (source address, extension); extension `*` covers every extension. */
export interface AccessBlock {
  source: string;
  extension: string;
  failures: number;
  reason: string;
  /** Epoch milliseconds. */
  blockedUntil: number;
  createdAt: number;
}

export interface BlockStore {
  upsert(block: AccessBlock): void;
  /** Lifts the block of (source, extension), or every block of the source; returns how many. */
  remove(source: string, extension?: string): number;
  /** Blocks with blockedUntil > nowMs. */
  active(nowMs: number): AccessBlock[];
}

/** An extension that authenticated successfully from an address. */
export interface KnownDevice {
  address: string;
  extension: string;
  /** Epoch milliseconds. */
  lastSuccessAt: number;
}

export interface KnownDeviceStore {
  touch(devices: readonly KnownDevice[]): void;
  since(sinceMs: number): KnownDevice[];
  purgeBefore(beforeMs: number): number;
}

/** Everything SIP reads and writes, as the pbx process hands it over (the Store fits it). */
export interface SipStores extends BindingStore {
  readonly extensions: CredentialStore;
  readonly authBlocks: BlockStore;
  readonly knownDevices: KnownDeviceStore;
}
