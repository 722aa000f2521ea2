import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TONES, COUNTRIES, TONE_NAMES, toneSpec, toneFrequencies, loopPeriodMs, parseCountry, type ToneSpec } from './table.js';
import { ToneGenerator } from './generator.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { dominantFrequencies } from '../dsp/spectrum.js';
import { powerToDbm0 } from '../dsp/levels.js';
import { sines } from '../dsp/synth.js';

function render(spec: ToneSpec, ms: number): Int16Array {
  const g = new ToneGenerator(spec);
  const frames = Math.ceil(ms / 20);
  const out = new Int16Array(frames * 160);
  for (let f = 0; f < frames; f++) g.nextFrame(out.subarray(f * 160, f * 160 + 160));
  return out;
}

/** Expected step (index) at each sample, following loopFrom. */
function timeline(spec: ToneSpec, samples: number): { start: number; end: number; freqs: readonly number[] }[] {
  const out: { start: number; end: number; freqs: readonly number[] }[] = [];
  let t = 0;
  let i = 0;
  while (t < samples) {
    const st = spec.steps[i]!;
    const n = Math.round(st.ms * 8);
    out.push({ start: t, end: t + n, freqs: st.freqs });
    t += n;
    i = i + 1 < spec.steps.length ? i + 1 : spec.loopFrom;
  }
  return out;
}

test('table has every tone for every country, each with a source', () => {
  for (const c of COUNTRIES) {
    for (const n of TONE_NAMES) {
      const s = toneSpec(c, n);
      assert.ok(s.source.length > 10, `${c} ${n}`);
      assert.ok(s.steps.length > 0 && toneFrequencies(s).length > 0);
      assert.ok(s.levelDbm0 <= -10 && s.levelDbm0 >= -30);
    }
  }
  assert.equal(parseCountry('uk'), 'GB');
  assert.equal(parseCountry('xx'), undefined);
  assert.deepEqual(toneFrequencies(TONES.US.dial), [350, 440]);
  assert.equal(loopPeriodMs(TONES.GB.ringback), 3000);
  assert.equal(loopPeriodMs(TONES.US.stutterDial), 1000);
});

test('every tone has the right frequencies, level and cadence when listened to', () => {
  for (const c of COUNTRIES) {
    for (const n of TONE_NAMES) {
      const spec = toneSpec(c, n);
      let prefix = 0;
      for (let i = 0; i < spec.loopFrom; i++) prefix += spec.steps[i]!.ms;
      const ms = Math.min(prefix + 2 * loopPeriodMs(spec) + 100, 25_000);
      const pcm = render(spec, ms);
      const tl = timeline(spec, pcm.length);
      let onChecked = 0;
      let offChecked = 0;
      for (const seg of tl) {
        // cadence: 5 ms blocks fully inside the step, 3 ms away from its edges (ramps)
        for (let b = seg.start + 24; b + 40 <= Math.min(seg.end - 24, pcm.length); b += 40) {
          const db = powerToDbm0(meanSquare(pcm, b, 40));
          if (seg.freqs.length === 0) {
            assert.ok(db < -70, `${c} ${n} silent at ${b / 8} ms: ${db}`);
            offChecked++;
          } else {
            // 5 ms blocks of two close tones see their beat (up to ~10 dB dips); the level is checked below
            const expected = spec.levelDbm0 + 10 * Math.log10(seg.freqs.length);
            assert.ok(db > expected - 15 && db < expected + 3.5, `${c} ${n} level at ${b / 8} ms: ${db} vs ${expected}`);
            onChecked++;
          }
        }
        // frequency content of steps long enough to resolve
        if (seg.freqs.length > 0 && seg.end - seg.start >= 800 && seg.end <= pcm.length) {
          const block = pcm.subarray(seg.start + 40, seg.end - 40);
          const all = toneFrequencies(spec);
          const p = detectTones(block, all);
          all.forEach((f, k) => {
            const lv = powerToDbm0(p[k]!);
            if (seg.freqs.includes(f)) assert.ok(Math.abs(lv - spec.levelDbm0) < 1, `${c} ${n} ${f} Hz at ${lv}`);
            else assert.ok(lv < spec.levelDbm0 - 20, `${c} ${n} ${f} Hz should be off: ${lv}`);
          });
          const peaks = dominantFrequencies(block, seg.freqs.length + 1, { floorDb: 25 });
          assert.equal(peaks.length, seg.freqs.length, `${c} ${n} peaks ${JSON.stringify(peaks)}`);
          for (const pk of peaks) assert.ok(seg.freqs.some((f) => Math.abs(f - pk.freq) < 2), `${c} ${n} peak ${pk.freq}`);
        }
      }
      assert.ok(onChecked > 0, `${c} ${n} on`);
      if (spec.steps.some((s) => s.freqs.length === 0)) assert.ok(offChecked > 0, `${c} ${n} off`);
    }
  }
});

test('phase is continuous across frames (matches an ideal sine sample by sample)', () => {
  const pcm = render(TONES.US.dial, 2000);
  const ideal = sines([{ freq: 350, dbm0: -13 }, { freq: 440, dbm0: -13 }], pcm.length);
  let maxErr = 0;
  for (let i = 16; i < pcm.length; i++) maxErr = Math.max(maxErr, Math.abs(pcm[i]! - ideal[i]!));
  assert.ok(maxErr <= 2, `max error ${maxErr}`);
});

test('frames of other sizes and reset', () => {
  const g = new ToneGenerator(TONES.FR.busy, { frameSamples: 80, levelDbm0: -20 });
  assert.equal(g.nextFrame().length, 80);
  assert.equal(g.elapsedMs, 10);
  g.reset();
  assert.equal(g.elapsedMs, 0);
  const f = g.nextFrame(new Int16Array(160));
  assert.ok(Math.abs(powerToDbm0(meanSquare(f, 40, 120)) - -20) < 1);
});
