// Band-limited sample-rate conversion for uploaded audio (music on hold, greetings, prompts).
// Windowed-sinc interpolation (Smith, "Digital Audio Resampling", CCRMA): for every output sample the
// input is convolved with a low-pass kernel centred on the output instant. When lowering the rate the
// kernel is widened so that its cut-off sits below the NEW Nyquist frequency, otherwise everything
// between 4 kHz and 22 kHz of a 44.1 kHz file would fold back into the telephone band.
// Runs once per file at load time, never per call, so clarity wins over a polyphase FIR bank.

/** Kernel half-width in zero crossings of the low-pass: 16 gives > 70 dB stop-band with the window below. */
const ZERO_CROSSINGS = 16;
/** Table points per zero crossing; linear interpolation between them. */
const TABLE_RES = 512;
/** Pass-band edge as a fraction of the lower Nyquist frequency (leaves room for the transition band). */
const ROLLOFF = 0.92;

const KERNEL: Float64Array = buildKernel();

function buildKernel(): Float64Array {
  const n = ZERO_CROSSINGS * TABLE_RES + 2;
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = i / TABLE_RES; // in zero crossings
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    // Blackman window over [-ZC, ZC]
    const r = Math.min(1, x / ZERO_CROSSINGS);
    const w = 0.42 + 0.5 * Math.cos(Math.PI * r) + 0.08 * Math.cos(2 * Math.PI * r);
    t[i] = sinc * w;
  }
  t[n - 1] = 0;
  t[n - 2] = 0;
  return t;
}

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0 || rate > 768_000) {
    throw new RangeError(`${name} must be a positive integer sample rate, got ${rate}`);
  }
}

/**
 * Converts mono 16-bit PCM from `fromRate` to `toRate`. Output length is round(n × to / from).
 * Equal rates return a copy.
 */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  if (fromRate === toRate) return input.slice();
  const outLen = Math.round((input.length * toRate) / fromRate);
  const out = new Int16Array(outLen);
  if (input.length === 0) return out;

  const step = fromRate / toRate; // input samples per output sample
  // fc: cut-off in units of the input Nyquist; < 1 only when the rate goes down.
  const fc = Math.min(1, toRate / fromRate) * ROLLOFF;
  const halfWidth = ZERO_CROSSINGS / fc; // in input samples
  const g = gcd(fromRate, toRate);
  const phases = toRate / g;
  if (phases <= MAX_PHASES) {
    polyphase(input, out, fromRate / g, phases, fc, halfWidth);
  } else {
    for (let n = 0; n < outLen; n++) out[n] = sampleAt(input, n * step, fc, halfWidth);
  }
  return out;
}

/** Output phases up to which a precomputed filter bank is used (44.1k→8k needs 80, 11.025k→8k 320). */
const MAX_PHASES = 1024;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function kernelAt(x: number): number {
  const pos = x * TABLE_RES;
  const i = pos | 0;
  const a = KERNEL[i] ?? 0;
  const b = KERNEL[i + 1] ?? 0;
  return a + (b - a) * (pos - i);
}

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
}

/** One output sample at input position t, with the taps normalised (also right at the edges). */
function sampleAt(input: Int16Array, t: number, fc: number, halfWidth: number): number {
  const kMin = Math.max(0, Math.ceil(t - halfWidth));
  const kMax = Math.min(input.length - 1, Math.floor(t + halfWidth));
  let acc = 0;
  let wsum = 0;
  for (let k = kMin; k <= kMax; k++) {
    const h = kernelAt(Math.abs(t - k) * fc);
    acc += h * (input[k] as number);
    wsum += h;
  }
  // Normalising by the tap sum keeps unity gain at DC, also at the edges where the kernel is cut.
  return wsum !== 0 ? clamp16(acc / wsum) : 0;
}

/**
 * Rational ratio L/M (`phases` = L): output n sits at input n·M/L, whose fractional part takes only L
 * values, so the taps of each phase are computed once. Interior samples use the bank; the first and
 * last kernel-width of samples go through sampleAt for the edge normalisation.
 */
function polyphase(input: Int16Array, out: Int16Array, m: number, phases: number, fc: number, halfWidth: number): void {
  const w = Math.ceil(halfWidth);
  const taps = 2 * w + 1;
  const bank = new Float64Array(phases * taps);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let j = -w; j <= w; j++) {
      const d = Math.abs(j - frac);
      const h = d < halfWidth ? kernelAt(d * fc) : 0;
      bank[p * taps + j + w] = h;
      sum += h;
    }
    for (let j = 0; j < taps; j++) bank[p * taps + j] = (bank[p * taps + j] as number) / sum;
  }
  const last = input.length - 1;
  for (let n = 0; n < out.length; n++) {
    const num = n * m;
    const base = Math.floor(num / phases);
    if (base - w < 0 || base + w > last) {
      out[n] = sampleAt(input, num / phases, fc, halfWidth);
      continue;
    }
    const p = num - base * phases;
    const off = p * taps;
    const k0 = base - w;
    let acc = 0;
    for (let j = 0; j < taps; j++) acc += (bank[off + j] as number) * (input[k0 + j] as number);
    out[n] = clamp16(acc);
  }
}

/** Averages interleaved channels into one (downmix before resampling). */
export function downmix(channels: readonly Int16Array[]): Int16Array {
  const first = channels[0];
  if (!first) return new Int16Array(0);
  if (channels.length === 1) return first.slice();
  const n = first.length;
  const out = new Int16Array(n);
  const c = channels.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let ch = 0; ch < c; ch++) s += channels[ch]?.[i] ?? 0;
    out[i] = Math.round(s / c);
  }
  return out;
}
