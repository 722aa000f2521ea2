/**
 * Ring groups, virtual receptionists and conference room settings over SQLite (migration 6).
 * Every write is validated (routing-schema.ts) and an internal number given to a group or a
 * receptionist must not be an extension's, another group's or receptionist's, or a conference room.
 */
import type { Db } from './db.js';
import {
  conferenceLimitsSchema,
  conferencePin,
  conferenceRoomNumber,
  DEFAULT_CONFERENCE_LIMITS,
  NAME,
  receptionistSchema,
  ringGroupSchema,
  type ConferenceLimits,
  type Receptionist,
  type ReceptionistInput,
  type RingGroup,
  type RingGroupInput,
} from './routing-schema.js';
import { translateSqliteError } from './sqlite-errors.js';
import { StoreError, type SettingsRepository } from './types.js';
import { parseOrThrow } from './validation.js';

export interface RingGroupRepository {
  get(name: string): RingGroup | null;
  byExtension(number: string): RingGroup | null;
  list(): RingGroup[];
  /** Adds or replaces (`replace`) a group. */
  put(group: RingGroupInput, options?: { replace?: boolean }): RingGroup;
  remove(name: string): boolean;
}

export interface ReceptionistRepository {
  get(name: string): Receptionist | null;
  byExtension(number: string): Receptionist | null;
  list(): Receptionist[];
  put(receptionist: ReceptionistInput, options?: { replace?: boolean }): Receptionist;
  remove(name: string): boolean;
}

export interface ConferenceRoomRepository {
  pin(room: string): string | null;
  setPin(room: string, pin: string | null): void;
  list(): { room: string; pin: string | null }[];
  limits(): ConferenceLimits;
  setLimits(limits: Partial<ConferenceLimits>): ConferenceLimits;
}

export interface RoutingRepositories {
  ringGroups: RingGroupRepository;
  receptionists: ReceptionistRepository;
  conferenceRooms: ConferenceRoomRepository;
}

interface GroupRow {
  name: string;
  extension: string | null;
  strategy: string;
  ring_seconds: number;
  members: string;
  no_answer: string | null;
  created_at: string;
  updated_at: string;
}

interface ReceptionistRow {
  name: string;
  extension: string | null;
  timezone: string;
  language: string;
  hours: string;
  holidays: string;
  menus: string;
  operator: string | null;
  timeout_seconds: number;
  max_attempts: number;
  created_at: string;
  updated_at: string;
}

const LIMITS_KEY = 'conference.limits';

export function createRoutingRepositories(db: Db, settings: SettingsRepository): RoutingRepositories {
  const numberTaken = (number: string, except: { table: 'ring_groups' | 'receptionists'; name: string }): string | null => {
    if (db.prepare('SELECT 1 FROM extensions WHERE number = ?').get(number)) return `extension ${number}`;
    const group = db.prepare<[string], { name: string }>('SELECT name FROM ring_groups WHERE extension = ?').get(number);
    if (group && !(except.table === 'ring_groups' && group.name === except.name)) return `ring group ${group.name}`;
    const rec = db.prepare<[string], { name: string }>('SELECT name FROM receptionists WHERE extension = ?').get(number);
    if (rec && !(except.table === 'receptionists' && rec.name === except.name)) return `receptionist ${rec.name}`;
    if (/^80\d\d$/.test(number)) return `conference room ${number}`;
    return null;
  };
  const checkNumber = (number: string | null, except: { table: 'ring_groups' | 'receptionists'; name: string }): void => {
    if (number === null) return;
    const taken = numberTaken(number, except);
    if (taken !== null) throw new StoreError('conflict', `number ${number} is already ${taken}`);
  };

  const toGroup = (row: GroupRow): RingGroup => ({
    ...parseOrThrow(ringGroupSchema, {
      name: row.name,
      extension: row.extension,
      strategy: row.strategy,
      ringSeconds: row.ring_seconds,
      members: JSON.parse(row.members) as unknown,
      noAnswer: row.no_answer,
    }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  const toReceptionist = (row: ReceptionistRow): Receptionist => ({
    ...parseOrThrow(receptionistSchema, {
      name: row.name,
      extension: row.extension,
      timezone: row.timezone,
      language: row.language,
      hours: JSON.parse(row.hours) as unknown,
      holidays: JSON.parse(row.holidays) as unknown,
      menus: JSON.parse(row.menus) as unknown,
      operator: row.operator,
      timeoutSeconds: row.timeout_seconds,
      maxAttempts: row.max_attempts,
    }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });

  const ringGroups: RingGroupRepository = {
    get: (name) => {
      const row = db.prepare<[string], GroupRow>('SELECT * FROM ring_groups WHERE name = ?').get(name);
      return row ? toGroup(row) : null;
    },
    byExtension: (number) => {
      const row = db.prepare<[string], GroupRow>('SELECT * FROM ring_groups WHERE extension = ?').get(number);
      return row ? toGroup(row) : null;
    },
    list: () => db.prepare<[], GroupRow>('SELECT * FROM ring_groups ORDER BY name').all().map(toGroup),
    put(input, options = {}) {
      const group = parseOrThrow(ringGroupSchema, input);
      return db.transaction(() => {
        const existing = ringGroups.get(group.name);
        if (existing && !options.replace) throw new StoreError('conflict', `ring group ${group.name} already exists`);
        if (!existing && options.replace) throw new StoreError('not-found', `ring group ${group.name} does not exist`);
        checkNumber(group.extension, { table: 'ring_groups', name: group.name });
        const now = new Date().toISOString();
        try {
          db.prepare(
            `INSERT INTO ring_groups (name, extension, strategy, ring_seconds, members, no_answer, created_at, updated_at)
             VALUES (@name, @extension, @strategy, @ringSeconds, @members, @noAnswer, @now, @now)
             ON CONFLICT (name) DO UPDATE SET extension = excluded.extension, strategy = excluded.strategy,
               ring_seconds = excluded.ring_seconds, members = excluded.members, no_answer = excluded.no_answer,
               updated_at = excluded.updated_at`,
          ).run({ ...group, members: JSON.stringify(group.members), now });
        } catch (error) {
          translateSqliteError(error, { conflict: `ring group ${group.name}: number already in use` });
        }
        return ringGroups.get(group.name) as RingGroup;
      }).immediate();
    },
    remove: (name) => db.prepare('DELETE FROM ring_groups WHERE name = ?').run(name).changes > 0,
  };

  const receptionists: ReceptionistRepository = {
    get: (name) => {
      const row = db.prepare<[string], ReceptionistRow>('SELECT * FROM receptionists WHERE name = ?').get(name);
      return row ? toReceptionist(row) : null;
    },
    byExtension: (number) => {
      const row = db.prepare<[string], ReceptionistRow>('SELECT * FROM receptionists WHERE extension = ?').get(number);
      return row ? toReceptionist(row) : null;
    },
    list: () => db.prepare<[], ReceptionistRow>('SELECT * FROM receptionists ORDER BY name').all().map(toReceptionist),
    put(input, options = {}) {
      const r = parseOrThrow(receptionistSchema, input);
      return db.transaction(() => {
        const existing = receptionists.get(r.name);
        if (existing && !options.replace) throw new StoreError('conflict', `receptionist ${r.name} already exists`);
        if (!existing && options.replace) throw new StoreError('not-found', `receptionist ${r.name} does not exist`);
        checkNumber(r.extension, { table: 'receptionists', name: r.name });
        const now = new Date().toISOString();
        try {
          db.prepare(
            `INSERT INTO receptionists (name, extension, timezone, language, hours, holidays, menus, operator,
               timeout_seconds, max_attempts, created_at, updated_at)
             VALUES (@name, @extension, @timezone, @language, @hours, @holidays, @menus, @operator,
               @timeoutSeconds, @maxAttempts, @now, @now)
             ON CONFLICT (name) DO UPDATE SET extension = excluded.extension, timezone = excluded.timezone,
               language = excluded.language, hours = excluded.hours, holidays = excluded.holidays,
               menus = excluded.menus, operator = excluded.operator, timeout_seconds = excluded.timeout_seconds,
               max_attempts = excluded.max_attempts, updated_at = excluded.updated_at`,
          ).run({
            ...r,
            hours: JSON.stringify(r.hours),
            holidays: JSON.stringify(r.holidays),
            menus: JSON.stringify(r.menus),
            now,
          });
        } catch (error) {
          translateSqliteError(error, { conflict: `receptionist ${r.name}: number already in use` });
        }
        return receptionists.get(r.name) as Receptionist;
      }).immediate();
    },
    remove: (name) => db.prepare('DELETE FROM receptionists WHERE name = ?').run(parseOrThrow(NAME, name)).changes > 0,
  };

  const conferenceRooms: ConferenceRoomRepository = {
    pin: (room) => db.prepare<[string], { pin: string | null }>('SELECT pin FROM conference_rooms WHERE room = ?').get(room)?.pin ?? null,
    setPin(room, pin) {
      parseOrThrow(conferenceRoomNumber, room);
      if (pin !== null) parseOrThrow(conferencePin, pin);
      db.prepare(
        `INSERT INTO conference_rooms (room, pin, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (room) DO UPDATE SET pin = excluded.pin, updated_at = excluded.updated_at`,
      ).run(room, pin, new Date().toISOString());
    },
    list: () => db.prepare<[], { room: string; pin: string | null }>('SELECT room, pin FROM conference_rooms ORDER BY room').all(),
    limits: () => {
      const stored = settings.get<unknown>(LIMITS_KEY, DEFAULT_CONFERENCE_LIMITS);
      const parsed = conferenceLimitsSchema.safeParse(stored);
      return parsed.success ? parsed.data : DEFAULT_CONFERENCE_LIMITS;
    },
    setLimits(patch) {
      const limits = parseOrThrow(conferenceLimitsSchema, { ...conferenceRooms.limits(), ...patch });
      settings.set(LIMITS_KEY, limits);
      return limits;
    },
  };

  return { ringGroups, receptionists, conferenceRooms };
}
