/**
 * Voicemail boxes, messages and settings over SQLite (migration 9). The audio files themselves are
 * services/voicemail/storage.ts's: this module only records a message once its file is durable.
 */
import type { Db } from './db.js';
import { translateSqliteError } from './sqlite-errors.js';
import { StoreError, type SettingsRepository } from './types.js';
import { parseOrThrow, extensionNumber } from './validation.js';
import {
  DEFAULT_VOICEMAIL_SETTINGS,
  voicemailBoxPatch,
  voicemailSettingsSchema,
  type VoicemailBoxPatch,
  type VoicemailSettings,
} from './voicemail-schema.js';

export type VoicemailFolder = 'new' | 'old';
export type VoicemailReason = 'unavailable' | 'busy' | 'direct';

export interface VoicemailBox {
  extension: string;
  enabled: boolean;
  /** Where messages are emailed; null: the email of the user who has this extension, if any. */
  email: string | null;
  /** Voicemail emails on (migration 14); off keeps the address but sends no voicemail mail. */
  emailEnabled: boolean;
  /** Delete the message once its email went out. */
  emailDelete: boolean;
  /** Quotas; null: the appliance-wide setting. */
  maxMessages: number | null;
  maxMinutes: number | null;
  /** Destination text (`extension:100`) that `0` reaches while leaving a message; null: none. */
  operator: string | null;
}

export interface VoicemailMessage {
  id: number;
  box: string;
  folder: VoicemailFolder;
  urgent: boolean;
  caller: string;
  callerName: string;
  receivedAt: number;
  durationMs: number;
  /** File name inside the box's directory. */
  file: string;
  bytes: number;
  reason: VoicemailReason;
}

export type NewVoicemailMessage = Omit<VoicemailMessage, 'id' | 'folder' | 'urgent'> & { urgent?: boolean };

/** RFC 3842 §5.2 counts: new/old, and urgent new/old. */
export interface VoicemailCounts {
  new: number;
  old: number;
  urgentNew: number;
  urgentOld: number;
  totalMs: number;
}

export interface VoicemailRepository {
  settings(): VoicemailSettings;
  setSettings(patch: Partial<VoicemailSettings>): VoicemailSettings;
  /** The box of an extension (defaults when nothing was set); null when the extension does not exist. */
  box(extension: string): VoicemailBox | null;
  setBox(extension: string, patch: VoicemailBoxPatch): VoicemailBox;
  add(message: NewVoicemailMessage): VoicemailMessage;
  get(id: number): VoicemailMessage | null;
  /** New first, then old; oldest first inside each (Asterisk's order). */
  list(box: string): VoicemailMessage[];
  /** Every message of every box (start-up sweep, retention). */
  all(): VoicemailMessage[];
  setFolder(id: number, folder: VoicemailFolder): boolean;
  remove(id: number): boolean;
  counts(box: string): VoicemailCounts;
  /** Boxes that hold at least one message. */
  boxesWithMessages(): string[];
  /** The email the box sends to: its own, else its user's. */
  emailOf(extension: string): string | null;
}

interface BoxRow {
  extension: string;
  enabled: number;
  email: string | null;
  email_enabled: number;
  email_delete: number;
  max_messages: number | null;
  max_minutes: number | null;
  operator: string | null;
}

interface MessageRow {
  id: number;
  box: string;
  folder: VoicemailFolder;
  urgent: number;
  caller: string;
  caller_name: string;
  received_at: number;
  duration_ms: number;
  file: string;
  bytes: number;
  reason: VoicemailReason;
}

const SETTINGS_KEY = 'voicemail';

const toMessage = (r: MessageRow): VoicemailMessage => ({
  id: r.id,
  box: r.box,
  folder: r.folder,
  urgent: r.urgent === 1,
  caller: r.caller,
  callerName: r.caller_name,
  receivedAt: r.received_at,
  durationMs: r.duration_ms,
  file: r.file,
  bytes: r.bytes,
  reason: r.reason,
});

export function createVoicemailRepository(db: Db, settings: SettingsRepository): VoicemailRepository {
  const extensionExists = db.prepare<[string], { n: number }>('SELECT 1 AS n FROM extensions WHERE number = ?');
  const boxRow = db.prepare<[string], BoxRow>('SELECT * FROM voicemail_boxes WHERE extension = ?');
  const upsertBox = db.prepare(
    `INSERT INTO voicemail_boxes (extension, enabled, email, email_enabled, email_delete, max_messages, max_minutes, operator, updated_at)
     VALUES (@extension, @enabled, @email, @emailEnabled, @emailDelete, @maxMessages, @maxMinutes, @operator, @now)
     ON CONFLICT (extension) DO UPDATE SET enabled = excluded.enabled, email = excluded.email, email_enabled = excluded.email_enabled, email_delete = excluded.email_delete,
       max_messages = excluded.max_messages, max_minutes = excluded.max_minutes, operator = excluded.operator, updated_at = excluded.updated_at`,
  );
  const insert = db.prepare(
    `INSERT INTO voicemail_messages (box, folder, urgent, caller, caller_name, received_at, duration_ms, file, bytes, reason)
     VALUES (@box, 'new', @urgent, @caller, @callerName, @receivedAt, @durationMs, @file, @bytes, @reason)`,
  );
  const select = db.prepare<[number], MessageRow>('SELECT * FROM voicemail_messages WHERE id = ?');
  const list = db.prepare<[string], MessageRow>("SELECT * FROM voicemail_messages WHERE box = ? ORDER BY folder = 'old', received_at, id");
  const all = db.prepare<[], MessageRow>('SELECT * FROM voicemail_messages ORDER BY id');
  const setFolder = db.prepare('UPDATE voicemail_messages SET folder = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM voicemail_messages WHERE id = ?');
  const counts = db.prepare<[string], { folder: VoicemailFolder; n: number; urgent: number; ms: number }>(
    'SELECT folder, COUNT(*) AS n, SUM(urgent) AS urgent, SUM(duration_ms) AS ms FROM voicemail_messages WHERE box = ? GROUP BY folder',
  );
  const boxes = db.prepare<[], { box: string }>('SELECT DISTINCT box FROM voicemail_messages ORDER BY box');
  const userEmail = db.prepare<[string], { email: string | null }>('SELECT email FROM users WHERE extension = ? AND email IS NOT NULL ORDER BY id LIMIT 1');

  const readSettings = (): VoicemailSettings => {
    const stored = settings.get<unknown>(SETTINGS_KEY, {});
    const merged = { ...DEFAULT_VOICEMAIL_SETTINGS, ...(typeof stored === 'object' && stored !== null ? stored : {}) };
    const parsed = voicemailSettingsSchema.safeParse(merged);
    return parsed.success ? parsed.data : DEFAULT_VOICEMAIL_SETTINGS;
  };

  const box = (extension: string): VoicemailBox | null => {
    if (!extensionExists.get(extension)) return null;
    const row = boxRow.get(extension);
    if (!row) return { extension, enabled: true, email: null, emailEnabled: true, emailDelete: false, maxMessages: null, maxMinutes: null, operator: null };
    return {
      extension,
      enabled: row.enabled === 1,
      email: row.email,
      emailEnabled: row.email_enabled === 1,
      emailDelete: row.email_delete === 1,
      maxMessages: row.max_messages,
      maxMinutes: row.max_minutes,
      operator: row.operator,
    };
  };

  return {
    settings: readSettings,
    setSettings(patch) {
      const next = parseOrThrow(voicemailSettingsSchema, { ...readSettings(), ...patch });
      settings.set(SETTINGS_KEY, next);
      return next;
    },
    box,
    setBox(extension, patch) {
      parseOrThrow(extensionNumber, extension);
      const valid = parseOrThrow(voicemailBoxPatch, patch);
      const current = box(extension);
      if (current === null) throw new StoreError('not-found', `no extension ${extension}`);
      const next: VoicemailBox = { ...current, ...valid };
      upsertBox.run({
        extension,
        enabled: next.enabled ? 1 : 0,
        email: next.email,
        emailEnabled: next.emailEnabled ? 1 : 0,
        emailDelete: next.emailDelete ? 1 : 0,
        maxMessages: next.maxMessages,
        maxMinutes: next.maxMinutes,
        operator: next.operator,
        now: new Date().toISOString(),
      });
      return next;
    },
    add(message) {
      try {
        const result = insert.run({
          box: message.box,
          urgent: message.urgent === true ? 1 : 0,
          caller: message.caller,
          callerName: message.callerName,
          receivedAt: message.receivedAt,
          durationMs: Math.round(message.durationMs),
          file: message.file,
          bytes: message.bytes,
          reason: message.reason,
        });
        return toMessage(select.get(Number(result.lastInsertRowid)) as MessageRow);
      } catch (error) {
        return translateSqliteError(error, { conflict: `message file ${message.file} is already recorded` });
      }
    },
    get(id) {
      const row = select.get(id);
      return row ? toMessage(row) : null;
    },
    list: (b) => list.all(b).map(toMessage),
    all: () => all.all().map(toMessage),
    setFolder: (id, folder) => setFolder.run(folder, id).changes > 0,
    remove: (id) => remove.run(id).changes > 0,
    counts(b) {
      const c: VoicemailCounts = { new: 0, old: 0, urgentNew: 0, urgentOld: 0, totalMs: 0 };
      for (const row of counts.all(b)) {
        c[row.folder] = row.n;
        if (row.folder === 'new') c.urgentNew = row.urgent;
        else c.urgentOld = row.urgent;
        c.totalMs += row.ms;
      }
      return c;
    },
    boxesWithMessages: () => boxes.all().map((r) => r.box),
    emailOf(extension) {
      const b = box(extension);
      if (b === null) return null;
      return b.email ?? userEmail.get(extension)?.email ?? null;
    },
  };
}
