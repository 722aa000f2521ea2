// Goertzel single-bin DFT (G. Goertzel, 1958) and helpers to measure tone power in PCM.
// Powers are normalised so that a sinusoid of amplitude A centred on the bin reads A²/2 (its mean
// square), which makes them directly comparable with `meanSquare()` of the same block.

import { SAMPLE_RATE } from '../codec/g711.js';

/** Coefficient 2·cos(2πf/fs) of the Goertzel recursion for frequency `freq`. */
export function goertzelCoeff(freq: number, sampleRate: number = SAMPLE_RATE): number {
  return 2 * Math.cos((2 * Math.PI * freq) / sampleRate);
}

/**
 * Raw squared magnitude |X(f)|² of samples [start, start+length) for a precomputed coefficient.
 * Works on any numeric array (Int16Array PCM, Float64Array of windowed samples).
 */
export function goertzelMagSq(
  x: ArrayLike<number>,
  coeff: number,
  start = 0,
  length: number = x.length - start,
): number {
  let s1 = 0;
  let s2 = 0;
  const end = start + length;
  for (let i = start; i < end; i++) {
    const s0 = (x[i] as number) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Mean-square power of a sinusoid at `freq` in x[start, start+length) (rectangular window). */
export function goertzelPower(
  x: ArrayLike<number>,
  freq: number,
  sampleRate: number = SAMPLE_RATE,
  start = 0,
  length: number = x.length - start,
): number {
  if (length <= 0) return 0;
  const m = goertzelMagSq(x, goertzelCoeff(freq, sampleRate), start, length);
  return (2 * m) / (length * length);
}

/** Mean square of x[start, start+length). */
export function meanSquare(x: ArrayLike<number>, start = 0, length: number = x.length - start): number {
  if (length <= 0) return 0;
  let e = 0;
  const end = start + length;
  for (let i = start; i < end; i++) {
    const v = x[i] as number;
    e += v * v;
  }
  return e / length;
}

/**
 * Power of each frequency in `freqs` over the whole block, Hann-windowed so that strong tones leak
 * little into distant bins. Returns mean-square powers (A²/2 for an amplitude-A tone on the bin).
 */
export function detectTones(
  pcm: ArrayLike<number>,
  freqs: readonly number[],
  sampleRate: number = SAMPLE_RATE,
): Float64Array {
  const n = pcm.length;
  const out = new Float64Array(freqs.length);
  if (n === 0) return out;
  const w = hannWindow(n);
  const xw = new Float64Array(n);
  let sumW = 0;
  for (let i = 0; i < n; i++) {
    xw[i] = (pcm[i] as number) * (w[i] as number);
    sumW += w[i] as number;
  }
  for (let k = 0; k < freqs.length; k++) {
    const m = goertzelMagSq(xw, goertzelCoeff(freqs[k] as number, sampleRate), 0, n);
    out[k] = (2 * m) / (sumW * sumW);
  }
  return out;
}

const hannCache = new Map<number, Float64Array>();

/** Periodic Hann window of length n (cached; callers must not modify it). */
export function hannWindow(n: number): Float64Array {
  let w = hannCache.get(n);
  if (w === undefined) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    if (hannCache.size < 64) hannCache.set(n, w);
  }
  return w;
}
