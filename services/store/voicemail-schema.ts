/**
 * Migration 9: voicemail boxes and messages, and the mail outbox (issue 18).
 *
 * - `voicemail_boxes`: one row per extension whose box differs from the defaults (email, quotas,
 *   greetings, operator); an extension without a row has a box with the defaults.
 * - `voicemail_messages`: a row is committed only after its audio file is fsynced and renamed
 *   (services/voicemail/storage.ts), so a row always has its audio; a start-up sweep removes files
 *   without a row.
 * - `mail_outbox` + `mail_attachments`: mail waiting to go out over SMTP (services/mail/). The
 *   attachments are BLOBs in the same transaction as their mail, so a crash never leaves a mail
 *   without its attachment; they are deleted once the mail is sent (the row stays as history).
 */
import { z } from 'zod';
import type { Migration } from './migrations.js';

export const VOICEMAIL_MIGRATION: Migration = {
  version: 9,
  name: 'voicemail boxes and messages; mail outbox',
  up(db) {
    db.exec(`
      CREATE TABLE voicemail_boxes (
        extension      TEXT PRIMARY KEY REFERENCES extensions(number) ON DELETE CASCADE,
        enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0,1)),
        email          TEXT,
        email_delete   INTEGER NOT NULL DEFAULT 0 CHECK (email_delete IN (0,1)),
        max_messages   INTEGER,
        max_minutes    INTEGER,
        operator       TEXT,
        updated_at     TEXT NOT NULL
      );
      CREATE TABLE voicemail_messages (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        box          TEXT NOT NULL,
        folder       TEXT NOT NULL CHECK (folder IN ('new','old')),
        urgent       INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0,1)),
        caller       TEXT NOT NULL,
        caller_name  TEXT NOT NULL,
        received_at  INTEGER NOT NULL,
        duration_ms  INTEGER NOT NULL,
        file         TEXT NOT NULL UNIQUE,
        bytes        INTEGER NOT NULL,
        reason       TEXT NOT NULL CHECK (reason IN ('unavailable','busy','direct'))
      );
      CREATE INDEX voicemail_messages_box ON voicemail_messages(box, folder, received_at);
      CREATE TABLE mail_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at      INTEGER NOT NULL,
        to_addr         TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body            TEXT NOT NULL,
        tag             TEXT,
        status          TEXT NOT NULL CHECK (status IN ('pending','sent','failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        last_attempt_at INTEGER,
        sent_at         INTEGER
      );
      CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);
      CREATE TABLE mail_attachments (
        mail_id      INTEGER NOT NULL REFERENCES mail_outbox(id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,
        filename     TEXT NOT NULL,
        content_type TEXT NOT NULL,
        content      BLOB NOT NULL,
        PRIMARY KEY (mail_id, idx)
      );
    `);
  },
};

/**
 * Migration 14: a box's email notification can be turned off while its address is kept
 * (`voicemail_boxes.email_enabled`, on by default: every box mailed before keeps mailing).
 */
export const VOICEMAIL_EMAIL_MIGRATION: Migration = {
  version: 14,
  name: 'voicemail: email notification on/off per box',
  up(db) {
    db.exec('ALTER TABLE voicemail_boxes ADD COLUMN email_enabled INTEGER NOT NULL DEFAULT 1 CHECK (email_enabled IN (0,1))');
  },
};

/** One address, as nodemailer and every MTA accept it (no display name, no list). */
export const emailAddress = z
  .string()
  .max(254)
  .regex(/^[^\s@<>(),;:"]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be an email address like ana@example.org');

export const voicemailBoxPatch = z
  .object({
    enabled: z.boolean(),
    email: emailAddress.nullable(),
    emailEnabled: z.boolean(),
    emailDelete: z.boolean(),
    maxMessages: z.number().int().min(1).max(10_000).nullable(),
    maxMinutes: z.number().int().min(1).max(10_000).nullable(),
    operator: z.string().nullable(),
  })
  .partial()
  .strict();
export type VoicemailBoxPatch = z.infer<typeof voicemailBoxPatch>;

/** The box-wide and appliance-wide voicemail settings (settings table, key `voicemail`). */
export const voicemailSettingsSchema = z
  .object({
    /** Messages shorter than this are discarded (Asterisk `minsecs`). */
    minSeconds: z.number().min(0).max(60),
    /** A message is cut at this length (Asterisk `maxsecs`). */
    maxMessageSeconds: z.number().int().min(5).max(3600),
    /** Default quota per box. */
    maxMessages: z.number().int().min(1).max(10_000),
    maxMinutes: z.number().int().min(1).max(10_000),
    /** Messages older than this many days are deleted; 0 keeps them forever. */
    retentionDays: z.number().int().min(0).max(3650),
    /** The attachment of voicemail emails. */
    emailFormat: z.enum(['wav', 'mp3']),
    /** Wrong PINs in one call before goodbye. */
    maxPinAttempts: z.number().int().min(1).max(10),
    /** Where `0` takes a caller leaving a message when the box names no operator (`extension:100`); null: none. */
    operator: z.string().max(64).nullable(),
  })
  .strict();
export type VoicemailSettings = z.infer<typeof voicemailSettingsSchema>;

export const DEFAULT_VOICEMAIL_SETTINGS: VoicemailSettings = {
  minSeconds: 1,
  maxMessageSeconds: 180,
  maxMessages: 100,
  maxMinutes: 60,
  retentionDays: 0,
  emailFormat: 'wav',
  maxPinAttempts: 3,
  operator: null,
};
