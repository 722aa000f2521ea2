/**
 * The schema and validation of what issue 16 items 3–5 add to the store: ring groups, virtual
 * receptionists and conference room settings (migration 6). Lists inside one object (members,
 * weekly hours, holidays, menu options) are JSON columns validated by zod on every write and read:
 * they are read and written whole, never queried inside.
 */
import { z } from 'zod';
import { DestinationError, parseDestination, type Destination } from './destination.js';
import type { Migration } from './migrations.js';
import { LANGUAGES } from './types.js';

export const ROUTING_MIGRATION: Migration = {
  version: 6,
  name: 'ring groups, receptionists, conference rooms',
  up(db) {
    db.exec(`
      CREATE TABLE ring_groups (
        name         TEXT PRIMARY KEY,
        extension    TEXT UNIQUE,
        strategy     TEXT NOT NULL CHECK (strategy IN ('simultaneous','sequential')),
        ring_seconds INTEGER NOT NULL,
        members      TEXT NOT NULL,
        no_answer    TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
      );
      CREATE TABLE receptionists (
        name            TEXT PRIMARY KEY,
        extension       TEXT UNIQUE,
        timezone        TEXT NOT NULL,
        language        TEXT NOT NULL CHECK (language IN ('en','es','fr','sv')),
        hours           TEXT NOT NULL,
        holidays        TEXT NOT NULL,
        menus           TEXT NOT NULL,
        operator        TEXT,
        timeout_seconds INTEGER NOT NULL,
        max_attempts    INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
      );
      CREATE TABLE conference_rooms (
        room       TEXT PRIMARY KEY,
        pin        TEXT,
        updated_at TEXT NOT NULL
      );
    `);
  },
};

export const NAME = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'name must be 1-32 letters, digits, - or _');
export const DIAL_NUMBER = z.string().regex(/^\d{2,6}$/, 'extension number must be 2 to 6 digits');

/** A destination as text (`extension:101`), checked by the shared parser. */
export const destinationText = z.string().superRefine((text, ctx) => {
  try {
    parseDestination(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof DestinationError ? error.message : String(error) });
  }
});

export function destinationOf(text: string): Destination {
  return parseDestination(text);
}

// ---- ring groups ----------------------------------------------------------------------------------

export const RING_STRATEGIES = ['simultaneous', 'sequential'] as const;
export type RingStrategy = (typeof RING_STRATEGIES)[number];

const ringSeconds = z.number().int().min(5, 'ring time must be at least 5 seconds').max(300, 'ring time must be at most 300 seconds');

export const ringGroupMember = z.object({
  extension: DIAL_NUMBER,
  /** this member's own ring time in a sequential group; the group's when absent */
  ringSeconds: ringSeconds.optional(),
});
export type RingGroupMember = z.infer<typeof ringGroupMember>;

export const ringGroupSchema = z.object({
  name: NAME,
  extension: DIAL_NUMBER.nullable(),
  strategy: z.enum(RING_STRATEGIES, { error: 'strategy must be simultaneous or sequential' }),
  ringSeconds,
  members: z
    .array(ringGroupMember)
    .min(1, 'a ring group needs at least one member')
    .max(50, 'a ring group has at most 50 members')
    .refine((m) => new Set(m.map((x) => x.extension)).size === m.length, 'a member is listed twice'),
  noAnswer: destinationText.nullable(),
});
export type RingGroupInput = z.infer<typeof ringGroupSchema>;
export interface RingGroup extends RingGroupInput {
  createdAt: string;
  updatedAt: string;
}

// ---- receptionists --------------------------------------------------------------------------------

export const MENUS = ['business', 'after-hours'] as const;
export type MenuName = (typeof MENUS)[number];
export const menuName = z.enum(MENUS, { error: 'menu must be business or after-hours' });

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'time must be HH:MM (00:00-24:00)');
/** Opening hours of one weekday (0 = Sunday … 6 = Saturday, as Date.getDay()). */
export const hoursSchema = z
  .object({ day: z.number().int().min(0).max(6), opens: HHMM, closes: HHMM })
  .refine((h) => h.opens < h.closes, 'opening time must be before closing time');
export type OpeningHours = z.infer<typeof hoursSchema>;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'holiday must be YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/** What pressing a key does: go to a destination, or one of the menu's own actions. */
export const OPTION_ACTIONS = ['dial-by-extension', 'repeat', 'operator'] as const;
export type OptionAction = (typeof OPTION_ACTIONS)[number];
export const optionTarget = z.union([z.enum(OPTION_ACTIONS), destinationText], {
  error: `option must be a destination (extension:101, ring-group:NAME, voicemail:101, conference:8001) or ${OPTION_ACTIONS.join(', ')}`,
});
export const LABELS = ['sales', 'support', 'billing'] as const;
export const optionSchema = z.object({
  digit: z.string().regex(/^[0-9*#]$/, 'digit must be one of 0-9, * or #'),
  target: optionTarget,
  /** a word spoken in the default menu prompt ("for sales, press 1") */
  label: z.enum(LABELS, { error: `label must be one of ${LABELS.join(', ')}` }).optional(),
});
export type MenuOption = z.infer<typeof optionSchema>;

export const menuSchema = z.object({
  options: z.array(optionSchema).refine((o) => new Set(o.map((x) => x.digit)).size === o.length, 'a digit is used twice'),
  /** greeting WAV (8 kHz mono 16-bit) under <dataDir>/greetings/, or null for the default prompts */
  greeting: z.string().regex(/^[A-Za-z0-9_.-]+\.wav$/).nullable(),
});
export type Menu = z.infer<typeof menuSchema>;

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

export const receptionistSchema = z.object({
  name: NAME,
  extension: DIAL_NUMBER.nullable(),
  timezone: z.string().refine(isValidTimeZone, 'timezone must be an IANA time zone (Europe/Stockholm)'),
  language: z.enum(LANGUAGES, { error: `language must be one of ${LANGUAGES.join(', ')}` }),
  hours: z.array(hoursSchema).max(28),
  holidays: z.array(isoDate).max(366),
  menus: z.object({ business: menuSchema, 'after-hours': menuSchema }),
  operator: destinationText.nullable(),
  timeoutSeconds: z.number().int().min(2, 'timeout must be 2-30 seconds').max(30, 'timeout must be 2-30 seconds'),
  maxAttempts: z.number().int().min(1, 'attempts must be 1-5').max(5, 'attempts must be 1-5'),
});
export type ReceptionistInput = z.infer<typeof receptionistSchema>;
export interface Receptionist extends ReceptionistInput {
  createdAt: string;
  updatedAt: string;
}

// ---- conference rooms -----------------------------------------------------------------------------

export const conferenceRoomNumber = z.string().regex(/^\d{4}$/, 'room must be 4 digits');
export const conferencePin = z.string().regex(/^\d{3,10}$/, 'conference PIN must be 3 to 10 digits');
export const conferenceLimitsSchema = z.object({
  maxRooms: z.number().int().min(1, 'rooms must be 1-100').max(100, 'rooms must be 1-100'),
  maxParticipants: z.number().int().min(2, 'participants must be 2-50').max(50, 'participants must be 2-50'),
});
export type ConferenceLimits = z.infer<typeof conferenceLimitsSchema>;
/** What the seeds sell: ten rooms in use at once, ten participants each. */
export const DEFAULT_CONFERENCE_LIMITS: ConferenceLimits = { maxRooms: 10, maxParticipants: 10 };
