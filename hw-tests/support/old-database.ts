/**
 * A data dir as an older firmware left it: the database migrated up to `version` only, with
 * extension 101 (Ana, Spanish) written the way that firmware wrote it. Opening the store on it
 * runs the later migrations, which is what a migration test checks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DB_FILE, openDatabase } from '../../services/store/db.js';
import { migrate, MIGRATIONS } from '../../services/store/migrations.js';

export function dataDirAtVersion(prefix: string, version: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const db = openDatabase(path.join(dir, DB_FILE));
  migrate(db, MIGRATIONS, version);
  db.prepare(
    `INSERT INTO extensions (number, display_name, secret, voicemail_pin, language, created_at, updated_at)
     VALUES ('101', 'Ana', 'correct-horse', NULL, 'es', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
  ).run();
  db.close();
  return dir;
}
