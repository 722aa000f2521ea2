/**
 * Number porting requests (migration 13): the request body as JSON (validated again on read), its
 * status with the FOC date or rejection reason, every status change as an event (the timeline),
 * and the outbox of submitted requests for the cloud sync agent.
 */
import { z } from 'zod';
import type { PortingEvent, PortingRequest, PortingRequestBody, PortingStatus } from '../porting/request.js';
import { CONNECTION_TYPES, NUMBER_TYPES, PORTING_STATUSES } from '../porting/request.js';
import type { Db } from './db.js';
import { StoreError } from './types.js';

export interface PortingRepository {
  /** Stores a submitted request, its first event and its outbox row, in one transaction. */
  add(body: PortingRequestBody, createdBy: number | null): PortingRequest;
  get(id: number): PortingRequest | null;
  /** Newest first. */
  list(): PortingRequest[];
  /** Records a status change (the transition is checked by services/porting/timeline.ts). */
  setStatus(id: number, status: PortingStatus, change: { date: string | null; reason: string | null }): PortingRequest | null;
  /** Requests waiting for the sync agent. */
  outbox(): Array<{ requestId: number; queuedAt: string }>;
}

const bodySchema = z.object({
  numberType: z.enum(NUMBER_TYPES),
  provider: z.string(),
  accountNumber: z.string(),
  accountPin: z.string().nullable(),
  connection: z.enum(CONNECTION_TYPES),
  numbers: z.array(z.string()),
  serviceAddress: z.object({ street: z.string(), postalCode: z.string(), city: z.string() }),
  holderFirstName: z.string(),
  holderLastName: z.string(),
  primaryNumber: z.string(),
  keepTemporary: z.boolean(),
  termsAccepted: z.boolean(),
  signature: z.object({ name: z.string(), signedAt: z.string(), byUser: z.number().nullable(), digest: z.string() }),
});

interface RequestRow {
  id: number;
  request: string;
  status: PortingStatus;
  foc_date: string | null;
  reason: string | null;
  created_by: number | null;
  created_at: string;
  updated_at: string;
}

export function createPortingRepository(db: Db): PortingRepository {
  const insert = db.prepare(
    `INSERT INTO porting_requests (request, status, created_by, created_at, updated_at) VALUES (?, 'submitted', ?, ?, ?)`,
  );
  const insertEvent = db.prepare<[number, string, string | null, string | null, string]>(
    'INSERT INTO porting_events (request_id, status, date, reason, at) VALUES (?, ?, ?, ?, ?)',
  );
  const queue = db.prepare<[number, string]>('INSERT INTO porting_outbox (request_id, queued_at) VALUES (?, ?)');
  const byId = db.prepare<[number], RequestRow>('SELECT * FROM porting_requests WHERE id = ?');
  const all = db.prepare<[], RequestRow>('SELECT * FROM porting_requests ORDER BY id DESC');
  const events = db.prepare<[number], { status: PortingStatus; date: string | null; reason: string | null; at: string }>(
    'SELECT status, date, reason, at FROM porting_events WHERE request_id = ? ORDER BY id',
  );
  const update = db.prepare<[string, string | null, string | null, string, number]>(
    'UPDATE porting_requests SET status = ?, foc_date = COALESCE(?, foc_date), reason = ?, updated_at = ? WHERE id = ?',
  );
  const pending = db.prepare<[], { request_id: number; queued_at: string }>(
    'SELECT request_id, queued_at FROM porting_outbox WHERE sent_at IS NULL ORDER BY request_id',
  );

  const toRequest = (row: RequestRow): PortingRequest => {
    let body: PortingRequestBody;
    try {
      body = bodySchema.parse(JSON.parse(row.request)) as PortingRequestBody;
    } catch (error) {
      throw new StoreError('invalid', `porting request ${row.id} is damaged: ${(error as Error).message}`);
    }
    if (!PORTING_STATUSES.includes(row.status)) throw new StoreError('invalid', `porting request ${row.id} has status ${row.status}`);
    return {
      id: row.id,
      body,
      status: row.status,
      focDate: row.foc_date,
      reason: row.reason,
      createdBy: row.created_by,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      events: events.all(row.id).map((e): PortingEvent => ({ status: e.status, date: e.date, reason: e.reason, at: e.at })),
    };
  };
  const get = (id: number): PortingRequest | null => {
    const row = byId.get(id);
    return row ? toRequest(row) : null;
  };

  return {
    add(body, createdBy) {
      const now = new Date().toISOString();
      const id = db.transaction(() => {
        const info = insert.run(JSON.stringify(bodySchema.parse(body)), createdBy, now, now);
        const newId = Number(info.lastInsertRowid);
        insertEvent.run(newId, 'submitted', null, null, now);
        queue.run(newId, now);
        return newId;
      })();
      const added = get(id);
      if (added === null) throw new Error(`porting request ${id} vanished after insert`);
      return added;
    },
    get,
    list: () => all.all().map(toRequest),
    setStatus(id, status, change) {
      const now = new Date().toISOString();
      const changed = db.transaction(() => {
        if (update.run(status, change.date, change.reason, now, id).changes === 0) return false;
        insertEvent.run(id, status, change.date, change.reason, now);
        return true;
      })();
      return changed ? get(id) : null;
    },
    outbox: () => pending.all().map((r) => ({ requestId: r.request_id, queuedAt: r.queued_at })),
  };
}
