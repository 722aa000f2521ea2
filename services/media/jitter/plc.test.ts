import { test } from 'node:test';
import assert from 'node:assert/strict';
import { G711Plc } from './plc.js';
import { sines, concat } from '../dsp/synth.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { dominantFrequencies } from '../dsp/spectrum.js';
import { powerToDbm0 } from '../dsp/levels.js';
import { muLawDecode, muLawEncode } from '../codec/g711.js';

/** Play `signal` in 20 ms frames through the PLC, losing the frames in `lost`. */
function play(signal: Int16Array, lost: ReadonlySet<number>): Int16Array[] {
  const plc = new G711Plc();
  const out: Int16Array[] = [];
  for (let f = 0; f * 160 < signal.length; f++) {
    if (lost.has(f)) out.push(plc.conceal());
    else out.push(plc.good(muLawDecode(muLawEncode(signal.subarray(f * 160, f * 160 + 160)))));
  }
  return out;
}

test('a single lost frame inside a tone is filled with the same tone', () => {
  for (const freq of [440, 697, 1000, 1633]) {
    const tone = sines([{ freq, dbm0: -10 }], 160 * 30);
    const out = play(tone, new Set([15]));
    const filled = out[15]!;
    const [p] = detectTones(filled, [freq]);
    assert.ok(Math.abs(powerToDbm0(p!) - -10) < 2, `${freq} Hz level ${powerToDbm0(p!)}`);
    const peak = dominantFrequencies(filled, 1)[0]!;
    assert.ok(Math.abs(peak.freq - freq) < freq * 0.02, `${freq} Hz → ${peak.freq}`);
    // the whole concealed stream still reads as one clean tone (no strong clicks)
    const all = concat(...out.slice(10, 20));
    const [pa] = detectTones(all, [freq]);
    assert.ok(pa! / meanSquare(all) > 0.9, `${freq} Hz purity ${pa! / meanSquare(all)}`);
  }
});

test('a DTMF pair survives one lost frame (two-tone periodicity)', () => {
  const tone = sines([{ freq: 770, dbm0: -10 }, { freq: 1336, dbm0: -8 }], 160 * 20);
  const filled = play(tone, new Set([10]))[10]!;
  const [pl, ph, other] = detectTones(filled, [770, 1336, 1000]);
  assert.ok(powerToDbm0(pl!) > -14 && powerToDbm0(ph!) > -12, `${powerToDbm0(pl!)} ${powerToDbm0(ph!)}`);
  assert.ok(powerToDbm0(other!) < -30);
});

test('long losses fade: full level for 10 ms, −20 % per 10 ms after, silent from 60 ms', () => {
  const tone = sines([{ freq: 500, dbm0: -10 }], 160 * 30);
  const lost = new Set([10, 11, 12, 13, 14, 15, 16, 17]);
  const out = play(tone, lost);
  const lv = (f: number, from: number, n: number): number => powerToDbm0(meanSquare(out[f]!, from, n));
  assert.ok(Math.abs(lv(10, 0, 80) - -10) < 1, `first 10 ms ${lv(10, 0, 80)}`);
  const ms = (f: number, i: number): number => meanSquare(out[f]!, i, 40);
  // monotonic fade over 10..60 ms of the erasure
  let prev = Infinity;
  for (let t = 80; t < 480; t += 40) {
    const f = 10 + Math.floor(t / 160);
    const e = ms(f, t % 160);
    assert.ok(e <= prev * 1.05, `fade at ${t / 8} ms`);
    prev = e;
  }
  for (const f of [13, 14, 15, 16, 17]) assert.equal(meanSquare(out[f]!), 0, `frame ${f} silent`);
  // recovery: the good frame after the loss is back to full level after its overlap-add
  assert.ok(Math.abs(lv(18, 80, 80) - -10) < 0.5);
});

test('recovery after a short loss overlap-adds, then passes audio through unchanged', () => {
  const tone = sines([{ freq: 300, dbm0: -12 }], 160 * 12);
  const out = play(tone, new Set([5]));
  const ref = muLawDecode(muLawEncode(tone));
  const after = out[6]!;
  for (let i = 64; i < 160; i++) assert.equal(after[i], ref[6 * 160 + i]); // 8 ms OLA after a 20 ms loss
  for (let i = 0; i < 160; i++) assert.equal(out[7]![i], ref[7 * 160 + i]);
  // no big step at the boundary into the concealed frame and out of it
  const maxStep = (a: Int16Array, b: Int16Array): number => Math.abs(a[a.length - 1]! - b[0]!);
  const amp = 32124 * Math.pow(10, -3.17 / 20) * Math.pow(10, -12 / 20);
  const slope = amp * 2 * Math.PI * 300 / 8000;
  assert.ok(maxStep(out[4]!, out[5]!) <= slope * 1.5 + 50);
  assert.ok(maxStep(out[5]!, out[6]!) <= slope * 1.5 + 50);
});

test('loss before any audio conceals with silence', () => {
  const plc = new G711Plc();
  assert.equal(meanSquare(plc.conceal()), 0);
  assert.equal(plc.erasureCount, 1);
});
