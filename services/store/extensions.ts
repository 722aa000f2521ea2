/** Extensions: the dialable numbers and their SIP credentials. No cache here: `version()` lets readers keep one. */
import type { Db } from './db.js';
import { translateSqliteError } from './sqlite-errors.js';
import type { Extension, ExtensionPatch, ExtensionRepository, Language, NewExtension } from './types.js';
import { extensionNumber, extensionPatchSchema, newExtensionSchema, parseOrThrow } from './validation.js';

interface ExtensionRow {
  number: string;
  display_name: string;
  secret: string;
  voicemail_pin: string | null;
  language: Language;
  created_at: string;
  updated_at: string;
}

/** How stale another process's change may be seen by `version()` (pbxctl edits apply within this). */
export const EXTERNAL_CHECK_MS = 100;

function toExtension(row: ExtensionRow): Extension {
  return {
    number: row.number,
    displayName: row.display_name,
    secret: row.secret,
    voicemailPin: row.voicemail_pin,
    language: row.language,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createExtensionRepository(db: Db, defaultLanguage: Language = 'en'): ExtensionRepository {
  const selectOne = db.prepare<[string], ExtensionRow>('SELECT * FROM extensions WHERE number = ?');
  const selectAll = db.prepare<[], ExtensionRow>('SELECT * FROM extensions ORDER BY length(number), number');
  const insert = db.prepare(
    `INSERT INTO extensions (number, display_name, secret, voicemail_pin, language, created_at, updated_at)
     VALUES (@number, @displayName, @secret, @voicemailPin, @language, @now, @now)`,
  );
  const updateRow = db.prepare(
    `UPDATE extensions SET display_name = @displayName, secret = @secret, voicemail_pin = @voicemailPin,
       language = @language, updated_at = @now WHERE number = @number`,
  );
  const deleteRow = db.prepare<[string]>('DELETE FROM extensions WHERE number = ?');
  // Other connections' commits change data_version; this connection's own writes do not, hence
  // `generation`. The pragma opens a WAL read transaction (shared-memory locks): measured at ~16 µs
  // under a REGISTER load, so it is read at most every EXTERNAL_CHECK_MS.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seenDataVersion = dataVersion.get();
  let checkedAt = performance.now();
  let generation = 0;
  const changed = (): void => {
    generation++;
  };

  const get = (number: string): Extension | null => {
    const row = selectOne.get(number);
    return row ? toExtension(row) : null;
  };

  return {
    get,
    version(): number {
      const now = performance.now();
      if (now - checkedAt >= EXTERNAL_CHECK_MS) {
        checkedAt = now;
        const current = dataVersion.get();
        if (current !== seenDataVersion) {
          seenDataVersion = current;
          generation++;
        }
      }
      return generation;
    },
    list: () => selectAll.all().map(toExtension),
    add(input: NewExtension): Extension {
      const valid = parseOrThrow(newExtensionSchema, input);
      try {
        insert.run({
          number: valid.number,
          displayName: valid.displayName,
          secret: valid.secret,
          voicemailPin: valid.voicemailPin ?? null,
          language: valid.language ?? defaultLanguage,
          now: new Date().toISOString(),
        });
      } catch (error) {
        translateSqliteError(error, { conflict: `extension ${valid.number} already exists` });
      }
      changed();
      const added = get(valid.number);
      if (!added) throw new Error(`extension ${valid.number} vanished after insert`);
      return added;
    },
    update(number: string, patch: ExtensionPatch): Extension | null {
      const valid = parseOrThrow(extensionPatchSchema, patch);
      const update = db.transaction((): Extension | null => {
        const current = get(number);
        if (!current) return null;
        const next = { ...current, ...stripUndefined(valid) };
        if (next.secret === number) {
          parseOrThrow(newExtensionSchema, { ...next, number });
        }
        updateRow.run({
          number,
          displayName: next.displayName,
          secret: next.secret,
          voicemailPin: next.voicemailPin,
          language: next.language,
          now: new Date().toISOString(),
        });
        return get(number);
      });
      const updated = update.immediate();
      changed();
      return updated;
    },
    remove(number: string): boolean {
      if (!extensionNumber.safeParse(number).success) return false;
      const removed = deleteRow.run(number).changes > 0;
      changed();
      return removed;
    },
  };
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
