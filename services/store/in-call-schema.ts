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

/** The class every hold uses when nothing more specific names one; built in until one is uploaded under this name. */
export const DEFAULT_MOH_CLASS = 'default';
const CLASS_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Who may name a class: an extension, a number (E.164), a ring group, or the whole box (`default`). */
const OWNER = /^(default|extension:[0-9*#]{1,16}|number:\+[1-9][0-9]{3,14}|ring-group:[a-z0-9][a-z0-9_-]{0,31})$/;

export interface MohClassRow {
  name: string;
  /** file name under <dataDir>/moh/ */
  file: string;
  /** the uploaded file's own name */
  sourceName: string;
  seconds: number;
  createdAt: string;
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
  /** adds or replaces a class */
  put(row: Omit<MohClassRow, 'createdAt'>): MohClassRow;
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
  type Row = { name: string; file: string; source_name: string; seconds: number; created_at: string };
  const toRow = (r: Row): MohClassRow => ({ name: r.name, file: r.file, sourceName: r.source_name, seconds: r.seconds, createdAt: r.created_at });
  const get = (name: string): MohClassRow | null => {
    const r = db.prepare<[string], Row>('SELECT * FROM moh_classes WHERE name = ?').get(name);
    return r ? toRow(r) : null;
  };
  return {
    list: () => db.prepare<[], Row>('SELECT * FROM moh_classes ORDER BY name').all().map(toRow),
    get,
    put(row) {
      if (!validMohClassName(row.name)) throw new StoreError('invalid', `music-on-hold class name ${JSON.stringify(row.name)}: lower-case letters, digits, - and _ (at most 32)`);
      if (!(row.seconds > 0)) throw new StoreError('invalid', `music-on-hold class ${row.name}: no audio`);
      const now = new Date().toISOString();
      db.prepare(
        `INSERT INTO moh_classes (name, file, source_name, seconds, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET file = excluded.file, source_name = excluded.source_name, seconds = excluded.seconds`,
      ).run(row.name, row.file, row.sourceName, row.seconds, now);
      return get(row.name) as MohClassRow;
    },
    remove(name) {
      const users = db.prepare<[string], { owner: string }>('SELECT owner FROM moh_choices WHERE class = ?').all(name);
      if (users.length > 0) throw new StoreError('conflict', `music-on-hold class ${name} is used by ${users.map((u) => u.owner).join(', ')}`);
      return db.prepare('DELETE FROM moh_classes WHERE name = ?').run(name).changes > 0;
    },
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
