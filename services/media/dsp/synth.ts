// Deterministic signal synthesis for tests and the tone generator: sums of sines at given levels and
// seeded white noise. Everything is reproducible so that a test failure can be replayed.

import { SAMPLE_RATE } from '../codec/g711.js';
import { dbm0ToAmplitude } from './levels.js';

export interface SineComponent {
  readonly freq: number;
  /** Level of this component in dBm0. */
  readonly dbm0: number;
  /** Initial phase in radians. */
  readonly phase?: number;
}

function clip16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** `samples` of the sum of the given sines, starting at sample index `offset` (for continuous phase). */
export function sines(
  components: readonly SineComponent[],
  samples: number,
  offset = 0,
  sampleRate: number = SAMPLE_RATE,
): Int16Array {
  const out = new Int16Array(samples);
  const amps = components.map((c) => dbm0ToAmplitude(c.dbm0));
  for (let i = 0; i < samples; i++) {
    let v = 0;
    for (let k = 0; k < components.length; k++) {
      const c = components[k] as SineComponent;
      v += (amps[k] as number) * Math.sin((2 * Math.PI * c.freq * (i + offset)) / sampleRate + (c.phase ?? 0));
    }
    out[i] = clip16(v);
  }
  return out;
}

/** Seeded PRNG (mulberry32): uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian white noise with RMS equal to a sine at `dbm0` (i.e. same mean-square power). */
export function whiteNoise(samples: number, dbm0: number, seed = 1): Int16Array {
  const rnd = prng(seed);
  const sigma = dbm0ToAmplitude(dbm0) / Math.SQRT2;
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const u = rnd() || 1e-12;
    const v = rnd();
    out[i] = clip16(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

/** Sample-wise saturating sum of equal-length or shorter signals into a new array of `length`. */
export function mix(length: number, ...signals: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    let v = 0;
    for (const s of signals) v += i < s.length ? (s[i] as number) : 0;
    out[i] = clip16(v);
  }
  return out;
}

/** Concatenate PCM blocks. */
export function concat(...parts: readonly Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `ms` milliseconds of silence at 8 kHz. */
export function silence(ms: number, sampleRate: number = SAMPLE_RATE): Int16Array {
  return new Int16Array(Math.round((ms * sampleRate) / 1000));
}

/** Split PCM into frames of `frameSamples` (last one may be shorter). Views, no copy. */
export function frames(pcm: Int16Array, frameSamples = 160): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i < pcm.length; i += frameSamples) out.push(pcm.subarray(i, Math.min(pcm.length, i + frameSamples)));
  return out;
}
