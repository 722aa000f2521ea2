/**
 * Typed repositories over the SQLite store (the one source of configuration and durable state).
 * Callers never see SQL or rows; they see these values.
 */
import type { TransportKind } from '../sip/types.js';

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
}

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
  transport: TransportKind;
  sourceAddress: string;
  sourcePort: number;
  userAgent: string | null;
  /** Epoch milliseconds. */
  registeredAt: number;
}

export interface AuthBlock {
  /** Source IP address that is blocked. */
  source: string;
  /** Extension/user name that failed most recently (for the admin's eyes), null if none was given. */
  identity: string | null;
  failures: number;
  reason: string;
  /** Epoch milliseconds. */
  blockedUntil: number;
  createdAt: number;
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
  setPassword(id: number, password: string): void;
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
  upsert(block: AuthBlock): void;
  remove(source: string): boolean;
  /** Blocks with blockedUntil > nowMs. */
  active(nowMs: number): AuthBlock[];
}

export interface Store {
  readonly path: string;
  readonly extensions: ExtensionRepository;
  readonly users: UserRepository;
  readonly registrations: RegistrationRepository;
  readonly settings: SettingsRepository;
  readonly authBlocks: AuthBlockRepository;
  /** Ring groups, receptionists, conference room settings (issue 16, services/store/routing.ts). */
  readonly routing: import('./routing.js').RoutingRepositories;
  /** Runs fn in one SQLite transaction. */
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
