/**
 * What a simulated device puts on its line, 20 ms at a time: queued sounds first (DTMF digits, a
 * fax tone burst, a caller ID burst), else a steady test tone, else silence.
 */
import { FRAME_SAMPLES, muLawEncode } from '../../services/media/codec/g711.js';
import { sines } from '../../services/media/dsp/synth.js';
import { digitFrequencies, type DtmfDigit } from '../../services/media/dtmf/digits.js';

export class AudioSource {
  #queue: Int16Array[] = [];
  #queuePos = 0;
  #tone: { freqs: number[]; dbm0: number } | null = null;
  #tonePhase = 0;

  get tone(): number[] | null {
    return this.#tone?.freqs ?? null;
  }

  get busy(): boolean {
    return this.#queue.length > 0;
  }

  setTone(freqs: number[] | null, dbm0 = -10): void {
    this.#tone = freqs === null || freqs.length === 0 ? null : { freqs, dbm0 };
    this.#tonePhase = 0;
  }

  enqueue(pcm: Int16Array): void {
    this.#queue.push(pcm);
  }

  clear(): void {
    this.#queue = [];
    this.#queuePos = 0;
  }

  /** A DTMF digit: 100 ms of tone (low −8, high −6 dBm0) and 100 ms of silence. */
  enqueueDtmf(digit: DtmfDigit): void {
    const { low, high } = digitFrequencies(digit);
    this.enqueue(sines([{ freq: low, dbm0: -8 }, { freq: high, dbm0: -6 }], 800));
    this.enqueue(new Int16Array(800));
  }

  nextPcm(): Int16Array {
    const out = new Int16Array(FRAME_SAMPLES);
    let o = 0;
    while (o < FRAME_SAMPLES && this.#queue.length > 0) {
      const head = this.#queue[0] as Int16Array;
      const n = Math.min(FRAME_SAMPLES - o, head.length - this.#queuePos);
      out.set(head.subarray(this.#queuePos, this.#queuePos + n), o);
      o += n;
      this.#queuePos += n;
      if (this.#queuePos >= head.length) {
        this.#queue.shift();
        this.#queuePos = 0;
      }
    }
    if (o < FRAME_SAMPLES && this.#tone !== null) {
      const t = this.#tone;
      const pcm = sines(t.freqs.map((freq) => ({ freq, dbm0: t.dbm0 })), FRAME_SAMPLES - o, this.#tonePhase);
      out.set(pcm, o);
      this.#tonePhase += FRAME_SAMPLES - o;
    }
    return out;
  }

  nextFrame(): Buffer {
    return Buffer.from(muLawEncode(this.nextPcm()));
  }
}
