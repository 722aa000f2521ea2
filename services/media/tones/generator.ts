// Stateful tone generator: 20 ms Int16 frames at 8 kHz with the spec's cadence, continuous phase across
// frames and across cadence steps (each frequency is one free-running oscillator that is gated on/off).
// A 2 ms raised-cosine ramp at every on/off edge avoids clicks (E.180 §4 asks for no audible clicks).

import { FRAME_SAMPLES, SAMPLE_RATE } from '../codec/g711.js';
import { dbm0ToAmplitude } from '../dsp/levels.js';
import { toneFrequencies, type ToneSpec, type ToneStep } from './table.js';

const RAMP = 16; // samples (2 ms)

/** Free-running sine oscillators with phase continuity (rotating phasor, renormalised per block). */
export class Oscillator {
  private readonly cosW: Float64Array;
  private readonly sinW: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(readonly freqs: readonly number[], sampleRate: number = SAMPLE_RATE) {
    const n = freqs.length;
    this.cosW = new Float64Array(n);
    this.sinW = new Float64Array(n);
    this.re = new Float64Array(n).fill(1);
    this.im = new Float64Array(n);
    freqs.forEach((f, i) => {
      const w = (2 * Math.PI * f) / sampleRate;
      this.cosW[i] = Math.cos(w);
      this.sinW[i] = Math.sin(w);
    });
  }

  /** Advance all oscillators by one sample; returns Σ gain[i]·sin(phase[i]) before the step. */
  next(gains: Float64Array): number {
    let v = 0;
    for (let i = 0; i < this.re.length; i++) {
      const r = this.re[i] as number;
      const m = this.im[i] as number;
      v += (gains[i] as number) * m;
      const c = this.cosW[i] as number;
      const s = this.sinW[i] as number;
      this.re[i] = r * c - m * s;
      this.im[i] = r * s + m * c;
    }
    return v;
  }

  renormalise(): void {
    for (let i = 0; i < this.re.length; i++) {
      const r = this.re[i] as number;
      const m = this.im[i] as number;
      const k = 1 / Math.sqrt(r * r + m * m);
      this.re[i] = r * k;
      this.im[i] = m * k;
    }
  }
}

export interface ToneGeneratorOptions {
  /** Override the spec's per-frequency level, dBm0. */
  readonly levelDbm0?: number;
  readonly frameSamples?: number;
}

export class ToneGenerator {
  private readonly osc: Oscillator;
  private readonly freqIndex: Map<number, number>;
  private readonly amplitude: number;
  private readonly stepMasks: Float64Array[]; // per step: target gain per oscillator
  private readonly stepSamples: number[];
  private readonly gains: Float64Array;
  private readonly frameSamples: number;
  private step = 0;
  private left: number;
  private produced = 0;

  constructor(readonly spec: ToneSpec, options: ToneGeneratorOptions = {}) {
    if (spec.steps.length === 0) throw new RangeError('tone spec without steps');
    if (spec.loopFrom < 0 || spec.loopFrom >= spec.steps.length) throw new RangeError('tone spec loopFrom out of range');
    const freqs = toneFrequencies(spec);
    this.osc = new Oscillator(freqs);
    this.freqIndex = new Map(freqs.map((f, i) => [f, i]));
    this.amplitude = dbm0ToAmplitude(options.levelDbm0 ?? spec.levelDbm0);
    this.stepMasks = spec.steps.map((st: ToneStep) => {
      const m = new Float64Array(freqs.length);
      for (const f of st.freqs) m[this.freqIndex.get(f) as number] = 1;
      return m;
    });
    this.stepSamples = spec.steps.map((st) => Math.max(1, Math.round((st.ms * SAMPLE_RATE) / 1000)));
    this.gains = new Float64Array(freqs.length);
    this.frameSamples = options.frameSamples ?? FRAME_SAMPLES;
    this.left = this.stepSamples[0] as number;
  }

  /** Milliseconds generated so far. */
  get elapsedMs(): number {
    return (this.produced * 1000) / SAMPLE_RATE;
  }

  /** Next frame (20 ms by default) written into `out` when given. */
  nextFrame(out: Int16Array = new Int16Array(this.frameSamples)): Int16Array {
    const n = out.length;
    const a = this.amplitude;
    const step = 1 / RAMP;
    for (let i = 0; i < n; i++) {
      const target = this.stepMasks[this.step] as Float64Array;
      for (let k = 0; k < this.gains.length; k++) {
        const g = this.gains[k] as number;
        const t = target[k] as number;
        if (g < t) this.gains[k] = Math.min(t, g + step);
        else if (g > t) this.gains[k] = Math.max(t, g - step);
      }
      const v = Math.round(a * this.osc.next(this.rampShape()));
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      if (--this.left === 0) {
        this.step = this.step + 1 < this.stepSamples.length ? this.step + 1 : this.spec.loopFrom;
        this.left = this.stepSamples[this.step] as number;
      }
    }
    this.produced += n;
    this.osc.renormalise();
    return out;
  }

  reset(): void {
    this.step = 0;
    this.left = this.stepSamples[0] as number;
    this.produced = 0;
    this.gains.fill(0);
  }

  private readonly shaped = new Float64Array(64);

  /** Raised-cosine shape of the linear ramp gains. */
  private rampShape(): Float64Array {
    const s = this.shaped;
    for (let k = 0; k < this.gains.length; k++) {
      const g = this.gains[k] as number;
      s[k] = g === 1 || g === 0 ? g : 0.5 - 0.5 * Math.cos(Math.PI * g);
    }
    return s;
  }
}
