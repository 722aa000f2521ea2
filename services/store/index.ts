/**
 * The store: one SQLite file per appliance, typed repositories over it. Every process that needs
 * configuration or durable state calls openStore(dataDir) and closes it on shutdown.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createAnalogRepository } from './analog-schema.js';
import { createAuthBlockRepository, createKnownDeviceRepository } from './auth-blocks.js';
import { createCdrRepository } from './cdr.js';
import { DB_FILE, openDatabase } from './db.js';
import { createExtensionRepository } from './extensions.js';
import { createFaxRepository } from './fax-schema.js';
import { migrate } from './migrations.js';
import { createRoutingRepositories } from './routing.js';
import { createMohRepository } from './in-call-schema.js';
import { createRegistrationRepository } from './registrations.js';
import { createSettingsRepository } from './settings.js';
import type { Language, Store } from './types.js';
import { createUserRepository } from './users.js';
import { createUserFeaturesRepository } from './user-features.js';
import { createPortingRepository } from './porting.js';
import { createWebSessionRepository } from './web-sessions.js';
import { createVoicemailRepository } from './voicemail.js';
import { createMailOutboxRepository } from './mail-outbox.js';
import { createExtensionRoutingRepository, createNumberRepository, createTrunkRepository } from './numbers-trunks.js';

export * from './types.js';
export { hashPassword, randomPassword, verifyPasswordHash } from './passwords.js';
export { LATEST_VERSION } from './migrations.js';
export * from './cdr.js';
export * from './user-features-schema.js';
export * from './voicemail.js';
export * from './mail-outbox.js';
export * from './analog-schema.js';

export interface StoreOptions {
  /** Language given to new extensions and users that do not name one. */
  defaultLanguage?: Language;
}

export function openStore(dataDir: string, options: StoreOptions = {}): Store {
  const file = path.join(path.resolve(dataDir), DB_FILE);
  const db = openDatabase(file);
  try {
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  // Who the file is now: a later stat that differs means it was deleted or replaced under us.
  const opened = fs.statSync(file);
  const language = options.defaultLanguage ?? 'en';
  const settings = createSettingsRepository(db);
  return {
    path: file,
    extensions: createExtensionRepository(db, language),
    users: createUserRepository(db, language),
    registrations: createRegistrationRepository(db),
    settings,
    routing: createRoutingRepositories(db, settings),
    authBlocks: createAuthBlockRepository(db),
    numbers: createNumberRepository(db),
    trunks: createTrunkRepository(db),
    extensionRouting: createExtensionRoutingRepository(db),
    knownDevices: createKnownDeviceRepository(db),
    cdr: createCdrRepository(db),
    userFeatures: createUserFeaturesRepository(db),
    webSessions: createWebSessionRepository(db),
    porting: createPortingRepository(db),
    moh: createMohRepository(db, settings),
    voicemail: createVoicemailRepository(db, settings),
    mail: createMailOutboxRepository(db),
    integrityCheck() {
      const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
      return rows.map((r) => r.integrity_check);
    },
    faxes: createFaxRepository(db),
    analog: createAnalogRepository(db),
    checkpoint() {
      const row = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      const result = row[0] ?? { busy: 0, log: 0, checkpointed: 0 };
      return { busy: result.busy !== 0, walPages: result.log, checkpointed: result.checkpointed };
    },
    async backup(target: string) {
      fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
      await db.backup(target);
    },
    isSameFile() {
      try {
        const now = fs.statSync(file);
        return now.ino === opened.ino && now.dev === opened.dev;
      } catch {
        return false;
      }
    },
    // BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails at once with
    // SQLITE_BUSY when another process committed in between (its WAL snapshot is stale, and the
    // busy timeout does not apply); taking the write lock first makes it wait its turn instead.
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => {
      if (db.open) db.close();
    },
  };
}
