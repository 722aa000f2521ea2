/**
 * Typed repositories over the SQLite store (the one source of configuration and durable state).
 * Callers never see SQL or rows; they see these values.
 */
import type { Destination } from './destination.js';
import type { CdrRepository } from './cdr.js';

export const LANGUAGES = ['en', 'es', 'fr', 'sv'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface Extension {
  /** Dialable extension number, 2–6 digits (e.g. "101"); also the SIP user name. */
  number: string;
  displayName: string;
  /** SIP digest secret. Kept in clear: phone auto-provisioning must write it into the phone. */
  secret: string;
  /** Voicemail PIN (digits), null until set. */
  voicemailPin: string | null;
  language: Language;
  createdAt: string;
  updatedAt: string;
}

export interface NewExtension {
  number: string;
  displayName: string;
  secret: string;
  voicemailPin?: string | null;
  language?: Language;
}

export type ExtensionPatch = Partial<Pick<Extension, 'displayName' | 'secret' | 'voicemailPin' | 'language'>>;

export type UserRole = 'admin' | 'user';

export interface User {
  id: number;
  /** Login name for the web UI. */
  username: string;
  displayName: string;
  email: string | null;
  role: UserRole;
  language: Language;
  /** The user's own extension, if any. */
  extension: string | null;
  /** The password was printed or set by an admin: the web UI asks for a new one before anything else. */
  mustChangePassword: boolean;
  createdAt: string;
}

export interface NewUser {
  username: string;
  displayName: string;
  email?: string | null;
  role: UserRole;
  language?: Language;
  extension?: string | null;
  /** Clear password; stored as a scrypt hash. */
  password: string;
  mustChangePassword?: boolean;
}

export type UserPatch = Partial<Pick<User, 'displayName' | 'email' | 'role' | 'language' | 'extension'>>;

/** SIP transports a binding may have come over (the store keeps its own list: it imports no SIP). */
export type BindingTransport = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

/** One contact bound to an address of record (RFC 3261 §10.3), as persisted. */
export interface Registration {
  /** The extension number the contact is bound to. */
  aor: string;
  /** Contact URI as the phone sent it (with its URI parameters). */
  contactUri: string;
  /** +sip.instance (RFC 5626), when the phone sent one. */
  instanceId: string | null;
  callId: string;
  cseq: number;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** q-value 0..1, null when absent. */
  q: number | null;
  /** Where the REGISTER came from: requests to this contact go there (NAT, RFC 3581). */
  transport: BindingTransport;
  sourceAddress: string;
  sourcePort: number;
  userAgent: string | null;
  /** Epoch milliseconds. */
  registeredAt: number;
}

/** `AuthBlock.extension` of a block that covers every extension (a source guessing at many). */
export const EVERY_EXTENSION = '*';

export interface AuthBlock {
  /** Source IP address that is blocked. */
  source: string;
  /** The extension it may no longer try, or `*` for every extension not known from that source. */
  extension: string;
  failures: number;
  reason: string;
  /** Epoch milliseconds. */
  blockedUntil: number;
  createdAt: number;
}

/** An extension that authenticated successfully from an address (a known phone). */
export interface KnownDevice {
  address: string;
  extension: string;
  /** Epoch milliseconds of the last success recorded. */
  lastSuccessAt: number;
}

export interface ExtensionRepository {
  get(number: string): Extension | null;
  /**
   * Changes whenever an extension may have changed: at once for a write through this repository,
   * within 100 ms for a commit by another connection (pbxctl, another process; SQLite's
   * `PRAGMA data_version`, read at most that often). Cheap, so a reader may cache extensions for as
   * long as it stays the same.
   */
  version(): number;
  list(): Extension[];
  /** Throws StoreError('conflict') when the number exists, StoreError('invalid') on bad fields. */
  add(input: NewExtension): Extension;
  update(number: string, patch: ExtensionPatch): Extension | null;
  remove(number: string): boolean;
}

export interface UserRepository {
  get(id: number): User | null;
  byUsername(username: string): User | null;
  list(): User[];
  add(input: NewUser): User;
  verifyPassword(username: string, password: string): User | null;
  /** `mustChange`: an admin set it, the user must choose their own at next login. */
  setPassword(id: number, password: string, mustChange?: boolean): void;
  update(id: number, patch: UserPatch): User | null;
  remove(id: number): boolean;
}

export interface RegistrationRepository {
  /** Insert or replace the binding (aor, contactUri). */
  upsert(registration: Registration): void;
  remove(aor: string, contactUri: string): boolean;
  removeAor(aor: string): number;
  byAor(aor: string): Registration[];
  all(): Registration[];
  /** Deletes bindings with expiresAt <= nowMs; returns how many. */
  purgeExpired(nowMs: number): number;
}

export interface SettingsRepository {
  /** JSON value stored under key, or the fallback when absent. */
  get<T>(key: string, fallback: T): T;
  set(key: string, value: unknown): void;
}

export interface AuthBlockRepository {
  /** Insert or replace the block (source, extension); the first block time is kept. */
  upsert(block: AuthBlock): void;
  /** Lifts the block of (source, extension), or every block of the source; returns how many. */
  remove(source: string, extension?: string): number;
  /** Blocks with blockedUntil > nowMs, latest end first. */
  active(nowMs: number): AuthBlock[];
}

export interface KnownDeviceRepository {
  /** Records successes (insert or move lastSuccessAt forward), in one transaction. */
  touch(devices: readonly KnownDevice[]): void;
  /** Devices with lastSuccessAt >= sinceMs. */
  since(sinceMs: number): KnownDevice[];
  /** Deletes devices with lastSuccessAt < beforeMs; returns how many. */
  purgeBefore(beforeMs: number): number;
}

/** A phone number of the office (E.164, e.g. "+525512345678") and where its calls go. */
export interface PhoneNumber {
  number: string;
  destination: Destination;
  createdAt: string;
  updatedAt: string;
}

export interface NumberRepository {
  get(e164: string): PhoneNumber | null;
  /** Oldest first (the order pricing counts in). */
  list(): PhoneNumber[];
  /** Throws StoreError('conflict') when the number exists, StoreError('invalid') when it is not E.164. */
  add(e164: string, destination: Destination): PhoneNumber;
  /** Re-points a number; null when it does not exist. */
  setDestination(e164: string, destination: Destination): PhoneNumber | null;
  /** Removes the number (an extension's direct number pointing at it is cleared). */
  remove(e164: string): boolean;
}

export const TRUNK_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type TrunkTransport = (typeof TRUNK_TRANSPORTS)[number];

/** A carrier trunk: registration-based when it has a username, else an IP-authenticated peer. */
export interface Trunk {
  name: string;
  /** Host name or IP address of the carrier. */
  host: string;
  /** null: the transport's default port (5060, 5061 for TLS). */
  port: number | null;
  transport: TrunkTransport;
  username: string | null;
  /** Digest secret; kept in clear because it is sent to the carrier (like an extension's secret). */
  secret: string | null;
  /** Most simultaneous calls through this trunk; null: unlimited. */
  maxCalls: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewTrunk {
  name: string;
  host: string;
  port?: number | null;
  transport?: TrunkTransport;
  username?: string | null;
  secret?: string | null;
  maxCalls?: number | null;
}

export interface TrunkRepository {
  get(name: string): Trunk | null;
  list(): Trunk[];
  add(input: NewTrunk): Trunk;
  remove(name: string): boolean;
}

/** Routing settings of one extension (defaults when never set: no direct number, no international). */
export interface ExtensionRouting {
  extension: string;
  /** The user's direct number (DID), E.164; also the caller ID of the user's outside calls. */
  directNumber: string | null;
  /** International and premium-rate destinations allowed (toll fraud: off by default). */
  international: boolean;
}

export interface ExtensionRoutingRepository {
  /** The extension's settings, defaults when none stored; null when the extension does not exist. */
  get(extension: string): ExtensionRouting | null;
  list(): ExtensionRouting[];
  /** Throws StoreError('not-found') for an unknown extension, ('conflict') when the number is another user's. */
  set(extension: string, patch: Partial<Omit<ExtensionRouting, 'extension'>>): ExtensionRouting;
}

export interface Store {
  readonly path: string;
  readonly numbers: NumberRepository;
  readonly trunks: TrunkRepository;
  readonly extensionRouting: ExtensionRoutingRepository;
  readonly extensions: ExtensionRepository;
  readonly users: UserRepository;
  readonly registrations: RegistrationRepository;
  readonly settings: SettingsRepository;
  readonly authBlocks: AuthBlockRepository;
  readonly knownDevices: KnownDeviceRepository;
  /** Call detail records and the dialogs of answered calls (services/store/cdr.ts). */
  readonly cdr: CdrRepository;
  /** Copies the WAL into the main file and truncates it (SQLite checkpoint); busy: readers kept it from finishing. */
  checkpoint(): { busy: boolean; walPages: number; checkpointed: number };
  /** A consistent copy of the live database at `file`, by SQLite's online backup API (never a file copy). */
  backup(file: string): Promise<void>;
  /** False when the file at `path` is no longer the one opened (deleted, or replaced by another). */
  isSameFile(): boolean;
  /** Browser sessions of the web UI (services/store/web-sessions.ts). */
  readonly webSessions: import('./web-sessions.js').WebSessionRepository;
  /** Number porting requests, their history and outbox (services/store/porting.ts). */
  readonly porting: import('./porting.js').PortingRepository;
  /** Ring groups, receptionists, conference room settings (issue 16, services/store/routing.ts). */
  readonly routing: import('./routing.js').RoutingRepositories;
  /** Forwarding, call waiting, do not disturb, caller ID blocking per user (services/store/user-features.ts). */
  readonly userFeatures: import('./user-features-schema.js').UserFeaturesRepository;
  /** Music-on-hold classes and who uses which; transfer settings (issue 17, services/store/in-call-schema.ts). */
  readonly moh: import('./in-call-schema.js').MohRepository;
  /** Voicemail boxes, messages and settings (issue 18, services/store/voicemail.ts). */
  readonly voicemail: import('./voicemail.js').VoicemailRepository;
  /** Mail waiting to go out over SMTP (services/store/mail-outbox.ts, sent by services/mail/). */
  readonly mail: import('./mail-outbox.js').MailOutboxRepository;
  /** SQLite's `PRAGMA integrity_check`: ['ok'] when the file is sound. */
  integrityCheck(): string[];
  /** Received and queued faxes (issue 18, services/store/fax-schema.ts). */
  readonly faxes: import('./fax-schema.js').FaxRepository;
  /** Analog ports: FXS extension, country, FXO number, and the analog process's live status (issue 19). */
  readonly analog: import('./analog-schema.js').AnalogRepository;
  /** Runs fn in one SQLite transaction, holding the write lock from its start (BEGIN IMMEDIATE). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export type StoreErrorCode = 'conflict' | 'invalid' | 'not-found' | 'schema';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
