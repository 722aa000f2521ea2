// Packet-loss concealment for G.711 in the style of ITU-T G.711 Appendix I:
//  - a 48.75 ms history (390 samples) of what was played;
//  - at the start of an erasure the pitch period P (40..120 samples, 66–200 Hz) is found by normalised
//    cross-correlation of the last 20 ms against the history;
//  - the lost frame is filled by repeating the last period; after 10 ms of erasure the last 2 periods and
//    after 20 ms the last 3 periods are cycled (less buzzy), and the signal is attenuated linearly by 20 %
//    per 10 ms from 10 ms on, so it is silent after 60 ms;
//  - the first good frame is overlap-added with the continued synthetic signal over 4 ms, plus 4 ms per
//    further 10 ms of erasure (max 10 ms).
// Appendix I additionally delays output by 3.75 ms to smooth the start of the erasure; this version does
// not add latency and relies on the period repetition being continuous with the history.

const HISTORY = 390;
const PITCH_MIN = 40;
const PITCH_MAX = 120;
const CORR_LEN = 160;
const MS10 = 80;

export class G711Plc {
  private readonly hist = new Float64Array(HISTORY);
  private pitchBuf = new Float64Array(3 * PITCH_MAX);
  private period = PITCH_MAX;
  private lost = 0; // samples concealed in the current erasure
  private pos = 0; // position within the cycled region
  private erasures = 0;

  constructor(readonly frameSamples = 160) {}

  /** Number of erasures (consecutive-loss bursts) concealed so far. */
  get erasureCount(): number {
    return this.erasures;
  }

  /** A correctly received frame: smooths the transition after a loss and records history. In place. */
  good(pcm: Int16Array): Int16Array {
    if (this.lost > 0) {
      const extra = Math.max(0, Math.ceil(this.lost / MS10) - 1);
      const ola = Math.min(MS10, 32 + 32 * extra, pcm.length);
      for (let i = 0; i < ola; i++) {
        const w = (i + 1) / (ola + 1);
        const v = (1 - w) * this.synth() + w * (pcm[i] as number);
        pcm[i] = clip(v);
      }
      this.lost = 0;
    }
    this.remember(pcm);
    return pcm;
  }

  /** A lost frame: writes the concealment into `out` (length defaults to the frame size). */
  conceal(out: Int16Array = new Int16Array(this.frameSamples)): Int16Array {
    if (this.lost === 0) this.startErasure();
    for (let i = 0; i < out.length; i++) out[i] = clip(this.synth());
    this.remember(out);
    return out;
  }

  private startErasure(): void {
    this.erasures++;
    this.period = findPitch(this.hist);
    const p = this.period;
    this.pitchBuf = this.hist.slice(HISTORY - 3 * p);
    this.pos = 2 * p; // start of the last period: continues the history seamlessly
  }

  /** Next synthetic sample (advances the erasure clock). */
  private synth(): number {
    const p = this.period;
    const t = this.lost;
    const periods = t < MS10 ? 1 : t < 2 * MS10 ? 2 : 3;
    const regionStart = (3 - periods) * p;
    if (this.pos < regionStart) this.pos = regionStart;
    const v = this.pitchBuf[this.pos] as number;
    this.pos++;
    if (this.pos >= 3 * p) this.pos = regionStart;
    const gain = t < MS10 ? 1 : Math.max(0, 1 - (0.2 * (t - MS10)) / MS10);
    this.lost++;
    return v * gain;
  }

  private remember(pcm: Int16Array): void {
    const n = pcm.length;
    if (n >= HISTORY) {
      for (let i = 0; i < HISTORY; i++) this.hist[i] = pcm[n - HISTORY + i] as number;
      return;
    }
    this.hist.copyWithin(0, n);
    for (let i = 0; i < n; i++) this.hist[HISTORY - n + i] = pcm[i] as number;
  }
}

/** Pitch period maximising the normalised correlation of the last CORR_LEN samples with the past. */
function findPitch(h: Float64Array): number {
  const end = HISTORY;
  const start = end - CORR_LEN;
  let best = PITCH_MAX;
  let bestScore = -Infinity;
  for (let p = PITCH_MIN; p <= PITCH_MAX; p++) {
    let xy = 0;
    let yy = 0;
    for (let i = start; i < end; i++) {
      const y = h[i - p] as number;
      xy += (h[i] as number) * y;
      yy += y * y;
    }
    const score = yy > 0 ? xy / Math.sqrt(yy) : 0;
    if (score > bestScore * 1.0001) {
      bestScore = score;
      best = p;
    }
  }
  return best;
}

function clip(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}
