import { test } from 'node:test';
import assert from 'node:assert/strict';
import { G711Playout } from './playout.js';
import { aLawEncode } from '../codec/g711.js';
import { sines, prng, concat } from '../dsp/synth.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { powerToDbm0 } from '../dsp/levels.js';

test('a 1 kHz tone through jitter, reordering and 3 % loss comes out as a continuous 1 kHz tone', () => {
  const frames = 500;
  const tone = sines([{ freq: 1000, dbm0: -10 }], frames * 160);
  const rnd = prng(99);
  const arrivals: { at: number; seq: number }[] = [];
  for (let k = 0; k < frames; k++) if (rnd() > 0.03) arrivals.push({ at: k * 20 + 20 + rnd() * 40, seq: k });
  arrivals.sort((a, b) => a.at - b.at);
  const p = new G711Playout('PCMA');
  const out: Int16Array[] = [];
  let i = 0;
  let concealed = 0;
  for (let now = 0; now < frames * 20 + 400; now += 20) {
    while (i < arrivals.length && arrivals[i]!.at <= now) {
      const k = arrivals[i++]!.seq;
      p.push({ sequence: k, timestamp: k * 160, payload: aLawEncode(tone.subarray(k * 160, k * 160 + 160)) }, now);
    }
    const f = p.pull(now);
    if (f.kind === 'concealed' && f.reason !== 'underrun') concealed++;
    if (f.kind !== 'idle' && out.length < frames - 10) out.push(new Int16Array(f.pcm));
  }
  assert.ok(concealed >= 5, `concealed ${concealed}`);
  const all = concat(...out);
  const [p1k, p500] = detectTones(all, [1000, 500]);
  assert.ok(Math.abs(powerToDbm0(p1k!) - -10) < 1, `level ${powerToDbm0(p1k!)}`);
  assert.ok(p1k! / meanSquare(all) > 0.95, 'tone purity');
  assert.ok(powerToDbm0(p500!) < -40);
  assert.ok(p.stats.lost > 5);
});
