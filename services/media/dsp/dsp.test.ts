import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goertzelPower, detectTones, meanSquare } from './goertzel.js';
import { dbm0ToPower, powerToDbm0, dbm0ToAmplitude } from './levels.js';
import { sines, whiteNoise, mix } from './synth.js';
import { dominantFrequencies } from './spectrum.js';

test('Goertzel reads the level of an on-bin tone', () => {
  const x = sines([{ freq: 1000, dbm0: -10 }], 800);
  const p = goertzelPower(x, 1000);
  assert.ok(Math.abs(powerToDbm0(p) - -10) < 0.1, `${powerToDbm0(p)}`);
  assert.ok(Math.abs(powerToDbm0(meanSquare(x)) - -10) < 0.1);
  assert.ok(goertzelPower(x, 1300) < p / 1000);
});

test('detectTones separates a two-tone signal and ignores absent tones', () => {
  const x = sines([{ freq: 350, dbm0: -13 }, { freq: 440, dbm0: -19 }], 1600);
  const [p350, p440, p620] = detectTones(x, [350, 440, 620]);
  assert.ok(Math.abs(powerToDbm0(p350 as number) - -13) < 0.3);
  assert.ok(Math.abs(powerToDbm0(p440 as number) - -19) < 0.3);
  assert.ok(powerToDbm0(p620 as number) < -60);
});

test('dominantFrequencies finds dial-tone components within 1 Hz even in noise', () => {
  const x = mix(4000, sines([{ freq: 350, dbm0: -13 }, { freq: 440, dbm0: -13 }], 4000), whiteNoise(4000, -40, 7));
  const peaks = dominantFrequencies(x, 2);
  const fs = peaks.map((p) => p.freq).sort((a, b) => a - b);
  assert.equal(fs.length, 2);
  assert.ok(Math.abs((fs[0] as number) - 350) < 1, `${fs[0]}`);
  assert.ok(Math.abs((fs[1] as number) - 440) < 1, `${fs[1]}`);
  for (const p of peaks) assert.ok(Math.abs(powerToDbm0(p.power) - -13) < 0.5);
});

test('dominantFrequencies on silence and noise returns nothing tonal', () => {
  assert.deepEqual(dominantFrequencies(new Int16Array(1000)), []);
  const noise = whiteNoise(8000, -20, 3);
  const p = dominantFrequencies(noise, 1)[0];
  assert.ok(p === undefined || powerToDbm0(p.power) < -35);
  assert.ok(Math.abs(powerToDbm0(meanSquare(noise)) - -20) < 0.3);
  assert.ok(dbm0ToAmplitude(0) > 22000 && dbm0ToAmplitude(0) < 22800);
  assert.ok(Math.abs(powerToDbm0(dbm0ToPower(-7)) - -7) < 1e-9);
});
