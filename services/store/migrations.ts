/**
 * Versioned schema migrations, kept in code so the schema ships with the firmware that reads it.
 *
 * Rules: migrations are only ever appended; each one runs in its own transaction together with
 * its row in schema_migrations; none drops or rewrites data (a column is added, a table is
 * created, a table is rebuilt only by copying every row). A database written by a newer firmware
 * (after a rollback to the other A/B slot) is refused with StoreError('schema') rather than guessed at.
 */
import type { Db } from './db.js';
import { FAX_MIGRATION } from './fax-schema.js';
import { ANALOG_MIGRATION } from './analog-schema.js';
import { ROUTING_MIGRATION } from './routing-schema.js';
import { IN_CALL_MIGRATION, MOH_PLAYLIST_MIGRATION } from './in-call-schema.js';
import { USER_FEATURES_MIGRATION } from './user-features-schema.js';
import { WEB_MIGRATION } from './web-schema.js';
import { VOICEMAIL_EMAIL_MIGRATION, VOICEMAIL_MIGRATION } from './voicemail-schema.js';
import { StoreError } from './types.js';

export interface Migration {
  version: number;
  name: string;
  up(db: Db): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'extensions, users, registrations, settings',
    up(db) {
      db.exec(`
        CREATE TABLE extensions (
          number        TEXT PRIMARY KEY,
          display_name  TEXT NOT NULL,
          secret        TEXT NOT NULL,
          voicemail_pin TEXT,
          language      TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en','es','fr','sv')),
          created_at    TEXT NOT NULL,
          updated_at    TEXT NOT NULL
        );
        CREATE TABLE users (
          id            INTEGER PRIMARY KEY AUTOINCREMENT,
          username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
          display_name  TEXT NOT NULL,
          email         TEXT,
          role          TEXT NOT NULL CHECK (role IN ('admin','user')),
          language      TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en','es','fr','sv')),
          extension     TEXT REFERENCES extensions(number) ON DELETE SET NULL,
          password_hash TEXT NOT NULL,
          created_at    TEXT NOT NULL
        );
        CREATE TABLE registrations (
          aor            TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
          contact_uri    TEXT NOT NULL,
          instance_id    TEXT,
          call_id        TEXT NOT NULL,
          cseq           INTEGER NOT NULL,
          expires_at     INTEGER NOT NULL,
          q              REAL,
          transport      TEXT NOT NULL,
          source_address TEXT NOT NULL,
          source_port    INTEGER NOT NULL,
          user_agent     TEXT,
          registered_at  INTEGER NOT NULL,
          PRIMARY KEY (aor, contact_uri)
        );
        CREATE TABLE settings (
          key        TEXT PRIMARY KEY,
          value      TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    name: 'auth_blocks; registrations by expiry',
    up(db) {
      db.exec(`
        CREATE TABLE auth_blocks (
          source        TEXT PRIMARY KEY,
          identity      TEXT,
          failures      INTEGER NOT NULL,
          reason        TEXT NOT NULL,
          blocked_until INTEGER NOT NULL,
          created_at    INTEGER NOT NULL
        );
        CREATE INDEX auth_blocks_until ON auth_blocks(blocked_until);
        CREATE INDEX registrations_expiry ON registrations(expires_at);
      `);
    },
  },
  {
    version: 3,
    name: 'auth_blocks per (source, extension); known_devices',
    up(db) {
      // Rebuilt by copying every row: a block of version 2 covered the whole source ('*').
      db.exec(`
        CREATE TABLE auth_blocks_v3 (
          source        TEXT NOT NULL,
          extension     TEXT NOT NULL,
          failures      INTEGER NOT NULL,
          reason        TEXT NOT NULL,
          blocked_until INTEGER NOT NULL,
          created_at    INTEGER NOT NULL,
          PRIMARY KEY (source, extension)
        );
        INSERT INTO auth_blocks_v3 (source, extension, failures, reason, blocked_until, created_at)
          SELECT source, '*', failures, reason, blocked_until, created_at FROM auth_blocks;
        DROP TABLE auth_blocks;
        ALTER TABLE auth_blocks_v3 RENAME TO auth_blocks;
        CREATE INDEX auth_blocks_until ON auth_blocks(blocked_until);
        CREATE TABLE known_devices (
          address         TEXT NOT NULL,
          extension       TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
          last_success_at INTEGER NOT NULL,
          PRIMARY KEY (address, extension)
        );
        CREATE INDEX known_devices_last ON known_devices(last_success_at);
      `);
    },
  },
  {
    version: 4,
    name: 'call detail records (cdr, cdr_legs); dialogs of answered calls (active_dialogs)',
    up(db) {
      db.exec(`
        CREATE TABLE cdr (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          call_id     TEXT NOT NULL,
          caller      TEXT NOT NULL,
          callee      TEXT NOT NULL,
          dialled     TEXT,
          trunk       TEXT,
          started_at  INTEGER NOT NULL,
          answered_at INTEGER,
          ended_at    INTEGER,
          disposition TEXT CHECK (disposition IN ('answered','busy','no-answer','cancelled','failed','ended-by-restart')),
          status      INTEGER,
          reason      TEXT
        );
        CREATE INDEX cdr_started ON cdr(started_at);
        CREATE INDEX cdr_open ON cdr(ended_at) WHERE ended_at IS NULL;
        CREATE INDEX cdr_call ON cdr(call_id);
        CREATE TABLE cdr_legs (
          cdr_id      INTEGER NOT NULL REFERENCES cdr(id) ON DELETE CASCADE,
          side        TEXT NOT NULL CHECK (side IN ('caller','callee')),
          party       TEXT NOT NULL,
          call_id     TEXT NOT NULL,
          address     TEXT,
          packets_in  INTEGER,
          packets_out INTEGER,
          lost        INTEGER,
          jitter_ms   REAL,
          PRIMARY KEY (cdr_id, side)
        );
        CREATE INDEX cdr_legs_call ON cdr_legs(call_id);
        CREATE TABLE active_dialogs (
          cdr_id  INTEGER NOT NULL REFERENCES cdr(id) ON DELETE CASCADE,
          side    TEXT NOT NULL CHECK (side IN ('caller','callee')),
          dialog  TEXT NOT NULL,
          PRIMARY KEY (cdr_id, side)
        );
      `);
    },
  },
  {
    // Version 5 belongs to routing (numbers, trunks, per-extension routing); 3 and 4 are other features'.
    version: 5,
    name: 'numbers, trunks, extension routing (direct number, international permission)',
    up(db) {
      db.exec(`
        CREATE TABLE numbers (
          number      TEXT PRIMARY KEY,
          destination TEXT NOT NULL,
          created_at  TEXT NOT NULL,
          updated_at  TEXT NOT NULL
        );
        CREATE TABLE trunks (
          name       TEXT PRIMARY KEY,
          host       TEXT NOT NULL,
          port       INTEGER,
          transport  TEXT NOT NULL CHECK (transport IN ('udp','tcp','tls')),
          username   TEXT,
          secret     TEXT,
          max_calls  INTEGER,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          CHECK ((username IS NULL) = (secret IS NULL))
        );
        CREATE TABLE extension_routing (
          extension     TEXT PRIMARY KEY REFERENCES extensions(number) ON DELETE CASCADE,
          direct_number TEXT REFERENCES numbers(number) ON DELETE SET NULL,
          international INTEGER NOT NULL DEFAULT 0 CHECK (international IN (0,1)),
          updated_at    TEXT NOT NULL
        );
        CREATE UNIQUE INDEX extension_routing_direct ON extension_routing(direct_number) WHERE direct_number IS NOT NULL;
      `);
    },
  },
  // Ring groups, receptionists, conference rooms (services/store/routing-schema.ts).
  ROUTING_MIGRATION,
  // Music on hold classes and choices, transfer settings (services/store/in-call-schema.ts).
  IN_CALL_MIGRATION,
  // Forwarding, call waiting, DND, caller ID blocking (services/store/user-features-schema.ts).
  USER_FEATURES_MIGRATION,
  // Voicemail boxes and messages, the mail outbox (services/store/voicemail-schema.ts).
  VOICEMAIL_MIGRATION,
  // The virtual fax line's records (services/store/fax-schema.ts).
  FAX_MIGRATION,
  // Analog ports and their live status (services/store/analog-schema.ts).
  ANALOG_MIGRATION,
  // Web sessions, first-login password change, number porting (services/store/web-schema.ts).
  WEB_MIGRATION,
  // Voicemail email notification on/off per box (services/store/voicemail-schema.ts).
  VOICEMAIL_EMAIL_MIGRATION,
  // Music-on-hold playlists: several files per class (services/store/in-call-schema.ts).
  MOH_PLAYLIST_MIGRATION,
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export function currentVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings the schema up to `target` (default: the latest). Safe to run from several processes at
 * once: each step takes the write lock (BEGIN IMMEDIATE) and re-reads the version under it.
 * Returns the versions applied by this call.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, target?: number): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const last = target ?? migrations[migrations.length - 1]?.version ?? 0;
  const known = migrations[migrations.length - 1]?.version ?? 0;
  const found = currentVersion(db);
  if (found > known) {
    throw new StoreError('schema', `database schema version ${found} is newer than this firmware knows (${known})`);
  }
  // Every start of an up-to-date box (pbx, web, analog, pbxctl): one read, no write transaction per
  // migration on the start path. Below the target, each step still re-checks inside its own
  // immediate transaction (another process may be migrating the same file).
  if (found >= last) return [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version > last) break;
    const step = db.transaction(() => {
      if (currentVersion(db) >= migration.version) return false;
      migration.up(db);
      record.run(migration.version, migration.name, new Date().toISOString());
      return true;
    });
    if (step.immediate()) applied.push(migration.version);
  }
  return applied;
}
