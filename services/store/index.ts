/**
 * The store: one SQLite file per appliance, typed repositories over it. Every process that needs
 * configuration or durable state calls openStore(dataDir) and closes it on shutdown.
 */
import path from 'node:path';
import { createAuthBlockRepository } from './auth-blocks.js';
import { DB_FILE, openDatabase } from './db.js';
import { createExtensionRepository } from './extensions.js';
import { migrate } from './migrations.js';
import { createRoutingRepositories } from './routing.js';
import { createRegistrationRepository } from './registrations.js';
import { createSettingsRepository } from './settings.js';
import type { Language, Store } from './types.js';
import { createUserRepository } from './users.js';

export * from './types.js';
export { hashPassword, randomPassword, verifyPasswordHash } from './passwords.js';
export { LATEST_VERSION } from './migrations.js';

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
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => {
      if (db.open) db.close();
    },
  };
}
