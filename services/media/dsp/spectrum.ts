// Spectrum analysis for tests that "listen": which frequencies dominate a block of PCM.
// Radix-2 FFT with a Hann window, zero-padded, and parabolic peak interpolation on log power.

import { SAMPLE_RATE } from '../codec/g711.js';

export interface SpectralPeak {
  readonly freq: number;
  /** Mean-square power of the component (A²/2 for a sine of amplitude A). */
  readonly power: number;
}

export interface DominantOptions {
  readonly sampleRate?: number;
  readonly minHz?: number;
  readonly maxHz?: number;
  /** Peaks weaker than the strongest by more than this are dropped (default 30 dB). */
  readonly floorDb?: number;
}

/** In-place iterative radix-2 FFT of a power-of-2 length; the inverse is scaled by 1/N. */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const xr = (re[b] as number) * cr - (im[b] as number) * ci;
        const xi = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - xr;
        im[b] = (im[a] as number) - xi;
        re[a] = (re[a] as number) + xr;
        im[a] = (im[a] as number) + xi;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = (re[i] as number) / n;
      im[i] = (im[i] as number) / n;
    }
  }
}

/** Power spectrum (mean-square power per bin) of a Hann-windowed block, zero-padded to a power of 2 ≥ 4·n. */
export function powerSpectrum(pcm: ArrayLike<number>, sampleRate: number = SAMPLE_RATE): { power: Float64Array; binHz: number } {
  const n = pcm.length;
  let size = 1;
  while (size < Math.max(4 * n, 1024)) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  let sumW = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    re[i] = (pcm[i] as number) * w;
    sumW += w;
  }
  fftInPlace(re, im);
  const half = size / 2;
  const power = new Float64Array(half + 1);
  const norm = sumW > 0 ? 2 / (sumW * sumW) : 0;
  for (let k = 0; k <= half; k++) power[k] = ((re[k] as number) ** 2 + (im[k] as number) ** 2) * norm;
  return { power, binHz: sampleRate / size };
}

/**
 * The `count` strongest spectral peaks of `pcm`, strongest first. Peaks are local maxima of the
 * Hann-windowed spectrum; their frequency is refined by parabolic interpolation (error ≪ 1 Hz for a
 * clean tone of ≥ 100 ms). Peaks closer than two main-lobe widths to a stronger one are merged.
 */
export function dominantFrequencies(pcm: ArrayLike<number>, count = 3, opts: DominantOptions = {}): SpectralPeak[] {
  const sampleRate = opts.sampleRate ?? SAMPLE_RATE;
  if (pcm.length < 16) return [];
  const { power, binHz } = powerSpectrum(pcm, sampleRate);
  const minBin = Math.max(1, Math.floor((opts.minHz ?? 50) / binHz));
  const maxBin = Math.min(power.length - 2, Math.ceil((opts.maxHz ?? sampleRate / 2 - 50) / binHz));
  const peaks: SpectralPeak[] = [];
  for (let k = minBin; k <= maxBin; k++) {
    const p = power[k] as number;
    if (p <= 0 || p < (power[k - 1] as number) || p < (power[k + 1] as number)) continue;
    const a = Math.log((power[k - 1] as number) + 1e-20);
    const b = Math.log(p + 1e-20);
    const c = Math.log((power[k + 1] as number) + 1e-20);
    const den = a - 2 * b + c;
    const d = den !== 0 ? (0.5 * (a - c)) / den : 0;
    const peakLog = b - 0.25 * (a - c) * d;
    peaks.push({ freq: (k + d) * binHz, power: Math.exp(peakLog) });
  }
  peaks.sort((x, y) => y.power - x.power);
  const lobeHz = (2 * 2 * sampleRate) / pcm.length; // Hann main lobe is ±2 bins of the unpadded length
  const kept: SpectralPeak[] = [];
  const floor = (peaks[0]?.power ?? 0) * Math.pow(10, -(opts.floorDb ?? 30) / 10);
  for (const p of peaks) {
    if (p.power < floor) break;
    if (kept.some((q) => Math.abs(q.freq - p.freq) < lobeHz)) continue;
    kept.push(p);
    if (kept.length >= count) break;
  }
  return kept;
}
