import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectTones, meanSquare } from './dsp/goertzel.js';
import { sines } from './dsp/synth.js';
import { downmix, resample } from './resample.js';

test('length follows the rate ratio and DC passes at unity gain', () => {
  const dc = new Int16Array(44100).fill(10000);
  const out = resample(dc, 44100, 8000);
  assert.equal(out.length, 8000);
  for (let i = 50; i < out.length - 50; i++) assert.ok(Math.abs((out[i] ?? 0) - 10000) <= 2, `sample ${i}: ${out[i]}`);
  assert.equal(resample(new Int16Array(0), 8000, 16000).length, 0);
  assert.equal(resample(new Int16Array(160), 8000, 16000).length, 320);
});

test('upsampling 8 kHz to 16 kHz keeps a 1209 Hz tone at its frequency and level', () => {
  const x = sines([{ freq: 1209, dbm0: -10 }], 8000);
  const y = resample(x, 8000, 16000);
  const mid = y.subarray(800, 15200);
  const [p1209, p2791] = detectTones(mid, [1209, 8000 - 1209], 16000);
  const ms = meanSquare(mid);
  assert.ok((p1209 ?? 0) / ms > 0.9, 'tone carries the power');
  assert.ok((p2791 ?? 0) / ms < 1e-4, 'no image at 6791 Hz (checked at its fold)');
  assert.ok(Math.abs(ms / meanSquare(x) - 1) < 0.05, 'level kept');
});

test('downsampling removes content above the new Nyquist', () => {
  const x = sines([{ freq: 5000, dbm0: -10 }], 16000, 0, 16000);
  const y = resample(x, 16000, 8000);
  assert.ok(meanSquare(y.subarray(200, 7800)) < meanSquare(x) * 1e-4, '5 kHz is gone at 8 kHz');
});

test('rates are validated and downmix averages channels', () => {
  assert.throws(() => resample(new Int16Array(4), 0, 8000), RangeError);
  assert.throws(() => resample(new Int16Array(4), 8000, 7999.5), RangeError);
  assert.deepEqual(downmix([Int16Array.of(100, -100), Int16Array.of(300, 100)]), Int16Array.of(200, 0));
});

test('rates without a small common divisor (no filter bank) resample correctly too', () => {
  const x = sines([{ freq: 1000, dbm0: -10 }], 44100, 0, 44100);
  const y = resample(x, 44100, 7919); // 7919 is prime: 7919 phases, direct path
  assert.equal(y.length, 7919);
  const mid = y.subarray(400, 7500);
  const [p] = detectTones(mid, [1000], 7919);
  assert.ok((p ?? 0) / meanSquare(mid) > 0.95);
  const z = resample(x, 44100, 8000); // filter bank path: same level
  assert.ok(Math.abs(meanSquare(z.subarray(400, 7600)) / meanSquare(mid) - 1) < 0.02);
});
