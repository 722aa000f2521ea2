/**
 * The analog ports (issue 19): which extension an FXS port registers as, the country whose tones,
 * ring cadence and caller ID it uses, the landline number of an FXO port (migration 11); and the
 * live state the `analog` process reports (one row per port, plus the board and the failover),
 * which `pbxctl port list` and `pbxctl status` read without a socket to that process.
 */
import { z } from 'zod';
import type { Db } from './db.js';
import type { Migration } from './migrations.js';
import { translateSqliteError } from './sqlite-errors.js';
import { StoreError } from './types.js';
import { parseOrThrow } from './validation.js';

export const ANALOG_MIGRATION: Migration = {
  version: 11,
  name: 'analog ports (FXS extension, country, FXO landline number) and their live status',
  up(db) {
    db.exec(`
      CREATE TABLE analog_ports (
        port       TEXT PRIMARY KEY,
        extension  TEXT REFERENCES extensions(number) ON DELETE SET NULL,
        country    TEXT CHECK (country IN ('US','MX','FR','SE','GB')),
        number     TEXT,
        updated_at TEXT NOT NULL,
        CHECK (port GLOB 'fx[so][1-9]' OR port GLOB 'fx[so][1-9][0-9]'),
        CHECK (extension IS NULL OR port GLOB 'fxs*'),
        CHECK (number IS NULL OR port GLOB 'fxo*')
      );
      CREATE TABLE analog_status (
        name       TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        detail     TEXT,
        updated_at INTEGER NOT NULL
      );
    `);
  },
};

export const ANALOG_COUNTRIES = ['US', 'MX', 'FR', 'SE', 'GB'] as const;
export type AnalogCountry = (typeof ANALOG_COUNTRIES)[number];

export interface AnalogPortConfig {
  /** `fxs1`, `fxo1` ... as printed on the box. */
  port: string;
  /** FXS: the extension whose credentials the port registers with; null: not in service. */
  extension: string | null;
  /** null: the box's country (config.json). */
  country: AnalogCountry | null;
  /** FXO: the landline's number (E.164), the called number of its inbound calls. */
  number: string | null;
  updatedAt: string;
}

/** What the analog process last said about a port (or `board`, `failover`). */
export interface AnalogStatus {
  name: string;
  state: string;
  detail: string | null;
  /** Epoch ms. A row older than a few seconds means the analog process is not running. */
  updatedAt: number;
}

export interface AnalogRepository {
  list(): AnalogPortConfig[];
  get(port: string): AnalogPortConfig | null;
  /** Binds an FXS port to an extension (null unbinds); StoreError 'invalid' for a bad port or unknown extension. */
  assign(port: string, extension: string | null): AnalogPortConfig;
  setCountry(port: string, country: AnalogCountry | null): AnalogPortConfig;
  /** FXO only: the landline's number, E.164 (the caller parses what the user typed). */
  setNumber(port: string, e164: string | null): AnalogPortConfig;
  report(entries: readonly Omit<AnalogStatus, 'updatedAt'>[], now?: number): void;
  statuses(): AnalogStatus[];
}

const portName = z.string().regex(/^fx[so][1-9][0-9]?$/, 'port must be fxs1, fxs2 ... or fxo1 ...');
const countrySchema = z.enum(ANALOG_COUNTRIES, { error: `country must be one of ${ANALOG_COUNTRIES.join(', ')}` });
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'number must be E.164 (+ and 7 to 15 digits)');

interface PortRow {
  port: string;
  extension: string | null;
  country: AnalogCountry | null;
  number: string | null;
  updated_at: string;
}

function toConfig(row: PortRow): AnalogPortConfig {
  return { port: row.port, extension: row.extension, country: row.country, number: row.number, updatedAt: row.updated_at };
}

export function createAnalogRepository(db: Db): AnalogRepository {
  const selectOne = db.prepare<[string], PortRow>('SELECT * FROM analog_ports WHERE port = ?');
  const selectAll = db.prepare<[], PortRow>("SELECT * FROM analog_ports ORDER BY substr(port, 1, 3) DESC, CAST(substr(port, 4) AS INTEGER)");
  const ensure = db.prepare<[string, string]>('INSERT INTO analog_ports (port, updated_at) VALUES (?, ?) ON CONFLICT (port) DO NOTHING');
  const update = (column: 'extension' | 'country' | 'number') =>
    db.prepare<[string | null, string, string]>(`UPDATE analog_ports SET ${column} = ?, updated_at = ? WHERE port = ?`);
  const setters = { extension: update('extension'), country: update('country'), number: update('number') };
  const upsertStatus = db.prepare<[string, string, string | null, number]>(
    `INSERT INTO analog_status (name, state, detail, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at`,
  );
  const selectStatus = db.prepare<[], { name: string; state: string; detail: string | null; updated_at: number }>('SELECT * FROM analog_status ORDER BY name');

  const write = (port: string, column: 'extension' | 'country' | 'number', value: string | null, reference?: string): AnalogPortConfig => {
    parseOrThrow(portName, port);
    const now = new Date().toISOString();
    try {
      db.transaction(() => {
        ensure.run(port, now);
        setters[column].run(value, now, port);
      }).immediate();
    } catch (error) {
      translateSqliteError(error, { conflict: `port ${port} exists`, ...(reference !== undefined && { reference }) });
    }
    const row = selectOne.get(port);
    if (row === undefined) throw new Error(`port ${port} vanished after write`);
    return toConfig(row);
  };

  return {
    list: () => selectAll.all().map(toConfig),
    get(port) {
      const row = selectOne.get(port);
      return row === undefined ? null : toConfig(row);
    },
    assign(port, extension) {
      parseOrThrow(portName, port);
      if (!port.startsWith('fxs')) throw new StoreError('invalid', `${port} is an FXO port (a line, not a phone): only FXS ports take an extension`);
      return write(port, 'extension', extension, `extension ${extension ?? ''} does not exist`);
    },
    setCountry(port, country) {
      if (country !== null) parseOrThrow(countrySchema, country);
      return write(port, 'country', country);
    },
    setNumber(port, number) {
      parseOrThrow(portName, port);
      if (!port.startsWith('fxo')) throw new StoreError('invalid', `${port} is an FXS port: only an FXO port (the landline) has a number`);
      if (number !== null) parseOrThrow(e164, number);
      return write(port, 'number', number);
    },
    report(entries, now = Date.now()) {
      db.transaction(() => {
        for (const e of entries) upsertStatus.run(e.name, e.state, e.detail, now);
      })();
    },
    statuses: () => selectStatus.all().map((r) => ({ name: r.name, state: r.state, detail: r.detail, updatedAt: r.updated_at })),
  };
}
