/**
 * What issue 17's in-call features add to the store (migration 7): music-on-hold classes (an
 * uploaded file converted at upload to 8 kHz mono WAV under <dataDir>/moh/) and which class each
 * extension, number or ring group plays to the callers it holds. Transfer settings (transfer music,
 * recall time) are plain settings (`settings` table).
 */
import type { Db } from './db.js';
import type { Migration } from './migrations.js';
import { StoreError } from './types.js';
import type { SettingsRepository } from './types.js';

export const IN_CALL_MIGRATION: Migration = {
  version: 7,
  name: 'music-on-hold classes',
  up(db) {
    db.exec(`
      CREATE TABLE moh_classes (
        name        TEXT PRIMARY KEY,
        file        TEXT NOT NULL,
        source_name TEXT NOT NULL,
        seconds     REAL NOT NULL,
        created_at  TEXT NOT NULL
      );
      CREATE TABLE moh_choices (
        owner      TEXT PRIMARY KEY,
        class      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `);
  },
};

/**
 * Migration 15: a class is a playlist of files (Asterisk's class = a folder of files), played one
 * after the other in the order added. `moh_classes.file`, `source_name` and `seconds` stay, kept as
 * the first file, its name and the playlist's total, so a reader of version 7 still finds a file.
 */
export const MOH_PLAYLIST_MIGRATION: Migration = {
  version: 15,
  name: 'music-on-hold playlists (several files per class)',
  up(db) {
    db.exec(`
      CREATE TABLE moh_files (
        class       TEXT NOT NULL REFERENCES moh_classes(name) ON DELETE CASCADE,
        file        TEXT NOT NULL,
        source_name TEXT NOT NULL,
        seconds     REAL NOT NULL,
        position    INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (class, file)
      );
      INSERT INTO moh_files (class, file, source_name, seconds, position, created_at)
        SELECT name, file, source_name, seconds, 0, created_at FROM moh_classes;
    `);
  },
};

/** The class every hold uses when nothing more specific names one; built in until one is uploaded under this name. */
export const DEFAULT_MOH_CLASS = 'default';
const CLASS_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Who may name a class: an extension, a number (E.164), a ring group, or the whole box (`default`). */
const OWNER = /^(default|extension:[0-9*#]{1,16}|number:\+[1-9][0-9]{3,14}|ring-group:[a-z0-9][a-z0-9_-]{0,31})$/;

export interface MohFileRow {
  /** file name under <dataDir>/moh/ */
  file: string;
  /** the uploaded file's own name */
  sourceName: string;
  seconds: number;
  createdAt: string;
}

export interface MohClassRow {
  name: string;
  /** the first file's name under <dataDir>/moh/ */
  file: string;
  /** the first file's uploaded name */
  sourceName: string;
  /** the whole playlist's length */
  seconds: number;
  createdAt: string;
  /** the playlist, in playing order */
  files: MohFileRow[];
}

export interface TransferSettings {
  /** callers being transferred hear their music on hold instead of ringback */
  music: boolean;
  /** how long a transfer target rings before the transferor gets the call back */
  recallSeconds: number;
}

export const TRANSFER_DEFAULTS: TransferSettings = { music: false, recallSeconds: 20 };

export interface MohRepository {
  list(): MohClassRow[];
  get(name: string): MohClassRow | null;
  /** adds a class, or replaces its whole playlist, with this one file */
  put(row: Omit<MohFileRow, 'createdAt'> & { name: string }): MohClassRow;
  /** appends a file to a class's playlist (a new class when there is none) */
  addFile(name: string, file: Omit<MohFileRow, 'createdAt'>): MohClassRow;
  /**
   * Drops one file of a class's playlist: 'file' when the class goes on, 'class' when it was the
   * last file (the class goes too; refused with conflict while an owner names it), null when absent.
   */
  removeFile(name: string, file: string): 'file' | 'class' | null;
  /** false when absent; refused (conflict) while an owner names it */
  remove(name: string): boolean;
  /** owner (`extension:101`, `number:+15551230000`, `ring-group:sales`, `default`) → class; null unsets */
  choose(owner: string, className: string | null): void;
  choiceOf(owner: string): string | null;
  choices(): { owner: string; className: string }[];
  transfer(): TransferSettings;
  setTransfer(patch: Partial<TransferSettings>): TransferSettings;
}

export function validMohClassName(name: string): boolean {
  return CLASS_NAME.test(name);
}

export function createMohRepository(db: Db, settings: SettingsRepository): MohRepository {
  type Row = { name: string; created_at: string };
  type FileRow = { file: string; source_name: string; seconds: number; created_at: string };
  const filesOf = (name: string): MohFileRow[] =>
    db
      .prepare<[string], FileRow>('SELECT file, source_name, seconds, created_at FROM moh_files WHERE class = ? ORDER BY position, file')
      .all(name)
      .map((f) => ({ file: f.file, sourceName: f.source_name, seconds: f.seconds, createdAt: f.created_at }));
  const toRow = (r: Row): MohClassRow => {
    const files = filesOf(r.name);
    return { name: r.name, file: files[0]?.file ?? '', sourceName: files[0]?.sourceName ?? '', seconds: files.reduce((sum, f) => sum + f.seconds, 0), createdAt: r.created_at, files };
  };
  const get = (name: string): MohClassRow | null => {
    const r = db.prepare<[string], Row>('SELECT name, created_at FROM moh_classes WHERE name = ?').get(name);
    return r ? toRow(r) : null;
  };
  const check = (name: string, seconds: number): void => {
    if (!validMohClassName(name)) throw new StoreError('invalid', `music-on-hold class name ${JSON.stringify(name)}: lower-case letters, digits, - and _ (at most 32)`);
    if (!(seconds > 0)) throw new StoreError('invalid', `music-on-hold class ${name}: no audio`);
  };
  /** The class row mirrors its first file and the total (what version 7 readers look at). */
  const sync = (name: string): void => {
    const files = filesOf(name);
    const first = files[0];
    if (first === undefined) return;
    db.prepare('UPDATE moh_classes SET file = ?, source_name = ?, seconds = ? WHERE name = ?').run(first.file, first.sourceName, files.reduce((sum, f) => sum + f.seconds, 0), name);
  };
  const insertFile = (name: string, file: Omit<MohFileRow, 'createdAt'>, now: string): void => {
    const position = db.prepare<[string], { p: number | null }>('SELECT MAX(position) AS p FROM moh_files WHERE class = ?').get(name)?.p ?? -1;
    db.prepare(
      `INSERT INTO moh_files (class, file, source_name, seconds, position, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (class, file) DO UPDATE SET source_name = excluded.source_name, seconds = excluded.seconds, created_at = excluded.created_at`,
    ).run(name, file.file, file.sourceName, file.seconds, position + 1, now);
  };
  const ensureClass = (name: string, file: Omit<MohFileRow, 'createdAt'>, now: string): void => {
    db.prepare('INSERT INTO moh_classes (name, file, source_name, seconds, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, file.file, file.sourceName, file.seconds, now);
  };
  const remove = (name: string): boolean => {
    const users = db.prepare<[string], { owner: string }>('SELECT owner FROM moh_choices WHERE class = ?').all(name);
    if (users.length > 0) throw new StoreError('conflict', `music-on-hold class ${name} is used by ${users.map((u) => u.owner).join(', ')}`);
    return db.prepare('DELETE FROM moh_classes WHERE name = ?').run(name).changes > 0;
  };
  return {
    list: () => db.prepare<[], Row>('SELECT name, created_at FROM moh_classes ORDER BY name').all().map(toRow),
    get,
    put(row) {
      check(row.name, row.seconds);
      const now = new Date().toISOString();
      db.transaction(() => {
        ensureClass(row.name, row, now);
        db.prepare('DELETE FROM moh_files WHERE class = ?').run(row.name);
        insertFile(row.name, row, now);
        sync(row.name);
      }).immediate();
      return get(row.name) as MohClassRow;
    },
    addFile(name, file) {
      check(name, file.seconds);
      const now = new Date().toISOString();
      db.transaction(() => {
        ensureClass(name, file, now);
        insertFile(name, file, now);
        sync(name);
      }).immediate();
      return get(name) as MohClassRow;
    },
    removeFile(name, file) {
      return db.transaction((): 'file' | 'class' | null => {
        const files = filesOf(name);
        if (!files.some((f) => f.file === file)) return null;
        if (files.length === 1) return remove(name) ? 'class' : null;
        db.prepare('DELETE FROM moh_files WHERE class = ? AND file = ?').run(name, file);
        sync(name);
        return 'file';
      }).immediate();
    },
    remove,
    choose(owner, className) {
      if (!OWNER.test(owner)) throw new StoreError('invalid', `${owner}: expected extension:N, number:+E164, ring-group:NAME or default`);
      if (className === null) {
        db.prepare('DELETE FROM moh_choices WHERE owner = ?').run(owner);
        return;
      }
      if (className !== DEFAULT_MOH_CLASS && get(className) === null) throw new StoreError('not-found', `no music-on-hold class ${className}`);
      db.prepare(
        `INSERT INTO moh_choices (owner, class, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (owner) DO UPDATE SET class = excluded.class, updated_at = excluded.updated_at`,
      ).run(owner, className, new Date().toISOString());
    },
    choiceOf: (owner) => db.prepare<[string], { class: string }>('SELECT class FROM moh_choices WHERE owner = ?').get(owner)?.class ?? null,
    choices: () => db.prepare<[], { owner: string; class: string }>('SELECT owner, class FROM moh_choices ORDER BY owner').all().map((r) => ({ owner: r.owner, className: r.class })),
    transfer() {
      const raw = settings.get<Partial<TransferSettings>>('transfer', {});
      return {
        music: typeof raw.music === 'boolean' ? raw.music : TRANSFER_DEFAULTS.music,
        recallSeconds: typeof raw.recallSeconds === 'number' ? raw.recallSeconds : TRANSFER_DEFAULTS.recallSeconds,
      };
    },
    setTransfer(patch) {
      const next = { ...this.transfer(), ...patch };
      if (!Number.isInteger(next.recallSeconds) || next.recallSeconds < 5 || next.recallSeconds > 300) {
        throw new StoreError('invalid', `transfer recall time must be 5-300 seconds (got ${next.recallSeconds})`);
      }
      settings.set('transfer', next);
      return next;
    },
  };
}
