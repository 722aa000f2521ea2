/**
 * 1200-baud FSK for caller ID, both flavours: Bell 202 (mark 1200 Hz, space 2200 Hz; Telcordia
 * GR-30-CORE) and ITU-T V.23 as ETSI EN 300 659-1 uses it (mark 1300 Hz, space 2100 Hz). 8 kHz,
 * 16-bit linear PCM. The modulator is phase continuous (one oscillator whose frequency switches, as
 * GR-30 §3.1 asks); the demodulator correlates each bit period with both tones and reads async
 * characters (start bit 0, 8 data bits LSB first, stop bit 1).
 */
import { SAMPLE_RATE } from '../../services/media/codec/g711.js';
import { dbm0ToAmplitude } from '../../services/media/dsp/levels.js';

export type FskStandard = 'bell202' | 'v23';

export const FSK_TONES: Readonly<Record<FskStandard, { mark: number; space: number }>> = {
  bell202: { mark: 1200, space: 2200 },
  v23: { mark: 1300, space: 2100 },
};

export const BAUD = 1200;
const SAMPLES_PER_BIT = SAMPLE_RATE / BAUD; // 6.667

/** Bits of one async character: start 0, data LSB first, stop 1. */
export function characterBits(byte: number): number[] {
  const bits = [0];
  for (let i = 0; i < 8; i++) bits.push((byte >> i) & 1);
  bits.push(1);
  return bits;
}

/** Phase-continuous FSK of `bits` at `levelDbm0`. */
export function modulate(bits: readonly number[], standard: FskStandard, levelDbm0 = -13): Int16Array {
  const { mark, space } = FSK_TONES[standard];
  const total = Math.round(bits.length * SAMPLES_PER_BIT);
  const out = new Int16Array(total);
  const amplitude = dbm0ToAmplitude(levelDbm0);
  let phase = 0;
  for (let n = 0; n < total; n++) {
    const bit = bits[Math.min(bits.length - 1, Math.floor(n / SAMPLES_PER_BIT))] as number;
    out[n] = Math.round(amplitude * Math.sin(phase));
    phase += (2 * Math.PI * (bit === 1 ? mark : space)) / SAMPLE_RATE;
    if (phase > 2 * Math.PI) phase -= 2 * Math.PI;
  }
  return out;
}

/**
 * Per-sample soft decision: positive = mark, negative = space, over a sliding one-bit window
 * (non-coherent: squared magnitude of the correlation with each tone). Also the window energy.
 */
function discriminate(pcm: Int16Array, standard: FskStandard): { soft: Float64Array; energy: Float64Array } {
  const { mark, space } = FSK_TONES[standard];
  const n = pcm.length;
  const w = Math.round(SAMPLES_PER_BIT);
  const soft = new Float64Array(n);
  const energy = new Float64Array(n);
  const wm = (2 * Math.PI * mark) / SAMPLE_RATE;
  const ws = (2 * Math.PI * space) / SAMPLE_RATE;
  const mr = new Float64Array(n);
  const mi = new Float64Array(n);
  const sr = new Float64Array(n);
  const si = new Float64Array(n);
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = pcm[i] as number;
    mr[i] = x * Math.cos(wm * i);
    mi[i] = x * Math.sin(wm * i);
    sr[i] = x * Math.cos(ws * i);
    si[i] = x * Math.sin(ws * i);
    sq[i] = x * x;
  }
  let amr = 0, ami = 0, asr = 0, asi = 0, e = 0;
  for (let i = 0; i < n; i++) {
    amr += mr[i] as number; ami += mi[i] as number; asr += sr[i] as number; asi += si[i] as number; e += sq[i] as number;
    if (i >= w) {
      const j = i - w;
      amr -= mr[j] as number; ami -= mi[j] as number; asr -= sr[j] as number; asi -= si[j] as number; e -= sq[j] as number;
    }
    // Centre the decision on the window: sample i - w/2 is what this window measures.
    const c = i - Math.floor(w / 2);
    if (c >= 0) {
      soft[c] = amr * amr + ami * ami - (asr * asr + asi * asi);
      energy[c] = e / w;
    }
  }
  return { soft, energy };
}

export interface DemodulateOptions {
  /** Quietest signal accepted, dBm0 (GR-30: the CPE must accept −32 dBm; default −40 dBm0). */
  minLevelDbm0?: number;
}

/**
 * The async characters found in `pcm`: every start bit (a mark → space edge after at least one mark
 * bit time) begins a character whose stop bit must be a mark; framing errors are dropped. Returns the
 * bytes in order, with the sample index where each began.
 */
export function demodulate(pcm: Int16Array, standard: FskStandard, options: DemodulateOptions = {}): { byte: number; at: number }[] {
  const { soft, energy } = discriminate(pcm, standard);
  const floor = dbm0ToAmplitude(options.minLevelDbm0 ?? -40) ** 2 / 2;
  const out: { byte: number; at: number }[] = [];
  const n = pcm.length;
  const bitAt = (start: number, k: number): number | null => {
    const i = Math.round(start + (k + 0.5) * SAMPLES_PER_BIT);
    if (i >= n) return null;
    if ((energy[i] as number) < floor) return null;
    return (soft[i] as number) > 0 ? 1 : 0;
  };
  let i = 1;
  let markRun = 0;
  while (i < n) {
    const loud = (energy[i] as number) >= floor;
    const isMark = loud && (soft[i] as number) > 0;
    if (isMark) {
      markRun++;
      i++;
      continue;
    }
    if (!loud || markRun < SAMPLES_PER_BIT * 0.6) {
      markRun = 0;
      i++;
      continue;
    }
    // A mark → space edge: a start bit begins here.
    const start = i;
    const bits: number[] = [];
    for (let k = 0; k < 10; k++) {
      const b = bitAt(start, k);
      if (b === null) break;
      bits.push(b);
    }
    if (bits.length === 10 && bits[0] === 0 && bits[9] === 1) {
      let byte = 0;
      for (let k = 0; k < 8; k++) byte |= (bits[k + 1] as number) << k;
      out.push({ byte, at: start });
      // Resume inside the stop bit, so the next start edge is found.
      i = Math.round(start + 9.5 * SAMPLES_PER_BIT);
      markRun = Math.round(SAMPLES_PER_BIT * 0.5);
      continue;
    }
    markRun = 0;
    i++;
  }
  return out;
}
