/**
 * What a simulated device hears now, from the 20 ms frames reaching it: dial tone, ringback, busy,
 * congestion (by the country's tone plan, services/media/tones/table.ts), silence, or "other" with
 * its dominant frequency (speech, a test tone, fax CNG/CED, FSK).
 *
 * Each frame is classed by Goertzel power at the plan's frequencies against its total power; runs of
 * equal frames become segments, and the segments' durations are matched against each candidate
 * tone's cadence (±20 % or ±60 ms). A tone whose frequencies no other tone of the plan shares is
 * named at once; otherwise its cadence decides (a continuous tone is dial tone once it outlasts every
 * cadenced candidate's "on" step).
 */
import { muLawDecode } from '../../services/media/codec/g711.js';
import { goertzelPower, meanSquare } from '../../services/media/dsp/goertzel.js';
import { powerToDbm0 } from '../../services/media/dsp/levels.js';
import { dominantFrequencies } from '../../services/media/dsp/spectrum.js';
import { toneFrequencies, toneSpec, type Country, type ToneName, type ToneSpec } from '../../services/media/tones/table.js';

export type Heard = 'dial' | 'ringback' | 'busy' | 'congestion' | 'stutter-dial' | 'silence' | 'other';

export interface HearingState {
  hears: Heard;
  /** Dominant frequency of what is heard (tones: the strongest component), Hz. */
  dominantHz: number | null;
  levelDbm0: number | null;
}

const FRAME_MS = 20;
const SILENCE_DBM0 = -45;
const TONE_SHARE = 0.6;
const CLASSIFIED: readonly [ToneName, Heard][] = [
  ['dial', 'dial'],
  ['ringback', 'ringback'],
  ['busy', 'busy'],
  ['congestion', 'congestion'],
];

interface Segment {
  /** Sorted frequency set key ('350+440'), '' for silence, 'other' for non-plan energy. */
  key: string;
  ms: number;
}

interface Candidate {
  heard: Heard;
  key: string;
  /** Alternating on/off durations, or null for a continuous tone. */
  cadence: number[] | null;
  maxOn: number;
  maxOff: number;
}

function cadenceOf(spec: ToneSpec): number[] | null {
  if (spec.steps.length === 1) return null;
  return spec.steps.map((s) => s.ms);
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(60, 0.2 * b);
}

export class ToneClassifier {
  readonly #freqs: number[];
  readonly #candidates: Candidate[];
  readonly #segments: Segment[] = [];
  #current: Heard = 'silence';
  #lastTone: Candidate | null = null;
  #dominant: number | null = null;
  #level: number | null = null;
  readonly #recentPcm = new Int16Array(160 * 5);
  #frames = 0;

  constructor(readonly country: Country) {
    const freqSet = new Set<number>();
    this.#candidates = CLASSIFIED.map(([name, heard]) => {
      const spec = toneSpec(country, name);
      const fs = toneFrequencies(spec);
      fs.forEach((f) => freqSet.add(f));
      const cad = cadenceOf(spec);
      const on = cad === null ? [Infinity] : cad.filter((_, i) => i % 2 === 0);
      const off = cad === null ? [0] : cad.filter((_, i) => i % 2 === 1);
      return { heard, key: fs.join('+'), cadence: cad, maxOn: Math.max(...on), maxOff: Math.max(...off) };
    });
    this.#freqs = [...freqSet].sort((a, b) => a - b);
  }

  /** Feed one frame of µ-law. */
  push(frame: Uint8Array): void {
    const pcm = muLawDecode(frame);
    this.#recentPcm.copyWithin(0, pcm.length);
    this.#recentPcm.set(pcm, this.#recentPcm.length - pcm.length);
    this.#frames++;
    const total = meanSquare(pcm);
    const dbm0 = total > 0 ? powerToDbm0(total) : -100;
    let key = '';
    if (dbm0 >= SILENCE_DBM0) {
      const present: number[] = [];
      let share = 0;
      const powers = this.#freqs.map((f) => goertzelPower(pcm, f));
      const strongest = Math.max(...powers);
      this.#freqs.forEach((f, i) => {
        const p = powers[i] as number;
        // A component counts when it is within 10 dB of the strongest plan frequency.
        if (p > strongest / 10 && p > total * 0.1) {
          present.push(f);
          share += p;
        }
      });
      key = share >= TONE_SHARE * total && present.length > 0 ? this.#normaliseKey(present) : 'other';
    }
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && last.key === key) last.ms += FRAME_MS;
    else {
      this.#segments.push({ key, ms: FRAME_MS });
      if (this.#segments.length > 24) this.#segments.shift();
    }
    if (dbm0 >= SILENCE_DBM0) this.#level = Math.round(dbm0 * 10) / 10;
    if (this.#frames % 5 === 0 || key !== '') this.#classify(key);
  }

  /** The recent segments (frequency key and duration), for diagnostics. */
  segments(): readonly { key: string; ms: number }[] {
    return this.#segments.map((s) => ({ ...s }));
  }

  state(): HearingState {
    return { hears: this.#current, dominantHz: this.#current === 'silence' ? null : this.#dominant, levelDbm0: this.#current === 'silence' ? null : this.#level };
  }

  /** Two-frequency tones whose Goertzel bins overlap (400/425/440 Hz) are told apart by the closest
   * plan key containing the strongest component; keys are matched exactly against the candidates. */
  #normaliseKey(present: number[]): string {
    const key = present.join('+');
    if (this.#candidates.some((c) => c.key === key)) return key;
    // Leakage between near frequencies (e.g. 440 bleeding into 480 at 20 ms resolution): pick the
    // candidate key with the most components in common.
    let best = key;
    let bestCommon = 0;
    for (const c of this.#candidates) {
      const common = c.key.split('+').filter((f) => present.includes(Number(f))).length;
      if (common > bestCommon || (common === bestCommon && common > 0 && c.key.split('+').length < best.split('+').length)) {
        best = c.key;
        bestCommon = common;
      }
    }
    return best;
  }

  #classify(key: string): void {
    const segs = this.#segments;
    const cur = segs[segs.length - 1] as Segment;
    // One frame of a new sound is a transition (a tone's ramp spreads its spectrum): wait for two.
    if (key !== '' && cur.ms < 40) return;
    if (key === 'other') {
      if (cur.ms >= 60) {
        this.#current = 'other';
        this.#lastTone = null;
        this.#dominant = this.#measureDominant();
      }
      return;
    }
    if (key === '') {
      // Silence: still the last tone while within its off time, otherwise silence.
      const t = this.#lastTone;
      if (t !== null && t.cadence !== null && cur.ms <= t.maxOff + 300) return;
      if (cur.ms >= 200 || t === null) {
        this.#current = 'silence';
        this.#lastTone = null;
      }
      return;
    }
    const sameKey = this.#candidates.filter((c) => c.key === key);
    if (sameKey.length === 0) {
      this.#current = 'other';
      this.#dominant = this.#measureDominant();
      return;
    }
    this.#dominant = Number(key.split('+')[0]);
    let pick: Candidate | null = null;
    if (sameKey.length === 1) pick = sameKey[0] as Candidate;
    else {
      const cadenced = sameKey.filter((c) => c.cadence !== null);
      const continuous = sameKey.find((c) => c.cadence === null);
      const longestOn = Math.max(0, ...cadenced.map((c) => c.maxOn));
      if (continuous !== undefined && cur.ms > longestOn + 300) pick = continuous;
      else pick = this.#matchCadence(cadenced) ?? (this.#lastTone !== null && this.#lastTone.key === key ? this.#lastTone : null);
    }
    // Not yet identified (the first "on" of a cadence two tones share): keep what was heard.
    if (pick !== null) {
      this.#lastTone = pick;
      this.#current = pick.heard;
    }
  }

  /** The cadenced candidate whose on/off steps match the last completed on+off pair(s). */
  #matchCadence(cands: Candidate[]): Candidate | null {
    const segs = this.#segments;
    // Completed segments only (drop the one in progress), without the 20-40 ms transition frames a
    // tone's ramp makes between on and off.
    const done: Segment[] = [];
    for (const s of segs.slice(0, -1)) {
      if (s.ms <= 20 || (s.key === 'other' && s.ms <= 40)) continue;
      const prev = done[done.length - 1];
      if (prev !== undefined && prev.key === s.key) prev.ms += s.ms;
      else done.push({ ...s });
    }
    if (done.length < 2) return null;
    // Compare the latest completed segments (at least one whole cadence, or two on/off pairs) with
    // every rotation of each cadence: the candidate that explains the longest history wins.
    let best: Candidate | null = null;
    let bestLen = 0;
    for (const c of cands) {
      const cad = c.cadence as number[];
      let len = Math.min(done.length, Math.max(cad.length, 4));
      // Start the window on an "on" segment.
      if ((done[done.length - len] as Segment).key === '') len--;
      if (len < 2) continue;
      const obs = done.slice(done.length - len);
      for (let r = 0; r < cad.length; r += 2) {
        const ok = obs.every((seg, j) => {
          const step = (r + j) % cad.length;
          const isOn = step % 2 === 0;
          return (isOn ? seg.key === c.key : seg.key === '') && close(seg.ms, cad[step] as number);
        });
        if (ok && len > bestLen) {
          best = c;
          bestLen = len;
        }
      }
    }
    return best;
  }

  #measureDominant(): number | null {
    const peaks = dominantFrequencies(this.#recentPcm, 1, { minHz: 100, maxHz: 3900 });
    return peaks[0] !== undefined ? Math.round(peaks[0].freq) : null;
  }
}
