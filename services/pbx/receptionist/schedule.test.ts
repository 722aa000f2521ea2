import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localTime, menuAt, parseHours } from './schedule.js';

const stockholm = { timezone: 'Europe/Stockholm', hours: parseHours('mon-fri', '09:00-17:00'), holidays: ['2026-12-24'] };

test('business hours in the receptionist time zone, DST included; holidays closed all day', () => {
  assert.equal(menuAt(stockholm, new Date('2026-12-02T08:00:00Z')), 'business', 'Wed 09:00 CET');
  assert.equal(menuAt(stockholm, new Date('2026-12-02T07:59:00Z')), 'after-hours', 'Wed 08:59 CET');
  assert.equal(menuAt(stockholm, new Date('2026-12-02T16:00:00Z')), 'after-hours', 'Wed 17:00 CET: closes at 17:00');
  assert.equal(menuAt(stockholm, new Date('2026-07-01T07:30:00Z')), 'business', 'Wed 09:30 CEST (UTC+2)');
  assert.equal(menuAt(stockholm, new Date('2026-12-05T10:00:00Z')), 'after-hours', 'Saturday');
  assert.equal(menuAt(stockholm, new Date('2026-12-24T10:00:00Z')), 'after-hours', 'Christmas Eve, a Thursday');
  // Late evening UTC is already the next local day in Tokyo.
  assert.deepEqual(localTime(new Date('2026-12-06T23:30:00Z'), 'Asia/Tokyo'), { date: '2026-12-07', day: 1, time: '08:30' });
  const always = { timezone: 'UTC', hours: parseHours('sun-sat', '00:00-24:00'), holidays: [] };
  assert.equal(menuAt(always, new Date('2026-12-06T23:59:00Z')), 'business');
});

test('parseHours: ranges wrap the week end, lists, errors', () => {
  assert.deepEqual(parseHours('fri-mon', '10:00-12:00').map((h) => h.day), [0, 1, 5, 6]);
  assert.deepEqual(parseHours('mon,wed', '08:00-12:00').map((h) => h.day), [1, 3]);
  assert.throws(() => parseHours('funday', '08:00-12:00'), /days must be/);
  assert.throws(() => parseHours('mon', '8-12'), /HH:MM-HH:MM/);
});
