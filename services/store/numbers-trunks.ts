/**
 * What routing stores: the office's phone numbers (E.164 → Destination), the carrier trunks, and each
 * extension's direct number and international permission. Numbers are validated with libphonenumber-js
 * (never a home-made pattern); destinations with the shared `parseDestination`.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import { DestinationError, formatDestination, parseDestination, type Destination } from './destination.js';
import type { Db } from './db.js';
import { translateSqliteError } from './sqlite-errors.js';
import {
  StoreError,
  TRUNK_TRANSPORTS,
  type ExtensionRouting,
  type ExtensionRoutingRepository,
  type NewTrunk,
  type NumberRepository,
  type PhoneNumber,
  type Trunk,
  type TrunkRepository,
  type TrunkTransport,
} from './types.js';
import { parseOrThrow } from './validation.js';

/** The number exactly as E.164 writes it and valid for its country, or StoreError('invalid'). */
export function checkE164(number: string): string {
  const parsed = number.startsWith('+') ? parsePhoneNumberFromString(number) : undefined;
  if (parsed === undefined || !parsed.isValid() || parsed.number !== number) {
    throw new StoreError('invalid', `number must be a valid phone number in E.164 form, e.g. +525512345678 (got "${number}")`);
  }
  return number;
}

function checkDestination(destination: Destination): Destination {
  try {
    return parseDestination(formatDestination(destination));
  } catch (error) {
    if (error instanceof DestinationError) throw new StoreError('invalid', error.message);
    throw error;
  }
}

interface NumberRow {
  number: string;
  destination: string;
  created_at: string;
  updated_at: string;
}

function toNumber(row: NumberRow): PhoneNumber {
  return { number: row.number, destination: parseDestination(row.destination), createdAt: row.created_at, updatedAt: row.updated_at };
}

export function createNumberRepository(db: Db): NumberRepository {
  const selectOne = db.prepare<[string], NumberRow>('SELECT * FROM numbers WHERE number = ?');
  // rowid keeps insertion order when two numbers share a timestamp.
  const selectAll = db.prepare<[], NumberRow>('SELECT * FROM numbers ORDER BY created_at, rowid');
  const insert = db.prepare('INSERT INTO numbers (number, destination, created_at, updated_at) VALUES (?, ?, ?, ?)');
  const update = db.prepare('UPDATE numbers SET destination = ?, updated_at = ? WHERE number = ?');
  const remove = db.prepare<[string]>('DELETE FROM numbers WHERE number = ?');
  const get = (number: string): PhoneNumber | null => {
    const row = selectOne.get(number);
    return row ? toNumber(row) : null;
  };
  return {
    get,
    list: () => selectAll.all().map(toNumber),
    add(e164, destination) {
      checkE164(e164);
      const text = formatDestination(checkDestination(destination));
      const now = new Date().toISOString();
      try {
        insert.run(e164, text, now, now);
      } catch (error) {
        translateSqliteError(error, { conflict: `number ${e164} already exists` });
      }
      const added = get(e164);
      if (added === null) throw new Error(`number ${e164} vanished after insert`);
      return added;
    },
    setDestination(e164, destination) {
      const text = formatDestination(checkDestination(destination));
      if (update.run(text, new Date().toISOString(), e164).changes === 0) return null;
      return get(e164);
    },
    // ON DELETE SET NULL clears a direct number that pointed here.
    remove: (e164) => remove.run(e164).changes > 0,
  };
}

const trunkName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'trunk name must be 1-32 letters, digits, - or _');
const host = z
  .string()
  .min(1, 'host must not be empty')
  .max(253)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]+|[A-Za-z0-9.-]+)$/, 'host must be a host name or an IP address');
const newTrunkSchema = z
  .object({
    name: trunkName,
    host,
    port: z.number().int().min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535').nullable().optional(),
    transport: z.enum(TRUNK_TRANSPORTS, { error: `transport must be one of ${TRUNK_TRANSPORTS.join(', ')}` }).optional(),
    username: z.string().regex(/^[\x21-\x7e]{1,64}$/, 'username must be 1-64 printable characters without spaces').nullable().optional(),
    secret: z.string().min(1, 'secret must not be empty').max(128).regex(/^[\x20-\x7e]+$/, 'secret must be printable ASCII').nullable().optional(),
    maxCalls: z.number().int().min(1, 'max calls must be at least 1').max(10000).nullable().optional(),
  })
  .strict()
  .refine((t) => (t.username == null) === (t.secret == null), { message: 'a registering trunk needs both --username and --secret', path: ['secret'] });

interface TrunkRow {
  name: string;
  host: string;
  port: number | null;
  transport: TrunkTransport;
  username: string | null;
  secret: string | null;
  max_calls: number | null;
  created_at: string;
  updated_at: string;
}

function toTrunk(row: TrunkRow): Trunk {
  return {
    name: row.name,
    host: row.host,
    port: row.port,
    transport: row.transport,
    username: row.username,
    secret: row.secret,
    maxCalls: row.max_calls,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createTrunkRepository(db: Db): TrunkRepository {
  const selectOne = db.prepare<[string], TrunkRow>('SELECT * FROM trunks WHERE name = ?');
  const selectAll = db.prepare<[], TrunkRow>('SELECT * FROM trunks ORDER BY name');
  const insert = db.prepare(
    `INSERT INTO trunks (name, host, port, transport, username, secret, max_calls, created_at, updated_at)
     VALUES (@name, @host, @port, @transport, @username, @secret, @maxCalls, @now, @now)`,
  );
  const remove = db.prepare<[string]>('DELETE FROM trunks WHERE name = ?');
  const get = (name: string): Trunk | null => {
    const row = selectOne.get(name);
    return row ? toTrunk(row) : null;
  };
  return {
    get,
    list: () => selectAll.all().map(toTrunk),
    add(input: NewTrunk) {
      const valid = parseOrThrow(newTrunkSchema, input);
      try {
        insert.run({
          name: valid.name,
          host: valid.host,
          port: valid.port ?? null,
          transport: valid.transport ?? 'udp',
          username: valid.username ?? null,
          secret: valid.secret ?? null,
          maxCalls: valid.maxCalls ?? null,
          now: new Date().toISOString(),
        });
      } catch (error) {
        translateSqliteError(error, { conflict: `trunk ${valid.name} already exists` });
      }
      const added = get(valid.name);
      if (added === null) throw new Error(`trunk ${valid.name} vanished after insert`);
      return added;
    },
    remove: (name) => remove.run(name).changes > 0,
  };
}

interface RoutingRow {
  extension: string;
  direct_number: string | null;
  international: number;
}

export function createExtensionRoutingRepository(db: Db): ExtensionRoutingRepository {
  const exists = db.prepare<[string], { number: string }>('SELECT number FROM extensions WHERE number = ?');
  const selectOne = db.prepare<[string], RoutingRow>('SELECT extension, direct_number, international FROM extension_routing WHERE extension = ?');
  const selectAll = db.prepare<[], RoutingRow>(
    `SELECT e.number AS extension, r.direct_number, COALESCE(r.international, 0) AS international
     FROM extensions e LEFT JOIN extension_routing r ON r.extension = e.number ORDER BY length(e.number), e.number`,
  );
  const owner = db.prepare<[string], { extension: string }>('SELECT extension FROM extension_routing WHERE direct_number = ?');
  const upsert = db.prepare(
    `INSERT INTO extension_routing (extension, direct_number, international, updated_at) VALUES (@extension, @directNumber, @international, @now)
     ON CONFLICT (extension) DO UPDATE SET direct_number = excluded.direct_number, international = excluded.international, updated_at = excluded.updated_at`,
  );
  const toRouting = (row: RoutingRow): ExtensionRouting => ({ extension: row.extension, directNumber: row.direct_number, international: row.international === 1 });
  const get = (extension: string): ExtensionRouting | null => {
    if (exists.get(extension) === undefined) return null;
    const row = selectOne.get(extension);
    return row ? toRouting(row) : { extension, directNumber: null, international: false };
  };
  return {
    get,
    list: () => selectAll.all().map(toRouting),
    set(extension, patch) {
      const apply = db.transaction((): ExtensionRouting => {
        const current = get(extension);
        if (current === null) throw new StoreError('not-found', `extension ${extension} does not exist`);
        const next = { ...current, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as ExtensionRouting;
        if (next.directNumber !== null) {
          checkE164(next.directNumber);
          const taken = owner.get(next.directNumber);
          if (taken !== undefined && taken.extension !== extension) {
            throw new StoreError('conflict', `${next.directNumber} is already the direct number of extension ${taken.extension}`);
          }
        }
        try {
          upsert.run({ extension, directNumber: next.directNumber, international: next.international ? 1 : 0, now: new Date().toISOString() });
        } catch (error) {
          translateSqliteError(error, { conflict: 'direct number already in use', reference: `${next.directNumber} is not one of the office's numbers (pbxctl number add)` });
        }
        return next;
      });
      return apply.immediate();
    },
  };
}
