/**
 * The virtual fax line's records (issue 18 item 6, migration 10): one `faxes` row per fax received
 * on a user's fax number or queued with `pbxctl fax send`. Documents are PDF files under the data
 * directory (`fax/<extension>/<id>.pdf`, path stored relative to it); a row is written only once its
 * file is complete (temp → fsync → rename → row), so a row never names a half-written file.
 *
 * Outbound life: queued → sending → sent | failed (retried while attempts remain: back to queued
 * with a next attempt time). Inbound rows are written at the end of the call: received | failed.
 */
import { z } from 'zod';
import type { Db } from './db.js';
import type { Migration } from './migrations.js';
import { StoreError } from './types.js';
import { parseOrThrow } from './validation.js';

export const FAX_MIGRATION: Migration = {
  version: 10,
  name: 'faxes (virtual fax line: received and queued faxes)',
  up(db) {
    db.exec(`
      CREATE TABLE faxes (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        extension       TEXT NOT NULL,
        direction       TEXT NOT NULL CHECK (direction IN ('in','out')),
        status          TEXT NOT NULL CHECK (status IN ('queued','sending','sent','received','failed')),
        remote_number   TEXT NOT NULL,
        remote_ident    TEXT,
        pages           INTEGER NOT NULL DEFAULT 0,
        document        TEXT,
        image           TEXT,
        transport       TEXT CHECK (transport IN ('audio','t38')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        max_attempts    INTEGER NOT NULL DEFAULT 3,
        next_attempt_at INTEGER,
        error           TEXT,
        call_id         TEXT,
        mail_id         INTEGER,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        completed_at    TEXT
      );
      CREATE INDEX faxes_extension ON faxes(extension, id);
      CREATE INDEX faxes_queue ON faxes(status, next_attempt_at) WHERE status = 'queued';
    `);
  },
};

/** Setting (JSON boolean) read at each fax call: T.38 on (default) or off for the whole box (`pbxctl fax t38`). */
export const FAX_T38_SETTING = 'fax.t38';
/** T.38 fax relay on the analog FXS ports (the analog gateway as a T.38 gateway); off unless `pbxctl fax analog-t38 on`. */
export const ANALOG_T38_SETTING = 'analog.t38';

export const FAX_STATUSES = ['queued', 'sending', 'sent', 'received', 'failed'] as const;
export type FaxStatusName = (typeof FAX_STATUSES)[number];
export type FaxDirection = 'in' | 'out';
export type FaxTransportName = 'audio' | 't38';

export interface FaxRecord {
  id: number;
  extension: string;
  direction: FaxDirection;
  status: FaxStatusName;
  /** out: the number as the user typed it; in: the caller's number as the carrier presented it */
  remoteNumber: string;
  /** the far fax machine's TSI (in) or CSI (out), as it sent it */
  remoteIdent: string | null;
  pages: number;
  /** the PDF, relative to the data directory */
  document: string | null;
  /** out: the TIFF-F the modem sends, relative to the data directory */
  image: string | null;
  transport: FaxTransportName | null;
  attempts: number;
  maxAttempts: number;
  /** epoch ms; a queued fax is sent from then on */
  nextAttemptAt: number | null;
  error: string | null;
  callId: string | null;
  /** the mail outbox row that carries it to the user (received faxes) */
  mailId: number | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface NewOutboundFax {
  extension: string;
  remoteNumber: string;
  pages: number;
  document: string;
  image: string;
  maxAttempts?: number;
}

export interface NewInboundFax {
  extension: string;
  status: 'received' | 'failed';
  remoteNumber: string;
  remoteIdent: string | null;
  pages: number;
  document: string | null;
  transport: FaxTransportName;
  error: string | null;
  callId: string;
}

export interface FaxOutcome {
  status: 'sent' | 'failed';
  pages: number;
  remoteIdent: string | null;
  transport: FaxTransportName | null;
  error: string | null;
  callId: string | null;
}

export interface FaxRepository {
  get(id: number): FaxRecord | null;
  /** Newest first; one extension's when given. */
  list(filter?: { extension?: string; limit?: number }): FaxRecord[];
  queue(input: NewOutboundFax): FaxRecord;
  /** A received (or failed) inbound fax, once its document is on disk. */
  recordInbound(input: NewInboundFax): FaxRecord;
  /** Takes the oldest queued fax due at `now` (status → sending, attempts + 1), or null. */
  claimNext(now: number): FaxRecord | null;
  /** The end of one attempt. A failure with attempts left goes back to the queue at `retryAt`. */
  finish(id: number, outcome: FaxOutcome, retryAt: number | null): FaxRecord | null;
  /** Faxes left `sending` by a process that stopped: queued again (their attempt counted). */
  requeueInterrupted(now: number): number;
  setMail(id: number, mailId: number): void;
  /** Deletes the row; the caller removes its files. */
  remove(id: number): boolean;
}

interface FaxRow {
  id: number;
  extension: string;
  direction: FaxDirection;
  status: FaxStatusName;
  remote_number: string;
  remote_ident: string | null;
  pages: number;
  document: string | null;
  image: string | null;
  transport: FaxTransportName | null;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number | null;
  error: string | null;
  call_id: string | null;
  mail_id: number | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

function toRecord(row: FaxRow): FaxRecord {
  return {
    id: row.id,
    extension: row.extension,
    direction: row.direction,
    status: row.status,
    remoteNumber: row.remote_number,
    remoteIdent: row.remote_ident,
    pages: row.pages,
    document: row.document,
    image: row.image,
    transport: row.transport,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    nextAttemptAt: row.next_attempt_at,
    error: row.error,
    callId: row.call_id,
    mailId: row.mail_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

/** What a user may dial for a fax: digits with an optional leading + (the dial plan decides the rest). */
export const faxNumberSchema = z.string().regex(/^\+?[0-9]{2,20}$/, 'fax number must be 2-20 digits, optionally starting with +');
const relativePath = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'path must be relative to the data directory');

const newOutboundSchema = z
  .object({
    extension: z.string().regex(/^\d{2,6}$/, 'extension must be 2-6 digits'),
    remoteNumber: faxNumberSchema,
    pages: z.number().int().min(1, 'a fax has at least one page').max(500, 'at most 500 pages'),
    document: relativePath,
    image: relativePath,
    maxAttempts: z.number().int().min(1).max(10).optional(),
  })
  .strict();

export function createFaxRepository(db: Db): FaxRepository {
  const selectOne = db.prepare<[number], FaxRow>('SELECT * FROM faxes WHERE id = ?');
  const selectAll = db.prepare<[number], FaxRow>('SELECT * FROM faxes ORDER BY id DESC LIMIT ?');
  const selectByExtension = db.prepare<[string, number], FaxRow>('SELECT * FROM faxes WHERE extension = ? ORDER BY id DESC LIMIT ?');
  const extensionExists = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM extensions WHERE number = ?');
  const insertOut = db.prepare(
    `INSERT INTO faxes (extension, direction, status, remote_number, pages, document, image, max_attempts, next_attempt_at, created_at, updated_at)
     VALUES (?, 'out', 'queued', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertIn = db.prepare(
    `INSERT INTO faxes (extension, direction, status, remote_number, remote_ident, pages, document, transport, attempts, error, call_id, created_at, updated_at, completed_at)
     VALUES (?, 'in', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
  );
  const nextDue = db.prepare<[number], FaxRow>(
    "SELECT * FROM faxes WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY next_attempt_at, id LIMIT 1",
  );
  const claim = db.prepare("UPDATE faxes SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'queued'");
  const finishFinal = db.prepare(
    'UPDATE faxes SET status = ?, pages = CASE WHEN ? > 0 THEN ? ELSE pages END, remote_ident = ?, transport = ?, error = ?, call_id = ?, next_attempt_at = NULL, updated_at = ?, completed_at = ? WHERE id = ?',
  );
  const finishRetry = db.prepare(
    "UPDATE faxes SET status = 'queued', remote_ident = ?, transport = ?, error = ?, call_id = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
  );
  const requeue = db.prepare("UPDATE faxes SET status = 'queued', next_attempt_at = ?, error = 'interrupted (pbx restarted)', updated_at = ? WHERE status = 'sending'");
  const failExhausted = db.prepare("UPDATE faxes SET status = 'failed', completed_at = ?, updated_at = ? WHERE status = 'queued' AND attempts >= max_attempts AND error = 'interrupted (pbx restarted)'");
  const setMail = db.prepare('UPDATE faxes SET mail_id = ?, updated_at = ? WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM faxes WHERE id = ?');

  const get = (id: number): FaxRecord | null => {
    const row = selectOne.get(id);
    return row ? toRecord(row) : null;
  };
  const requireExtension = (extension: string): void => {
    if ((extensionExists.get(extension)?.n ?? 0) === 0) throw new StoreError('not-found', `extension ${extension} does not exist`);
  };

  return {
    get,
    list(filter = {}) {
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
      const rows = filter.extension === undefined ? selectAll.all(limit) : selectByExtension.all(filter.extension, limit);
      return rows.map(toRecord);
    },
    queue(input) {
      const fax = parseOrThrow(newOutboundSchema, input);
      requireExtension(fax.extension);
      const now = new Date().toISOString();
      const info = insertOut.run(fax.extension, fax.remoteNumber, fax.pages, fax.document, fax.image, fax.maxAttempts ?? 3, Date.now(), now, now);
      const added = get(Number(info.lastInsertRowid));
      if (added === null) throw new Error('fax vanished after insert');
      return added;
    },
    recordInbound(input) {
      const now = new Date().toISOString();
      const info = insertIn.run(
        input.extension,
        input.status,
        input.remoteNumber.slice(0, 64),
        input.remoteIdent === null ? null : input.remoteIdent.slice(0, 40),
        input.pages,
        input.document,
        input.transport,
        input.error,
        input.callId,
        now,
        now,
        now,
      );
      const added = get(Number(info.lastInsertRowid));
      if (added === null) throw new Error('fax vanished after insert');
      return added;
    },
    claimNext(now) {
      return db.transaction((): FaxRecord | null => {
        const row = nextDue.get(now);
        if (row === undefined) return null;
        if (claim.run(new Date(now).toISOString(), row.id).changes === 0) return null;
        return get(row.id);
      }).immediate();
    },
    finish(id, outcome, retryAt) {
      const now = new Date().toISOString();
      const row = get(id);
      if (row === null) return null;
      if (outcome.status === 'failed' && retryAt !== null && row.attempts < row.maxAttempts) {
        finishRetry.run(outcome.remoteIdent, outcome.transport, outcome.error, outcome.callId, retryAt, now, id);
      } else {
        finishFinal.run(outcome.status, outcome.pages, outcome.pages, outcome.remoteIdent, outcome.transport, outcome.error, outcome.callId, now, now, id);
      }
      return get(id);
    },
    requeueInterrupted(now) {
      return db.transaction(() => {
        const iso = new Date(now).toISOString();
        const changed = requeue.run(now, iso).changes;
        failExhausted.run(iso, iso);
        return changed;
      })();
    },
    setMail(id, mailId) {
      setMail.run(mailId, new Date().toISOString(), id);
    },
    remove: (id) => remove.run(id).changes > 0,
  };
}
