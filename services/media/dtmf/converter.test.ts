import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InbandToRfc4733, Rfc4733ToInband } from './converter.js';
import { TelephoneEventSender, TelephoneEventReceiver, decodeTelephoneEvent, type TelephoneEventPacket, type TelephoneEventReport } from './rfc4733.js';
import { detectDtmfDigits } from './detector.js';
import { digitFrequencies, digitToEvent, type DtmfDigit } from './digits.js';
import { parseDtmfInfo } from './info.js';
import { sines, silence, concat, whiteNoise, mix } from '../dsp/synth.js';

function keyed(seq: string, toneMs: number, gapMs: number): Int16Array {
  const parts: Int16Array[] = [silence(35)];
  for (const d of seq) {
    const f = digitFrequencies(d as DtmfDigit);
    parts.push(sines([{ freq: f.low, dbm0: -9 }, { freq: f.high, dbm0: -7 }], toneMs * 8), silence(gapMs));
  }
  return concat(...parts);
}

test('in-band PCM → RFC 4733 events, checked by an RFC 4733 receiver', () => {
  const seq = '147#0D';
  const clean = keyed(seq, 120, 80);
  const pcm = mix(clean.length, clean, whiteNoise(clean.length, -40, 3));
  const conv = new InbandToRfc4733();
  const rx = new TelephoneEventReceiver();
  const reports: TelephoneEventReport[] = [];
  const packets: TelephoneEventPacket[] = [];
  const ts0 = 0xffffff00; // wraps
  let muted = 0;
  for (let i = 0; i < pcm.length; i += 160) {
    const { packets: p, inDigit } = conv.process(pcm.subarray(i, i + 160), (ts0 + i) >>> 0);
    if (inDigit) muted++;
    packets.push(...p);
  }
  packets.push(...conv.flush());
  for (const p of packets) reports.push(...rx.receive(p));
  const ends = reports.filter((r): r is Extract<TelephoneEventReport, { type: 'end' }> => r.type === 'end');
  assert.equal(ends.map((e) => e.digit).join(''), seq);
  for (const e of ends) {
    assert.ok(Math.abs(e.durationMs - 120) <= 15, `${e.digit} ${e.durationMs}`);
    assert.equal(e.inferred, false);
  }
  assert.equal(packets.filter((p) => p.marker).length, seq.length);
  assert.equal(packets.filter((p) => decodeTelephoneEvent(p.payload).end).length, 3 * seq.length);
  assert.ok(muted >= seq.length * 4, `muted frames ${muted}`);
});

test('RFC 4733 events → in-band PCM, checked by the Goertzel detector', () => {
  const seq = '2580*9';
  const sender = new TelephoneEventSender();
  const conv = new Rfc4733ToInband();
  let ts = 1000;
  const timed: { at: number; packet: TelephoneEventPacket }[] = [];
  for (const d of seq) {
    timed.push(...sender.schedule(digitToEvent(d as DtmfDigit), ts, 100));
    ts += 1600; // 200 ms per digit
  }
  // play 20 ms ticks; deliver packets whose time has come (one end packet of '0' lost)
  const lostEnd = timed.findIndex((x) => x.packet.timestamp === 1000 + 3 * 1600 && decodeTelephoneEvent(x.packet.payload).end);
  assert.ok(lostEnd > 0);
  timed.splice(lostEnd, 1);
  const out: Int16Array[] = [];
  let k = 0;
  for (let now = 1000; now < ts + 1600; now += 160) {
    while (k < timed.length && timed[k]!.at <= now) conv.receive(timed[k++]!.packet);
    conv.expire(now);
    out.push(conv.nextFrame() ?? new Int16Array(160));
  }
  const found = detectDtmfDigits(concat(...out));
  assert.equal(found.map((f) => f.digit).join(''), seq);
  for (const f of found) assert.ok(Math.abs(f.durationMs - 100) <= 12, `${f.digit} ${f.durationMs}`);
  assert.equal(conv.busy, false);
});

test('fast RFC 4733 / SIP INFO digits are queued with Q.24 minimum tone and pause', () => {
  const conv = new Rfc4733ToInband();
  const sender = new TelephoneEventSender();
  // three 20 ms events back to back (shorter than Q.24 allows in-band): all delivered at once
  for (const [i, d] of ['3', '3', '6'].entries()) for (const x of sender.schedule(digitToEvent(d as DtmfDigit), 5000 + i * 200, 20)) conv.receive(x.packet);
  const info = parseDtmfInfo('application/dtmf-relay', 'Signal=#\r\nDuration=80\r\n');
  assert.ok(info.ok);
  conv.addDigit(info.value.digit, info.value.durationMs);
  const out: Int16Array[] = [];
  for (let i = 0; i < 100 && conv.busy; i++) out.push(conv.nextFrame()!);
  out.push(new Int16Array(800));
  const found = detectDtmfDigits(concat(...out));
  assert.equal(found.map((f) => f.digit).join(''), '336#');
  assert.ok(found.every((f) => f.durationMs >= 50));
});

test('round trip: in-band → RFC 4733 → in-band keeps the digits', () => {
  const seq = '9*ABC1';
  const pcm = keyed(seq, 70, 60);
  const a = new InbandToRfc4733();
  const b = new Rfc4733ToInband();
  const out: Int16Array[] = [];
  for (let i = 0; i < pcm.length + 4000; i += 160) {
    const frame = i < pcm.length ? pcm.subarray(i, i + 160) : new Int16Array(160);
    for (const p of a.process(frame, i).packets) b.receive(p);
    out.push(b.nextFrame() ?? new Int16Array(160));
  }
  for (const p of a.flush()) b.receive(p);
  assert.equal(detectDtmfDigits(concat(...out)).map((f) => f.digit).join(''), seq);
});
