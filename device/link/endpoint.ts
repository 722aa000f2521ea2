// One end of the serial link, independent of what carries the bytes: frames out with a rolling
// sequence number, frames in checked, sequence gaps counted, and typed messages delivered. Both the
// host driver and the virtual board use it.

import { FrameDecoder, encodeFrame, type RawFrame } from './frame.js';
import { decodeMessage, encodeMessage, type Message, type NakReason } from './messages.js';

export interface EndpointStats {
  framesIn: number;
  framesOut: number;
  checksumErrors: number;
  garbageBytes: number;
  sequenceGaps: number;
  /** Frames with a valid CRC whose content made no sense (unknown type, bad length, bad port). */
  malformed: number;
}

export class LinkEndpoint {
  readonly #decoder: FrameDecoder;
  #seqOut = 0;
  #lastSeqIn: number | null = null;
  #framesOut = 0;
  #sequenceGaps = 0;
  #malformed = 0;

  constructor(
    private readonly write: (bytes: Buffer) => void,
    private readonly onMessage: (message: Message, frame: RawFrame) => void,
    private readonly onMalformed: (frame: RawFrame, reason: NakReason) => void = () => {},
  ) {
    this.#decoder = new FrameDecoder((frame) => this.#frame(frame));
  }

  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  send(message: Message): void {
    const { type, payload } = encodeMessage(message);
    const bytes = encodeFrame(this.#seqOut, type, payload);
    this.#seqOut = (this.#seqOut + 1) & 0xff;
    this.#framesOut++;
    this.write(bytes);
  }

  /** The peer restarted (or the line was reopened): its next sequence number is not a gap. */
  resetSequence(): void {
    this.#lastSeqIn = null;
    this.#decoder.reset();
  }

  /** Our own numbering restarts at 0 (what a board does at boot). */
  restartOutgoing(): void {
    this.#seqOut = 0;
  }

  stats(): EndpointStats {
    const d = this.#decoder.stats;
    return {
      framesIn: d.frames,
      framesOut: this.#framesOut,
      checksumErrors: d.checksumErrors,
      garbageBytes: d.garbageBytes,
      sequenceGaps: this.#sequenceGaps,
      malformed: this.#malformed,
    };
  }

  #frame(frame: RawFrame): void {
    if (this.#lastSeqIn !== null) {
      const missing = (frame.seq - this.#lastSeqIn - 1) & 0xff;
      if (missing !== 0) this.#sequenceGaps++;
    }
    this.#lastSeqIn = frame.seq;
    const decoded = decodeMessage(frame);
    if (!decoded.ok) {
      this.#malformed++;
      this.onMalformed(frame, decoded.reason);
      return;
    }
    this.onMessage(decoded.message, frame);
  }
}
