/** Settings: small JSON values under a key (feature switches, the country, the admin's choices). */
import type { Db } from './db.js';
import type { SettingsRepository } from './types.js';
import { StoreError } from './types.js';
import { parseOrThrow, settingKey } from './validation.js';

export function createSettingsRepository(db: Db): SettingsRepository {
  const select = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
  const upsert = db.prepare<[string, string, string]>(
    `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  );
  return {
    get<T>(key: string, fallback: T): T {
      const row = select.get(key);
      if (!row) return fallback;
      // The caller owns the value's shape; it parses what it reads (the store only guarantees JSON).
      return JSON.parse(row.value) as T;
    },
    set(key: string, value: unknown): void {
      parseOrThrow(settingKey, key);
      if (value === undefined) throw new StoreError('invalid', `setting ${key}: value must not be undefined`);
      let json: string;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        throw new StoreError('invalid', `setting ${key}: value is not JSON (${(error as Error).message})`);
      }
      upsert.run(key, json, new Date().toISOString());
    },
  };
}
