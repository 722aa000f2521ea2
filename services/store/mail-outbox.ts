/**
 * The mail outbox over SQLite (migration 9): mail waits here until an SMTP server took it.
 * A mail and its attachments are inserted in one transaction; attachments are dropped once the mail
 * is sent (the row stays, as the history `pbxctl mail list` shows).
 */
import { z } from 'zod';
import type { Db } from './db.js';
import { StoreError } from './types.js';
import { emailAddress } from './voicemail-schema.js';
import { parseOrThrow } from './validation.js';

export type MailStatus = 'pending' | 'sent' | 'failed';

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface NewMail {
  to: string;
  subject: string;
  text: string;
  attachments?: MailAttachment[];
  /** Who asked for it, so the sender can tell them it went out (e.g. `voicemail:12`). */
  tag?: string;
}

export interface OutboxMail {
  id: number;
  createdAt: number;
  to: string;
  subject: string;
  text: string;
  tag: string | null;
  status: MailStatus;
  attempts: number;
  nextAttemptAt: number;
  /** The server's last answer (or the connection error) of the last failed attempt. */
  lastError: string | null;
  lastAttemptAt: number | null;
  sentAt: number | null;
  /** Names and sizes only (the content is read by `attachments(id)`). */
  attachmentInfo: Array<{ filename: string; contentType: string; bytes: number }>;
}

export interface OutboxSummary {
  pending: number;
  /** pending mail that has failed at least once (waiting for a retry) */
  retrying: number;
  failed: number;
  sent: number;
  /** The most recent failure, whatever its status. */
  lastFailure: { id: number; to: string; status: MailStatus; attempts: number; error: string; at: number } | null;
}

export interface MailOutboxRepository {
  enqueue(mail: NewMail, now?: number): OutboxMail;
  get(id: number): OutboxMail | null;
  list(options?: { status?: MailStatus; limit?: number }): OutboxMail[];
  /** Pending mail whose next attempt is due, oldest first. */
  due(now: number, limit?: number): OutboxMail[];
  attachments(id: number): MailAttachment[];
  markSent(id: number, now: number): void;
  /** A failed attempt: try again at `nextAttemptAt`, or give up (`final`). */
  markFailed(id: number, error: string, at: number, nextAttemptAt: number, final: boolean): void;
  /** Puts a failed mail back in the queue (`pbxctl mail retry`). */
  retry(id: number, now: number): boolean;
  remove(id: number): boolean;
  summary(): OutboxSummary;
}

const newMailSchema = z
  .object({
    to: emailAddress,
    subject: z.string().max(998).regex(/^[^\r\n]*$/, 'subject must be one line'),
    text: z.string().max(1_000_000),
    attachments: z
      .array(
        z
          .object({
            filename: z.string().min(1).max(255).regex(/^[^/\\\0\r\n]+$/, 'attachment name must not contain a path'),
            contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'content type like audio/wav'),
            content: z.instanceof(Buffer),
          })
          .strict(),
      )
      .max(20)
      .optional(),
    tag: z.string().max(200).optional(),
  })
  .strict();

interface Row {
  id: number;
  created_at: number;
  to_addr: string;
  subject: string;
  body: string;
  tag: string | null;
  status: MailStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_attempt_at: number | null;
  sent_at: number | null;
}

export function createMailOutboxRepository(db: Db): MailOutboxRepository {
  const insert = db.prepare(
    `INSERT INTO mail_outbox (created_at, to_addr, subject, body, tag, status, attempts, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)`,
  );
  const insertAttachment = db.prepare('INSERT INTO mail_attachments (mail_id, idx, filename, content_type, content) VALUES (?, ?, ?, ?, ?)');
  const select = db.prepare<[number], Row>('SELECT * FROM mail_outbox WHERE id = ?');
  const info = db.prepare<[number], { filename: string; content_type: string; bytes: number }>(
    'SELECT filename, content_type, length(content) AS bytes FROM mail_attachments WHERE mail_id = ? ORDER BY idx',
  );
  const content = db.prepare<[number], { filename: string; content_type: string; content: Buffer }>(
    'SELECT filename, content_type, content FROM mail_attachments WHERE mail_id = ? ORDER BY idx',
  );
  const due = db.prepare<[number, number], Row>("SELECT * FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?");
  const sent = db.prepare("UPDATE mail_outbox SET status = 'sent', sent_at = ?, last_attempt_at = ?, attempts = attempts + 1 WHERE id = ?");
  const dropAttachments = db.prepare('DELETE FROM mail_attachments WHERE mail_id = ?');
  const failed = db.prepare('UPDATE mail_outbox SET status = ?, attempts = attempts + 1, last_error = ?, last_attempt_at = ?, next_attempt_at = ? WHERE id = ?');
  const retry = db.prepare("UPDATE mail_outbox SET status = 'pending', next_attempt_at = ? WHERE id = ? AND status = 'failed'");
  const remove = db.prepare('DELETE FROM mail_outbox WHERE id = ?');
  const counts = db.prepare<[], { status: MailStatus; retrying: number; n: number }>(
    'SELECT status, SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END) AS retrying, COUNT(*) AS n FROM mail_outbox GROUP BY status',
  );
  const lastFailure = db.prepare<[], Row>("SELECT * FROM mail_outbox WHERE last_error IS NOT NULL AND status != 'sent' ORDER BY last_attempt_at DESC, id DESC LIMIT 1");

  const toMail = (row: Row): OutboxMail => ({
    id: row.id,
    createdAt: row.created_at,
    to: row.to_addr,
    subject: row.subject,
    text: row.body,
    tag: row.tag,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at,
    sentAt: row.sent_at,
    attachmentInfo: info.all(row.id).map((a) => ({ filename: a.filename, contentType: a.content_type, bytes: a.bytes })),
  });

  const get = (id: number): OutboxMail | null => {
    const row = select.get(id);
    return row ? toMail(row) : null;
  };

  return {
    enqueue(mail, now = Date.now()) {
      const valid = parseOrThrow(newMailSchema, mail);
      const id = db.transaction(() => {
        const result = insert.run(now, valid.to, valid.subject, valid.text, valid.tag ?? null, now);
        const mailId = Number(result.lastInsertRowid);
        (valid.attachments ?? []).forEach((a, idx) => insertAttachment.run(mailId, idx, a.filename, a.contentType, a.content));
        return mailId;
      })();
      return get(id) as OutboxMail;
    },
    get,
    list(options = {}) {
      const limit = options.limit ?? 200;
      const rows =
        options.status === undefined
          ? db.prepare<[number], Row>('SELECT * FROM mail_outbox ORDER BY id DESC LIMIT ?').all(limit)
          : db.prepare<[string, number], Row>('SELECT * FROM mail_outbox WHERE status = ? ORDER BY id DESC LIMIT ?').all(options.status, limit);
      return rows.map(toMail);
    },
    due: (now, limit = 10) => due.all(now, limit).map(toMail),
    attachments: (id) => content.all(id).map((a) => ({ filename: a.filename, contentType: a.content_type, content: a.content })),
    markSent(id, now) {
      db.transaction(() => {
        sent.run(now, now, id);
        dropAttachments.run(id);
      })();
    },
    markFailed(id, error, at, nextAttemptAt, final) {
      failed.run(final ? 'failed' : 'pending', error.slice(0, 2000), at, nextAttemptAt, id);
    },
    retry: (id, now) => retry.run(now, id).changes > 0,
    remove: (id) => remove.run(id).changes > 0,
    summary() {
      const s: OutboxSummary = { pending: 0, retrying: 0, failed: 0, sent: 0, lastFailure: null };
      for (const row of counts.all()) {
        s[row.status] = row.n;
        if (row.status === 'pending') s.retrying = row.retrying;
      }
      const last = lastFailure.get();
      if (last) s.lastFailure = { id: last.id, to: last.to_addr, status: last.status, attempts: last.attempts, error: last.last_error ?? '', at: last.last_attempt_at ?? last.created_at };
      return s;
    },
  };
}

export function mailNotFound(id: number): StoreError {
  return new StoreError('not-found', `no mail ${id} in the outbox`);
}
