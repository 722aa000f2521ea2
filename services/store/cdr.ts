/**
 * Call detail records: one row per call (`cdr`) and one per leg (`cdr_legs`), plus the dialogs of
 * answered calls (`active_dialogs`) so a pbx that died mid-call can end them at its next start.
 *
 * Life of a record: an unanswered call is written once, when it ends (`add`). An answered call is
 * written when answered (`open`, with its dialogs, in one transaction) and closed when it ends
 * (`close`, which forgets the dialogs). A record still open at start was left by a crash
 * (`leftovers`). Times are epoch milliseconds.
 */
import { z } from 'zod';
import type { Db } from './db.js';
import { StoreError } from './types.js';

export const DISPOSITIONS = ['answered', 'busy', 'no-answer', 'cancelled', 'failed', 'ended-by-restart'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];
export type LegSide = 'caller' | 'callee';

/** RTP quality of one leg as the appliance received it (RFC 3550 A.3 loss, A.8 jitter). */
export interface LegQuality {
  packetsIn: number;
  packetsOut: number;
  lost: number;
  jitterMs: number;
}

export interface CdrLeg {
  side: LegSide;
  /** Extension, application or trunk party on that leg. */
  party: string;
  /** That leg's own SIP Call-ID (a B2BUA has one per leg). */
  callId: string;
  /** Where the phone was: `udp:127.0.0.1:5062`. */
  address: string | null;
  quality: LegQuality | null;
}

export interface CallRecord {
  id: number;
  /** The caller's Call-ID: what `pbxctl logs --call` finds. */
  callId: string;
  caller: string;
  callee: string;
  /** The number as dialled (E.164 for trunk calls); null until routing fills it. */
  dialled: string | null;
  trunk: string | null;
  startedAt: number;
  answeredAt: number | null;
  /** null while the call is up. */
  endedAt: number | null;
  disposition: Disposition | null;
  /** Final SIP status sent to the caller when the call was not answered. */
  status: number | null;
  /** Why it ended, in words (`caller hung up`, `failed 486`, ...). */
  reason: string | null;
  legs: CdrLeg[];
}

export interface NewCallRecord {
  callId: string;
  caller: string;
  callee: string;
  dialled?: string | null;
  trunk?: string | null;
  startedAt: number;
  answeredAt?: number | null;
  legs: CdrLeg[];
}

export interface CallEnd {
  endedAt: number;
  disposition: Disposition;
  status?: number | null;
  reason: string;
  /** Legs as they stand at the end (their quality figures); replace those written at answer. */
  legs?: CdrLeg[];
}

/**
 * What a BYE inside a dialog needs (RFC 3261 §12.2.1.1), as text: URIs and name-addrs in their
 * wire form, so the store needs no SIP types.
 */
export interface PersistedDialog {
  callId: string;
  localTag: string;
  remoteTag: string | null;
  localUri: string;
  remoteUri: string;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: string;
  routeSet: string[];
  destination: { transport: string; address: string; port: number };
  contact: string;
}

const persistedDialog = z.object({
  callId: z.string().min(1),
  localTag: z.string().min(1),
  remoteTag: z.string().nullable(),
  localUri: z.string().min(1),
  remoteUri: z.string().min(1),
  localSeq: z.number().int().nonnegative(),
  remoteSeq: z.number().int().nonnegative(),
  remoteTarget: z.string().min(1),
  routeSet: z.array(z.string()),
  destination: z.object({ transport: z.string(), address: z.string(), port: z.number().int().min(0).max(65535) }),
  contact: z.string().min(1),
});

export interface LeftoverCall {
  record: CallRecord;
  /** Parsed dialogs; a row that no longer parses is reported in `unreadable`, not thrown. */
  dialogs: Array<{ side: LegSide; dialog: PersistedDialog }>;
  unreadable: number;
}

export interface CdrListOptions {
  /** Only calls started at or after this time. */
  since?: number;
  limit?: number;
  /** Only calls this extension (or number) made or received: a user's own call log. */
  party?: string;
  /** With `limit`: the latest calls (still returned oldest first) instead of the earliest. */
  latest?: boolean;
}

export interface CdrRepository {
  add(record: NewCallRecord & CallEnd): number;
  open(record: NewCallRecord, dialogs: Array<{ side: LegSide; dialog: PersistedDialog }>): number;
  updateDialog(id: number, side: LegSide, dialog: PersistedDialog): void;
  /** Closes an open record and forgets its dialogs; false when it was not open. */
  close(id: number, end: CallEnd): boolean;
  leftovers(): LeftoverCall[];
  get(id: number): CallRecord | null;
  /** Oldest first. */
  list(options?: CdrListOptions): CallRecord[];
  /** The records with this Call-ID on any of their legs. */
  findByCallId(callId: string): CallRecord[];
  /** Deletes records that ended before `beforeMs`; returns how many. */
  prune(beforeMs: number): number;
}

interface CdrRow {
  id: number;
  call_id: string;
  caller: string;
  callee: string;
  dialled: string | null;
  trunk: string | null;
  started_at: number;
  answered_at: number | null;
  ended_at: number | null;
  disposition: Disposition | null;
  status: number | null;
  reason: string | null;
}

interface LegRow {
  cdr_id: number;
  side: LegSide;
  party: string;
  call_id: string;
  address: string | null;
  packets_in: number | null;
  packets_out: number | null;
  lost: number | null;
  jitter_ms: number | null;
}

export function createCdrRepository(db: Db): CdrRepository {
  const insertCdr = db.prepare(
    `INSERT INTO cdr (call_id, caller, callee, dialled, trunk, started_at, answered_at, ended_at, disposition, status, reason)
     VALUES (@callId, @caller, @callee, @dialled, @trunk, @startedAt, @answeredAt, @endedAt, @disposition, @status, @reason)`,
  );
  const upsertLeg = db.prepare(
    `INSERT INTO cdr_legs (cdr_id, side, party, call_id, address, packets_in, packets_out, lost, jitter_ms)
     VALUES (@id, @side, @party, @callId, @address, @packetsIn, @packetsOut, @lost, @jitterMs)
     ON CONFLICT (cdr_id, side) DO UPDATE SET party = excluded.party, call_id = excluded.call_id, address = excluded.address,
       packets_in = excluded.packets_in, packets_out = excluded.packets_out, lost = excluded.lost, jitter_ms = excluded.jitter_ms`,
  );
  const upsertDialog = db.prepare<[number, LegSide, string]>(
    `INSERT INTO active_dialogs (cdr_id, side, dialog) VALUES (?, ?, ?)
     ON CONFLICT (cdr_id, side) DO UPDATE SET dialog = excluded.dialog`,
  );
  const closeCdr = db.prepare(
    `UPDATE cdr SET ended_at = @endedAt, disposition = @disposition, status = @status, reason = @reason
     WHERE id = @id AND ended_at IS NULL`,
  );
  const deleteDialogs = db.prepare<[number]>('DELETE FROM active_dialogs WHERE cdr_id = ?');
  const selectOne = db.prepare<[number], CdrRow>('SELECT * FROM cdr WHERE id = ?');
  const selectOpen = db.prepare<[], CdrRow>('SELECT * FROM cdr WHERE ended_at IS NULL ORDER BY id');
  const selectDialogs = db.prepare<[number], { side: LegSide; dialog: string }>('SELECT side, dialog FROM active_dialogs WHERE cdr_id = ?');
  const selectLegs = db.prepare<[number], LegRow>('SELECT * FROM cdr_legs WHERE cdr_id = ? ORDER BY side');
  const selectSince = db.prepare<[number, number], CdrRow>('SELECT * FROM cdr WHERE started_at >= ? ORDER BY started_at, id LIMIT ?');
  const selectFiltered = db.prepare<{ since: number; party: string | null; limit: number; latest: number }, CdrRow>(
    `SELECT * FROM (SELECT * FROM cdr WHERE started_at >= @since AND (@party IS NULL OR caller = @party OR callee = @party)
       ORDER BY CASE WHEN @latest THEN -started_at ELSE started_at END, CASE WHEN @latest THEN -id ELSE id END LIMIT @limit)
     ORDER BY started_at, id`,
  );
  const selectByCall = db.prepare<[string, string], CdrRow>(
    'SELECT * FROM cdr WHERE call_id = ? OR id IN (SELECT cdr_id FROM cdr_legs WHERE call_id = ?) ORDER BY id',
  );
  const deleteBefore = db.prepare<[number]>('DELETE FROM cdr WHERE ended_at IS NOT NULL AND ended_at < ?');

  const writeLegs = (id: number, legs: CdrLeg[]): void => {
    for (const leg of legs) {
      upsertLeg.run({
        id,
        side: leg.side,
        party: leg.party,
        callId: leg.callId,
        address: leg.address,
        packetsIn: leg.quality?.packetsIn ?? null,
        packetsOut: leg.quality?.packetsOut ?? null,
        lost: leg.quality?.lost ?? null,
        jitterMs: leg.quality?.jitterMs ?? null,
      });
    }
  };
  const toRecord = (row: CdrRow): CallRecord => ({
    id: row.id,
    callId: row.call_id,
    caller: row.caller,
    callee: row.callee,
    dialled: row.dialled,
    trunk: row.trunk,
    startedAt: row.started_at,
    answeredAt: row.answered_at,
    endedAt: row.ended_at,
    disposition: row.disposition,
    status: row.status,
    reason: row.reason,
    legs: selectLegs.all(row.id).map((leg) => ({
      side: leg.side,
      party: leg.party,
      callId: leg.call_id,
      address: leg.address,
      quality:
        leg.packets_in === null
          ? null
          : { packetsIn: leg.packets_in, packetsOut: leg.packets_out ?? 0, lost: leg.lost ?? 0, jitterMs: leg.jitter_ms ?? 0 },
    })),
  });
  const baseRow = (record: NewCallRecord): Record<string, unknown> => {
    if (record.callId.length === 0 || record.caller.length === 0 || record.callee.length === 0) {
      throw new StoreError('invalid', 'call record: callId, caller and callee must not be empty');
    }
    return {
      callId: record.callId,
      caller: record.caller,
      callee: record.callee,
      dialled: record.dialled ?? null,
      trunk: record.trunk ?? null,
      startedAt: record.startedAt,
      answeredAt: record.answeredAt ?? null,
    };
  };

  return {
    add: (record) =>
      db.transaction(() => {
        const id = Number(
          insertCdr.run({
            ...baseRow(record),
            endedAt: record.endedAt,
            disposition: record.disposition,
            status: record.status ?? null,
            reason: record.reason,
          }).lastInsertRowid,
        );
        writeLegs(id, record.legs);
        return id;
      })(),
    open: (record, dialogs) =>
      db.transaction(() => {
        const id = Number(insertCdr.run({ ...baseRow(record), endedAt: null, disposition: null, status: null, reason: null }).lastInsertRowid);
        writeLegs(id, record.legs);
        for (const { side, dialog } of dialogs) upsertDialog.run(id, side, JSON.stringify(dialog));
        return id;
      })(),
    updateDialog(id, side, dialog) {
      upsertDialog.run(id, side, JSON.stringify(dialog));
    },
    close: (id, end) =>
      db.transaction(() => {
        const changed = closeCdr.run({ id, endedAt: end.endedAt, disposition: end.disposition, status: end.status ?? null, reason: end.reason }).changes > 0;
        if (changed && end.legs !== undefined) writeLegs(id, end.legs);
        deleteDialogs.run(id);
        return changed;
      })(),
    leftovers: () =>
      selectOpen.all().map((row) => {
        let unreadable = 0;
        const dialogs: LeftoverCall['dialogs'] = [];
        for (const stored of selectDialogs.all(row.id)) {
          let parsed: PersistedDialog | null = null;
          try {
            const result = persistedDialog.safeParse(JSON.parse(stored.dialog));
            if (result.success) parsed = result.data;
          } catch {
            parsed = null;
          }
          if (parsed === null) unreadable++;
          else dialogs.push({ side: stored.side, dialog: parsed });
        }
        return { record: toRecord(row), dialogs, unreadable };
      }),
    get(id) {
      const row = selectOne.get(id);
      return row === undefined ? null : toRecord(row);
    },
    list(options = {}) {
      if (options.party === undefined && options.latest !== true) return selectSince.all(options.since ?? 0, options.limit ?? -1).map(toRecord);
      return selectFiltered
        .all({ since: options.since ?? 0, party: options.party ?? null, limit: options.limit ?? -1, latest: options.latest === true ? 1 : 0 })
        .map(toRecord);
    },
    findByCallId: (callId) => selectByCall.all(callId, callId).map(toRecord),
    prune: (beforeMs) => deleteBefore.run(beforeMs).changes,
  };
}
