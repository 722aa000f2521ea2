import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeTelephoneEvent, decodeTelephoneEvent, TelephoneEventSender, TelephoneEventReceiver, Rfc4733Error,
  type TelephoneEventPacket, type TelephoneEventReport,
} from './rfc4733.js';
import { parseDtmfInfo, formatDtmfRelay, formatDtmf } from './info.js';
import { digitToEvent, eventToDigit, parseDtmfDigit } from './digits.js';

test('payload encode/decode per RFC 4733 §2.3 layout', () => {
  const b = encodeTelephoneEvent({ event: 11, end: true, volume: 10, duration: 1600 });
  assert.deepEqual([...b], [11, 0x8a, 0x06, 0x40]);
  assert.deepEqual(decodeTelephoneEvent(b), { event: 11, end: true, volume: 10, duration: 1600 });
  assert.deepEqual(decodeTelephoneEvent(Uint8Array.of(5, 0x3f, 0xff, 0xff)), { event: 5, end: false, volume: 63, duration: 65535 });
  // R bit ignored on receive
  assert.equal(decodeTelephoneEvent(Uint8Array.of(1, 0x40 | 7, 0, 1)).volume, 7);
  assert.throws(() => decodeTelephoneEvent(Uint8Array.of(1, 2, 3)), Rfc4733Error);
  assert.throws(() => encodeTelephoneEvent({ event: 256, end: false, volume: 0, duration: 0 }), Rfc4733Error);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 }), Rfc4733Error);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 70000 }), Rfc4733Error);
  assert.equal(digitToEvent('#'), 11);
  assert.equal(eventToDigit(15), 'D');
  assert.equal(eventToDigit(16), undefined);
  assert.equal(parseDtmfDigit(' a '), 'A');
  assert.equal(parseDtmfDigit('x'), undefined);
});

test('sender: marker on start, updates every 50 ms, three identical end packets', () => {
  const s = new TelephoneEventSender();
  const ts0 = 0xfffff000; // wraps during the event
  const sched = s.schedule(digitToEvent('7'), ts0, 180);
  const evs = sched.map((x) => ({ at: x.at, m: x.packet.marker, ts: x.packet.timestamp, ...decodeTelephoneEvent(x.packet.payload) }));
  assert.equal(evs.length, 1 + 3 + 3);
  assert.equal(evs[0]!.m, true);
  assert.equal(evs[0]!.duration, 0);
  assert.deepEqual(evs.slice(1, 4).map((e) => e.duration), [400, 800, 1200]);
  assert.ok(evs.slice(1).every((e) => !e.m && e.ts === ts0));
  const ends = evs.slice(4);
  assert.ok(ends.every((e) => e.end && e.duration === 1440 && e.at === ((ts0 + 1440) >>> 0)));
  assert.ok(evs.slice(0, 4).every((e) => !e.end && e.event === 7 && e.volume === 10));
  assert.equal(s.active, false);
  assert.throws(() => {
    s.start(1, 0);
    s.start(2, 10);
  }, Rfc4733Error);
});

test('sender splits events longer than 0xFFFF units into segments (§2.5.1.3)', () => {
  const s = new TelephoneEventSender();
  const pkts: TelephoneEventPacket[] = [s.start(1, 1000)];
  for (let t = 400; t <= 70000; t += 400) {
    const p = s.update(1000 + t);
    if (p) pkts.push(p);
  }
  pkts.push(...s.stop(1000 + 70000));
  const stamps = new Set(pkts.map((p) => p.timestamp));
  assert.deepEqual([...stamps], [1000, 1000 + 65535]);
  const r = new TelephoneEventReceiver();
  const reps = pkts.flatMap((p) => r.receive(p));
  assert.deepEqual(reps.map((x) => x.type), ['start', 'end']);
  const end = reps[1] as Extract<TelephoneEventReport, { type: 'end' }>;
  assert.equal(end.duration, 70000);
});

test('receiver reports start and end once despite retransmissions, loss and reordering', () => {
  const s = new TelephoneEventSender();
  const a = s.schedule(digitToEvent('1'), 8000, 100).map((x) => x.packet);
  const b = s.schedule(digitToEvent('2'), 8000 + 1600, 120).map((x) => x.packet);
  const c = s.schedule(digitToEvent('1'), 8000 + 3200, 60).map((x) => x.packet);
  const r = new TelephoneEventReceiver();
  const reps: TelephoneEventReport[] = [];
  // a: all packets, plus a late duplicate of its end after b started
  for (const p of a) reps.push(...r.receive(p));
  // b: start lost, one end packet lost
  for (const p of b.slice(1, -1)) reps.push(...r.receive(p));
  reps.push(...r.receive(a[a.length - 1]!));
  // c: end packets all lost → inferred at the next expire
  for (const p of c.filter((p) => !decodeTelephoneEvent(p.payload).end)) reps.push(...r.receive(p));
  reps.push(...r.expire(8000 + 3200 + 480 + 4000));
  reps.push(...r.expire(8000 + 3200 + 480 + 16000));
  const summary = reps.map((x) => (x.type === 'start' ? `+${x.digit}` : `-${x.digit}:${x.durationMs}${x.inferred ? '?' : ''}`));
  assert.deepEqual(summary, ['+1', '-1:100', '+2', '-2:120', '+1', '-1:50?']);
  assert.equal(r.receive({ payload: Uint8Array.of(1), timestamp: 5 }).length, 0);
  assert.equal(r.malformedPackets, 1);
});

test('SIP INFO application/dtmf-relay and application/dtmf', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { ok: true, value: { digit: '5', durationMs: 160 } });
  assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'signal= *\nduration=100'), { ok: true, value: { digit: '*', durationMs: 100 } });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=11\r\n'), { ok: true, value: { digit: '#', durationMs: 250 } });
  assert.deepEqual(parseDtmfInfo('application/dtmf', '9\r\n'), { ok: true, value: { digit: '9', durationMs: 250 } });
  assert.deepEqual(parseDtmfInfo('application/dtmf', new TextEncoder().encode('d')), { ok: true, value: { digit: 'D', durationMs: 250 } });
  for (const [ct, body] of [
    ['application/dtmf-relay', 'Signal=Z\r\n'],
    ['application/dtmf-relay', 'Duration=100\r\n'],
    ['application/dtmf-relay', 'Signal=1\r\nDuration=-5\r\n'],
    ['application/dtmf-relay', 'garbage'],
    ['application/dtmf', '12'],
    ['text/plain', 'Signal=1'],
  ] as const) {
    const r = parseDtmfInfo(ct, body);
    assert.equal(r.ok, false, `${ct} ${body}`);
  }
  const f = formatDtmfRelay({ digit: '#', durationMs: 200 });
  assert.equal(f.body, 'Signal=#\r\nDuration=200\r\n');
  assert.deepEqual(parseDtmfInfo(f.contentType, f.body), { ok: true, value: { digit: '#', durationMs: 200 } });
  const g = formatDtmf('4');
  assert.deepEqual(parseDtmfInfo(g.contentType, g.body), { ok: true, value: { digit: '4', durationMs: 250 } });
});

test('same digit pressed again with its start packet lost is a new event, not a continuation', () => {
  const s = new TelephoneEventSender();
  const a = s.schedule(digitToEvent('4'), 100, 100).map((x) => x.packet);
  const b = s.schedule(digitToEvent('4'), 100 + 2400, 100).map((x) => x.packet);
  const r = new TelephoneEventReceiver();
  const reps = [...a.slice(0, -3), ...b.slice(1)].flatMap((p) => r.receive(p)); // a's ends and b's start lost
  assert.deepEqual(
    reps.map((x) => (x.type === 'start' ? `+${x.digit}` : `-${x.digit}:${x.durationMs}${x.inferred ? '?' : ''}`)),
    ['+4', '-4:50?', '+4', '-4:100'],
  );
});
