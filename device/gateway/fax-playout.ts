/**
 * Play-out of a fax call's G.711 (V.152 voiceband data) toward the fax machine: packets in
 * sequence-number order at a fixed depth. Timestamps are not used: a sender whose clock stalled
 * (a busy host) jumps its RTP timestamp to wall time (RFC 3550 §5.1) while its modem's signal
 * continues where it stopped; a timestamp-driven buffer would insert the jump as silence, which a
 * demodulator cannot survive. A sequence number missing when its turn comes is silence; an empty
 * buffer refills to the full depth before playing again; a buffer far too deep (the sender's clock
 * faster than ours) drops back to the depth.
 */
export class FaxPlayout {
  readonly #frames = new Map<number, Uint8Array>();
  /** the next sequence number to play; null before the first packet */
  #next: number | null = null;
  #filling = true;
  /** what happened, for the log and tests */
  readonly stats = { played: 0, missing: 0, underruns: 0, trimmed: 0, late: 0 };

  /** `depth`: frames held before playing (10 = 200 ms); `max`: beyond it, trim back to `depth`. */
  constructor(
    readonly depth = 10,
    readonly max = 50,
  ) {}

  get size(): number {
    return this.#frames.size;
  }

  push(sequence: number, payload: Uint8Array): void {
    const next = this.#next;
    if (next === null) {
      this.#next = sequence;
    } else {
      const ahead = (sequence - next) & 0xffff;
      // Behind what was played (late or duplicate): dropped; far ahead: the sender restarted.
      if (ahead >= 0x8000) {
        this.stats.late++;
        return;
      }
      if (ahead > this.max * 4) {
        this.#frames.clear();
        this.#next = sequence;
        this.#filling = true;
      }
    }
    this.#frames.set(sequence, payload);
  }

  /** The next 20 ms frame, or null (silence: filling, or the frame is missing). */
  pop(): Uint8Array | null {
    if (this.#next === null) return null;
    if (this.#filling) {
      if (this.#frames.size < this.depth) return null;
      this.#filling = false;
    }
    if (this.#frames.size === 0) {
      this.stats.underruns++;
      this.#filling = true;
      return null;
    }
    if (this.#frames.size > this.max) {
      while (this.#frames.size > this.depth) {
        this.#frames.delete(this.#next);
        this.#next = (this.#next + 1) & 0xffff;
        this.stats.trimmed++;
      }
    }
    const seq = this.#next;
    this.#next = (seq + 1) & 0xffff;
    const frame = this.#frames.get(seq);
    if (frame === undefined) {
      this.stats.missing++;
      return null;
    }
    this.#frames.delete(seq);
    this.stats.played++;
    return frame;
  }
}
