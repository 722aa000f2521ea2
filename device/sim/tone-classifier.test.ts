import { test } from 'node:test';
import assert from 'node:assert/strict';
import { muLawEncode } from '../../services/media/codec/g711.js';
import { sines } from '../../services/media/dsp/synth.js';
import { ToneGenerator } from '../../services/media/tones/generator.js';
import { COUNTRIES, toneSpec, type Country, type ToneName } from '../../services/media/tones/table.js';
import { ToneClassifier, type Heard } from './tone-classifier.js';

function listen(country: Country, frames: () => Int16Array, seconds: number): Heard[] {
  const c = new ToneClassifier(country);
  const seen: Heard[] = [];
  for (let i = 0; i < seconds * 50; i++) {
    c.push(muLawEncode(frames()));
    seen.push(c.state().hears);
  }
  return seen;
}

const EXPECT: [ToneName, Heard][] = [
  ['dial', 'dial'],
  ['ringback', 'ringback'],
  ['busy', 'busy'],
  ['congestion', 'congestion'],
];

for (const country of COUNTRIES) {
  test(`${country}: dial tone, ringback, busy and congestion are told apart`, () => {
    for (const [name, heard] of EXPECT) {
      // E.180 gives Mexico one cadence for busy and congestion: no listener can tell them apart.
      if (name === 'congestion' && JSON.stringify(toneSpec(country, 'congestion').steps) === JSON.stringify(toneSpec(country, 'busy').steps)) continue;
      const gen = new ToneGenerator(toneSpec(country, name));
      // Long enough for two cycles of the slowest cadence (SE ringback 1 s on / 5 s off).
      const seen = listen(country, () => gen.nextFrame(), 13);
      const last = seen.slice(-50);
      assert.ok(
        last.every((h) => h === heard),
        `${country} ${name}: heard ${[...new Set(last)].join(',')} over the last second`,
      );
    }
  });
}

test('silence is silence, a 1000 Hz tone is "other" at 1000 Hz', () => {
  const c = new ToneClassifier('US');
  for (let i = 0; i < 50; i++) c.push(muLawEncode(new Int16Array(160)));
  assert.equal(c.state().hears, 'silence');
  let off = 0;
  for (let i = 0; i < 50; i++) {
    c.push(muLawEncode(sines([{ freq: 1000, dbm0: -15 }], 160, off)));
    off += 160;
  }
  const s = c.state();
  assert.equal(s.hears, 'other');
  assert.ok(s.dominantHz !== null && Math.abs(s.dominantHz - 1000) < 15, `dominant ${s.dominantHz}`);
});
