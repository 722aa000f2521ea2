/**
 * Configuration restore from a backup file (the web UI's upload, `GET /api/backup`'s or `pbxctl
 * backup`'s file). Three steps, so the live database is never overwritten under a process that has
 * it open:
 *
 * 1. `inspectBackup`: the file must be an SQLite database that passes `PRAGMA integrity_check`,
 *    carries this appliance's `schema_migrations` (every version it lists has the name ours has),
 *    and a schema version not newer than this firmware's.
 * 2. `stageRestore`: the checked copy is renamed to `<dataDir>/restore/staged.sqlite` (+ a JSON
 *    note of what it is). Nothing else changes; a later upload replaces it, `cancelStagedRestore`
 *    drops it.
 * 3. `applyStagedRestore`, called by the pbx at start before it opens the store: checks the file
 *    again, keeps a copy of the current database (`restore/before-restore-<time>.sqlite`), and
 *    copies the staged pages INTO the live database through SQLite's online backup API, which takes
 *    the database's write lock: the web process's open connection sees the restored data at its
 *    next read, and the file keeps its inode (the pbx's replaced-file check stays quiet). The
 *    store's migrations then bring an older schema up to date.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { DB_FILE } from './db.js';
import { LATEST_VERSION, MIGRATIONS } from './migrations.js';

export interface BackupInfo {
  schemaVersion: number;
  extensions: number;
  users: number;
}

/** Why a file is not a restorable backup; `code` is stable (the web UI translates it). */
export class BackupError extends Error {
  constructor(
    readonly code: 'not-sqlite' | 'corrupt' | 'not-appliance' | 'newer-schema',
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export function restoreDir(dataDir: string): string {
  return path.join(dataDir, 'restore');
}
const stagedFile = (dataDir: string): string => path.join(restoreDir(dataDir), 'staged.sqlite');
const stagedNote = (dataDir: string): string => path.join(restoreDir(dataDir), 'staged.json');

export function inspectBackup(file: string): BackupInfo {
  const head = Buffer.alloc(16);
  const fd = fs.openSync(file, 'r');
  let read: number;
  try {
    read = fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (read < 16 || !head.equals(SQLITE_MAGIC)) throw new BackupError('not-sqlite', 'the file is not an SQLite database');
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new BackupError('corrupt', `the database cannot be opened: ${(error as Error).message}`);
  }
  try {
    let check: Array<{ integrity_check: string }>;
    try {
      check = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    } catch (error) {
      throw new BackupError('corrupt', `the database is damaged: ${(error as Error).message}`);
    }
    if (check.length !== 1 || check[0]?.integrity_check !== 'ok') {
      throw new BackupError('corrupt', `the database is damaged: ${check.map((c) => c.integrity_check).slice(0, 3).join('; ')}`);
    }
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
    for (const needed of ['schema_migrations', 'extensions', 'users', 'settings']) {
      if (!tables.has(needed)) throw new BackupError('not-appliance', `the database is not a backup of this appliance (no ${needed} table)`);
    }
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string }>;
    const version = rows.length === 0 ? 0 : Math.max(...rows.map((r) => r.version));
    if (version > LATEST_VERSION) throw new BackupError('newer-schema', `the backup's schema version ${version} is newer than this firmware's (${LATEST_VERSION}): update the firmware first`);
    const ours = new Map(MIGRATIONS.map((m) => [m.version, m.name]));
    for (const row of rows) {
      if (ours.get(row.version) !== row.name) throw new BackupError('not-appliance', `the backup's migration ${row.version} ("${row.name}") is not this appliance's`);
    }
    if (version === 0) throw new BackupError('not-appliance', 'the database has no schema version');
    const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { schemaVersion: version, extensions: count('extensions'), users: count('users') };
  } finally {
    db.close();
    removeSidecars(file);
  }
}

/** Opening a WAL-mode file, even read-only, leaves empty -wal and -shm files beside it: ours to remove. */
function removeSidecars(file: string): void {
  fs.rmSync(`${file}-wal`, { force: true });
  fs.rmSync(`${file}-shm`, { force: true });
}

export interface StagedRestore extends BackupInfo {
  name: string;
  bytes: number;
  sha256: string;
  stagedAt: string;
}

/** Checks `file` and moves it (same file system) to the staging place; throws BackupError and leaves `file` alone if it is not a backup. */
export function stageRestore(dataDir: string, file: string, meta: { name: string; sha256: string }): StagedRestore {
  const info = inspectBackup(file);
  fs.mkdirSync(restoreDir(dataDir), { recursive: true });
  const note: StagedRestore = { ...info, name: meta.name, sha256: meta.sha256, bytes: fs.statSync(file).size, stagedAt: new Date().toISOString() };
  fs.renameSync(file, stagedFile(dataDir));
  removeSidecars(file);
  fs.writeFileSync(stagedNote(dataDir), `${JSON.stringify(note, null, 2)}\n`);
  return note;
}

export function stagedRestore(dataDir: string): StagedRestore | null {
  if (!fs.existsSync(stagedFile(dataDir))) return null;
  try {
    return JSON.parse(fs.readFileSync(stagedNote(dataDir), 'utf8')) as StagedRestore;
  } catch {
    return null;
  }
}

export function cancelStagedRestore(dataDir: string): boolean {
  const had = fs.existsSync(stagedFile(dataDir));
  fs.rmSync(stagedFile(dataDir), { force: true });
  fs.rmSync(stagedNote(dataDir), { force: true });
  return had;
}

/**
 * At pbx start, before the store opens: applies a staged restore if there is one. Returns what was
 * restored, or null. A staged file that no longer passes the checks is moved aside
 * (`rejected-<time>.sqlite`) and the current database is kept.
 */
export async function applyStagedRestore(dataDir: string, log: Pick<Logger, 'info' | 'warn' | 'error'>): Promise<BackupInfo | null> {
  const staged = stagedFile(dataDir);
  if (!fs.existsSync(staged)) return null;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let info: BackupInfo;
  try {
    info = inspectBackup(staged);
  } catch (error) {
    const aside = path.join(restoreDir(dataDir), `rejected-${stamp}.sqlite`);
    fs.renameSync(staged, aside);
    fs.rmSync(stagedNote(dataDir), { force: true });
    log.error({ err: error, file: aside }, 'staged restore refused: the current database is kept');
    return null;
  }
  try {
    await copyInto(dataDir, staged, stamp, log);
  } catch (error) {
    // The copy is one write transaction on the live file: a failure leaves it as it was.
    const aside = path.join(restoreDir(dataDir), `failed-${stamp}.sqlite`);
    fs.renameSync(staged, aside);
    fs.rmSync(stagedNote(dataDir), { force: true });
    log.error({ err: error, file: aside }, 'staged restore failed: the current database is kept');
    return null;
  }
  fs.rmSync(staged, { force: true });
  fs.rmSync(stagedNote(dataDir), { force: true });
  log.warn({ schemaVersion: info.schemaVersion, extensions: info.extensions, users: info.users }, 'configuration restored from the staged backup');
  return info;
}

async function copyInto(dataDir: string, staged: string, stamp: string, log: Pick<Logger, 'info'>): Promise<void> {
  const live = path.join(dataDir, DB_FILE);
  if (fs.existsSync(live)) {
    const keep = path.join(restoreDir(dataDir), `before-restore-${stamp}.sqlite`);
    const current = new Database(live, { fileMustExist: true });
    try {
      current.pragma('busy_timeout = 5000');
      await current.backup(keep);
    } finally {
      current.close();
    }
    log.info({ file: keep }, 'database before the restore kept');
  }
  const source = new Database(staged, { readonly: true, fileMustExist: true });
  try {
    // Page by page into the live file, under its write lock (never a file copy over an open database).
    await source.backup(live);
  } finally {
    source.close();
    removeSidecars(staged);
  }
}
