/**
 * Which menu a receptionist plays at a given instant: business hours in its own IANA time zone,
 * holidays (whole local days) closed. The instant is a parameter: callers inject the clock.
 */
import type { MenuName, OpeningHours } from '../../store/routing-schema.js';

export interface Schedule {
  timezone: string;
  hours: readonly OpeningHours[];
  holidays: readonly string[];
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The local calendar date, weekday and HH:MM of `at` in `timezone` (DST handled by Intl). */
export function localTime(at: Date, timezone: string): { date: string; day: number; time: string } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return { date: `${get('year')}-${get('month')}-${get('day')}`, day: WEEKDAYS[get('weekday')] ?? 0, time: `${get('hour')}:${get('minute')}` };
}

/** 'business' when `at` falls in an opening interval of its local weekday and is no holiday. */
export function menuAt(schedule: Schedule, at: Date): MenuName {
  const local = localTime(at, schedule.timezone);
  if (schedule.holidays.includes(local.date)) return 'after-hours';
  const open = schedule.hours.some((h) => h.day === local.day && h.opens <= local.time && local.time < h.closes);
  return open ? 'business' : 'after-hours';
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/**
 * `mon-fri 09:00-17:00`, `sat 10:00-14:00`, `mon,wed 08:00-12:00` → opening intervals.
 * Throws RangeError with the reason.
 */
export function parseHours(days: string, span: string): OpeningHours[] {
  const range = /^([0-2]\d:[0-5]\d)-([0-2]\d:[0-5]\d)$/.exec(span);
  if (!range) throw new RangeError(`hours must be HH:MM-HH:MM (got "${span}")`);
  const [, opens, closes] = range as unknown as [string, string, string];
  const picked = new Set<number>();
  for (const part of days.toLowerCase().split(',')) {
    const [from, to] = part.split('-');
    const a = DAY_NAMES.indexOf(from as (typeof DAY_NAMES)[number]);
    const b = to === undefined ? a : DAY_NAMES.indexOf(to as (typeof DAY_NAMES)[number]);
    if (a < 0 || b < 0) throw new RangeError(`days must be like mon-fri, sat or mon,wed (got "${days}")`);
    for (let d = a; ; d = (d + 1) % 7) {
      picked.add(d);
      if (d === b) break;
    }
  }
  return [...picked].sort((x, y) => x - y).map((day) => ({ day, opens, closes }));
}

export function formatHours(h: OpeningHours): string {
  return `${DAY_NAMES[h.day]} ${h.opens}-${h.closes}`;
}
