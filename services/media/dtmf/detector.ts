// In-band DTMF detector (Goertzel) with ITU-T Q.24 acceptance criteria, streaming over frames of any size.
//
// Analysis: 160-sample (20 ms) Hann-windowed blocks, hop 80 samples (10 ms), independent of the caller's
// frame size. Per block: (1) level and stationarity gate on 4 quarter energies (a block only "hits" when
// the tone fills ≥ ~88 % of it, which turns hit counts into a duration measure); (2) Goertzel at the 8
// nominal frequencies, strongest per group; (3) each of the two tones' actual frequency is estimated by a
// hill-climb on a 1 % Goertzel grid + log-parabolic interpolation, so deviation is measured, not inferred from level loss;
// (4) Q.24 checks on the refined values: deviation, per-tone level, normal/reverse twist, share of block
// energy in the two tones (talk-off), margin over the other tones of each group, second harmonics.
//
// Timing (Q.24): a digit starts after 2 consecutive hits (any tone ≥ 40 ms gives ≥ 2; < 24 ms never does)
// and ends after 4 consecutive misses (any pause ≥ 40 ms gives ≥ 5; an interruption ≤ 10 ms gives ≤ 3 and
// is bridged).

import { SAMPLE_RATE } from '../codec/g711.js';
import { goertzelCoeff, hannWindow } from '../dsp/goertzel.js';
import { dbm0ToPower } from '../dsp/levels.js';
import { DTMF_HIGH, DTMF_KEYPAD, DTMF_LOW, type DtmfDigit } from './digits.js';

export interface DtmfDetectorOptions {
  /** Minimum level of each tone, dBm0 (Q.24 operate level is −25 dBm0 or better in most networks). */
  readonly minToneDbm0: number;
  /** High group above low group, dB. */
  readonly maxNormalTwistDb: number;
  /** Low group above high group, dB. */
  readonly maxReverseTwistDb: number;
  /** Accepted |f/f0 − 1|; Q.24 requires accept ≤ 1.5 %, reject ≥ 3.5 %. */
  readonly maxFreqDeviation: number;
  /** Minimum share of the block's energy carried by the two tones (talk-off guard). */
  readonly minEnergyRatio: number;
  /** Each tone must exceed the other three of its group by this much, dB. */
  readonly minGroupMarginDb: number;
  /** Second harmonic must be below its fundamental by this much, dB. */
  readonly minHarmonicRejectDb: number;
  /** Consecutive hit blocks needed to start a digit. */
  readonly startHits: number;
  /** Consecutive miss blocks needed to end a digit. */
  readonly endMisses: number;
}

export const DEFAULT_DTMF_DETECTOR_OPTIONS: DtmfDetectorOptions = {
  minToneDbm0: -30,
  maxNormalTwistDb: 8,
  maxReverseTwistDb: 4,
  maxFreqDeviation: 0.025,
  minEnergyRatio: 0.75,
  minGroupMarginDb: 5,
  minHarmonicRejectDb: 10,
  startHits: 2,
  endMisses: 4,
};

export type DtmfDetectorEvent =
  | { readonly type: 'start'; readonly digit: DtmfDigit; readonly atMs: number }
  | { readonly type: 'end'; readonly digit: DtmfDigit; readonly atMs: number; readonly startMs: number; readonly durationMs: number };

const N = 160;
const HOP = 80;
const SUM_W = N / 2; // Σ of a periodic Hann window
const SUM_W2 = (3 * N) / 8; // Σ w²
const GRID_STEPS = 7; // hill-climb range ±6 % in 1 % steps (index 7 = guard)
const GRID_STEP = 0.01;
/** Timing correction: a hit block lies inside the tone up to ~20 samples early/late, centre ±20. */
const EDGE = 20;

const ALL_FREQS: readonly number[] = [...DTMF_LOW, ...DTMF_HIGH];
const NOMINAL_COEFFS = ALL_FREQS.map((f) => goertzelCoeff(f));
const GRID_COEFFS = ALL_FREQS.map((f) => {
  const c = new Float64Array(2 * GRID_STEPS + 1);
  for (let k = -GRID_STEPS; k <= GRID_STEPS; k++) c[k + GRID_STEPS] = goertzelCoeff(f * (1 + k * GRID_STEP));
  return c;
});
const EMPTY: readonly DtmfDetectorEvent[] = Object.freeze([]);

interface Refined {
  readonly freq: number;
  readonly power: number;
}

/** One block's verdict, exposed for diagnostics and tests. */
export type BlockVerdict =
  | { readonly hit: true; readonly digit: DtmfDigit; readonly lowHz: number; readonly highHz: number; readonly twistDb: number }
  | { readonly hit: false; readonly reason: string };

export class DtmfDetector {
  readonly options: DtmfDetectorOptions;
  private readonly buf = new Int16Array(N);
  private fill = 0;
  private consumed = 0; // samples consumed in total
  private readonly xw = new Float64Array(N);
  private readonly nominal = new Float64Array(8);
  private readonly grid = new Float64Array(2 * GRID_STEPS + 1);
  private readonly win = hannWindow(N);
  private readonly minTonePower: number;
  // digit state machine
  private current: number = -1; // keypad index r*4+c, -1 = none
  private startSample = 0;
  private lastHitEnd = 0;
  private misses = 0;
  private cand: number = -1;
  private candHits = 0;
  private candFirst = 0;
  private lastVerdict: BlockVerdict = { hit: false, reason: 'no data' };

  constructor(options: Partial<DtmfDetectorOptions> = {}) {
    this.options = { ...DEFAULT_DTMF_DETECTOR_OPTIONS, ...options };
    this.minTonePower = dbm0ToPower(this.options.minToneDbm0);
  }

  /** Feed PCM (any length, 8 kHz); returns digit start/end events completed by this input. */
  process(pcm: Int16Array): readonly DtmfDetectorEvent[] {
    let events: DtmfDetectorEvent[] | undefined;
    let i = 0;
    while (i < pcm.length) {
      const k = Math.min(pcm.length - i, N - this.fill);
      this.buf.set(pcm.subarray(i, i + k), this.fill);
      this.fill += k;
      this.consumed += k;
      i += k;
      if (this.fill === N) {
        const verdict = this.analyse();
        this.lastVerdict = verdict;
        const idx = verdict.hit ? keypadIndex(verdict.digit) : -1;
        const ev = this.step(idx, this.consumed - N);
        if (ev !== undefined) (events ??= []).push(...ev);
        this.buf.copyWithin(0, HOP, N);
        this.fill = N - HOP;
      }
    }
    return events ?? EMPTY;
  }

  /** End of stream: closes a digit in progress. */
  flush(): readonly DtmfDetectorEvent[] {
    if (this.current < 0) return EMPTY;
    const ev = this.endEvent();
    this.current = -1;
    this.cand = -1;
    this.candHits = 0;
    return [ev];
  }

  reset(): void {
    this.fill = 0;
    this.consumed = 0;
    this.current = -1;
    this.cand = -1;
    this.candHits = 0;
    this.misses = 0;
  }

  /** Digit currently held down, if any. */
  get activeDigit(): DtmfDigit | undefined {
    return this.current < 0 ? undefined : digitAt(this.current);
  }

  /** Verdict of the most recent analysis block (why a tone was or was not accepted). */
  get lastBlock(): BlockVerdict {
    return this.lastVerdict;
  }

  private endEvent(): DtmfDetectorEvent {
    const startMs = toMs(this.startSample);
    const endMs = toMs(this.lastHitEnd + EDGE);
    return { type: 'end', digit: digitAt(this.current), atMs: endMs, startMs, durationMs: endMs - startMs };
  }

  private step(idx: number, blockStart: number): DtmfDetectorEvent[] | undefined {
    const { startHits, endMisses } = this.options;
    let out: DtmfDetectorEvent[] | undefined;
    if (this.current >= 0 && idx === this.current) {
      this.misses = 0;
      this.lastHitEnd = blockStart + N;
      this.cand = -1;
      this.candHits = 0;
      return undefined;
    }
    // a miss for the current digit (or no digit): track a candidate for the next one
    if (idx >= 0) {
      if (idx === this.cand) this.candHits++;
      else {
        this.cand = idx;
        this.candHits = 1;
        this.candFirst = blockStart;
      }
    } else {
      this.cand = -1;
      this.candHits = 0;
    }
    if (this.current >= 0) {
      this.misses++;
      if (this.misses >= endMisses || this.candHits >= startHits) {
        out = [this.endEvent()];
        this.current = -1;
      }
    }
    if (this.current < 0 && this.candHits >= startHits) {
      this.current = this.cand;
      this.startSample = Math.max(0, this.candFirst - EDGE);
      this.lastHitEnd = blockStart + N;
      this.misses = 0;
      this.cand = -1;
      this.candHits = 0;
      (out ??= []).push({ type: 'start', digit: digitAt(this.current), atMs: toMs(this.startSample) });
    }
    return out;
  }

  private analyse(): BlockVerdict {
    const o = this.options;
    const buf = this.buf;
    // (1) level and stationarity over 4 quarters of 40 samples
    let qMin = Infinity;
    let qMax = 0;
    let total = 0;
    for (let q = 0; q < 4; q++) {
      let e = 0;
      for (let i = q * 40; i < q * 40 + 40; i++) {
        const v = buf[i] as number;
        e += v * v;
      }
      total += e;
      if (e < qMin) qMin = e;
      if (e > qMax) qMax = e;
    }
    if (total / N < 2 * this.minTonePower) return { hit: false, reason: 'level' };
    if (qMin < 0.45 * qMax) return { hit: false, reason: 'not stationary' };
    // (2) nominal Goertzel, Hann window
    const xw = this.xw;
    let ew = 0;
    for (let i = 0; i < N; i++) {
      const v = (buf[i] as number) * (this.win[i] as number);
      xw[i] = v;
      ew += v * v;
    }
    ew /= SUM_W2;
    const p = this.nominal;
    for (let k = 0; k < 8; k++) p[k] = (2 * magSq(xw, NOMINAL_COEFFS[k] as number, 0, N)) / (SUM_W * SUM_W);
    const r = argmax(p, 0);
    const c = argmax(p, 4);
    const pr = p[r] as number;
    const pc = p[c] as number;
    if (pr + pc < 0.3 * ew) return { hit: false, reason: 'energy ratio (nominal)' };
    for (let k = 0; k < 4; k++) {
      if (k !== r && (p[k] as number) * dbRatio(o.minGroupMarginDb) > pr) return { hit: false, reason: 'low group margin' };
      if (k + 4 !== c && (p[k + 4] as number) * dbRatio(o.minGroupMarginDb) > pc) return { hit: false, reason: 'high group margin' };
    }
    // (3) refine the two frequencies
    const low = this.refine(r);
    const high = this.refine(c);
    // (4) Q.24 checks
    if (Math.abs(low.freq / (ALL_FREQS[r] as number) - 1) > o.maxFreqDeviation) return { hit: false, reason: 'low frequency deviation' };
    if (Math.abs(high.freq / (ALL_FREQS[c] as number) - 1) > o.maxFreqDeviation) return { hit: false, reason: 'high frequency deviation' };
    if (low.power < this.minTonePower || high.power < this.minTonePower) return { hit: false, reason: 'tone level' };
    const twistDb = 10 * Math.log10(high.power / low.power);
    if (twistDb > o.maxNormalTwistDb) return { hit: false, reason: 'normal twist' };
    if (-twistDb > o.maxReverseTwistDb) return { hit: false, reason: 'reverse twist' };
    if (low.power + high.power < o.minEnergyRatio * ew) return { hit: false, reason: 'energy ratio' };
    for (const t of [low, high]) {
      const h = 2 * t.freq;
      const other = t === low ? high.freq : low.freq;
      if (h >= SAMPLE_RATE / 2 - 100 || Math.abs(h - other) < 150) continue;
      const ph = (2 * magSq(xw, goertzelCoeff(h), 0, N)) / (SUM_W * SUM_W);
      if (ph * dbRatio(o.minHarmonicRejectDb) > t.power) return { hit: false, reason: 'second harmonic' };
    }
    return { hit: true, digit: digitAt(r * 4 + (c - 4)), lowHz: low.freq, highHz: high.freq, twistDb };
  }

  /**
   * Peak of the windowed spectrum near nominal frequency `idx` (0..7): hill-climb on a 1 % grid from the
   * nominal bin (at most ±6 %), then log-parabolic interpolation between the grid neighbours.
   */
  private refine(idx: number): Refined {
    const f0 = ALL_FREQS[idx] as number;
    const coeffs = GRID_COEFFS[idx] as Float64Array;
    const pw = this.grid;
    pw.fill(-1);
    const at = (k: number): number => {
      const j = k + GRID_STEPS;
      let v = pw[j] as number;
      if (v < 0) {
        v = (2 * magSq(this.xw, coeffs[j] as number, 0, N)) / (SUM_W * SUM_W);
        pw[j] = v;
      }
      return v;
    };
    let k = 0;
    const dir = at(1) > at(0) ? 1 : at(-1) > at(0) ? -1 : 0;
    if (dir !== 0) while (Math.abs(k + dir) < GRID_STEPS && at(k + dir) > at(k)) k += dir;
    const b = at(k);
    if (Math.abs(k) >= GRID_STEPS - 1) return { freq: f0 * (1 + k * GRID_STEP), power: b };
    const la = Math.log(at(k - 1) + 1e-12);
    const lb = Math.log(b + 1e-12);
    const lc = Math.log(at(k + 1) + 1e-12);
    const den = la - 2 * lb + lc;
    const d = den < 0 ? (0.5 * (la - lc)) / den : 0;
    return { freq: f0 * (1 + (k + d) * GRID_STEP), power: Math.exp(lb - 0.25 * (la - lc) * d) };
  }
}

/** Monomorphic Goertzel over a Float64Array block (hot path; the generic one takes any ArrayLike). */
function magSq(x: Float64Array, coeff: number, _start: number, n: number): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (x[i] as number) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

function argmax(p: Float64Array, from: number): number {
  let m = from;
  for (let k = from + 1; k < from + 4; k++) if ((p[k] as number) > (p[m] as number)) m = k;
  return m;
}

function dbRatio(db: number): number {
  return Math.pow(10, db / 10);
}

function toMs(sample: number): number {
  return (sample * 1000) / SAMPLE_RATE;
}

function digitAt(idx: number): DtmfDigit {
  return (DTMF_KEYPAD[idx >> 2] as readonly DtmfDigit[])[idx & 3] as DtmfDigit;
}

function keypadIndex(d: DtmfDigit): number {
  for (let r = 0; r < 4; r++) {
    const c = (DTMF_KEYPAD[r] as readonly DtmfDigit[]).indexOf(d);
    if (c >= 0) return r * 4 + c;
  }
  return -1;
}

export interface DetectedDigit {
  readonly digit: DtmfDigit;
  readonly startMs: number;
  readonly durationMs: number;
}

/** Offline helper for tests: all digits in a PCM buffer, fed in 20 ms frames. */
export function detectDtmfDigits(pcm: Int16Array, options: Partial<DtmfDetectorOptions> = {}): DetectedDigit[] {
  const det = new DtmfDetector(options);
  const out: DetectedDigit[] = [];
  const take = (evs: readonly DtmfDetectorEvent[]): void => {
    for (const e of evs) if (e.type === 'end') out.push({ digit: e.digit, startMs: e.startMs, durationMs: e.durationMs });
  };
  for (let i = 0; i < pcm.length; i += 160) take(det.process(pcm.subarray(i, Math.min(pcm.length, i + 160))));
  take(det.flush());
  return out;
}
