/**
 * A phone's decoded frames, re-timed onto the media clock. Packets arrive in bursts (network and
 * event-loop jitter) while the clock pulls exactly one frame per 20 ms; this playout buffer holds a
 * small cushion (`primeFrames`) before it starts, conceals short gaps with G.711 Appendix I PLC,
 * and drops the oldest frames when the phone's clock runs faster than ours (drift) so the delay
 * stays bounded. The RTP-level jitter buffer lives in the engine's decoder; this one works on
 * frames the decoder already delivered in order.
 */
import { FRAME_SAMPLES } from '../../media/codec/g711.js';
import { G711Plc } from '../../media/jitter/plc.js';

export interface FrameFifoOptions {
  /** frames held before playout (re)starts: 2 = 40 ms */
  primeFrames?: number;
  /** cap on the delay: beyond it the oldest frame is dropped (default 8 = 160 ms) */
  maxFrames?: number;
  /** consecutive concealed frames before we fall silent and re-prime (default 3 = 60 ms, PLC's own limit) */
  maxConcealFrames?: number;
}

export interface FrameFifoStats {
  pushed: number;
  played: number;
  concealed: number;
  dropped: number;
}

export class FrameFifo {
  readonly #frames: Int16Array[] = [];
  readonly #free: Int16Array[] = [];
  readonly #plc = new G711Plc(FRAME_SAMPLES);
  readonly #prime: number;
  readonly #max: number;
  readonly #maxConceal: number;
  #playing = false;
  #concealRun = 0;
  readonly stats: FrameFifoStats = { pushed: 0, played: 0, concealed: 0, dropped: 0 };

  constructor(options: FrameFifoOptions = {}) {
    this.#prime = options.primeFrames ?? 2;
    this.#max = Math.max(this.#prime + 1, options.maxFrames ?? 8);
    this.#maxConceal = options.maxConcealFrames ?? 3;
  }

  get depth(): number {
    return this.#frames.length;
  }

  /** Copies one 160-sample frame in. */
  push(frame: Int16Array): void {
    if (frame.length !== FRAME_SAMPLES) return;
    const slot = this.#free.pop() ?? new Int16Array(FRAME_SAMPLES);
    slot.set(frame);
    this.#frames.push(slot);
    this.stats.pushed++;
    while (this.#frames.length > this.#max) {
      this.#free.push(this.#frames.shift() as Int16Array);
      this.stats.dropped++;
    }
  }

  /**
   * The frame for this tick into `out`: 'audio', 'concealed' (a gap filled from the last good
   * audio) or 'silent' (nothing to play: not started, or the phone stopped sending).
   */
  pull(out: Int16Array): 'audio' | 'concealed' | 'silent' {
    if (!this.#playing) {
      if (this.#frames.length < this.#prime) {
        out.fill(0);
        return 'silent';
      }
      this.#playing = true;
    }
    const next = this.#frames.shift();
    if (next !== undefined) {
      out.set(next);
      this.#free.push(next);
      this.#plc.good(out);
      this.#concealRun = 0;
      this.stats.played++;
      return 'audio';
    }
    if (this.#concealRun < this.#maxConceal) {
      this.#concealRun++;
      this.#plc.conceal(out);
      this.stats.concealed++;
      return 'concealed';
    }
    this.#playing = false;
    out.fill(0);
    return 'silent';
  }
}
