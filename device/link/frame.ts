// Framing of the serial link (docs/serial-protocol.md, "Framing"):
//
//   0x00  COBS( seq u8 | type u8 | payload … | crc16 u16 big-endian )  0x00
//
// The CRC (CRC-16/CCITT-FALSE) covers seq, type and payload. A frame is delimited by 0x00 on both
// sides, so garbage on the line can only spoil itself: the decoder resyncs at the next 0x00.

import { cobsDecode, cobsEncode } from './cobs.js';
import { crc16 } from './crc16.js';

/** Largest decoded body (seq + type + payload + crc). An audio frame is 1+1+161+2 = 165 bytes. */
export const MAX_BODY = 300;
/** Largest encoded frame between delimiters (COBS adds 1 byte per 254). */
export const MAX_ENCODED = MAX_BODY + 2;

export interface RawFrame {
  seq: number;
  type: number;
  payload: Buffer;
}

export function encodeFrame(seq: number, type: number, payload: Uint8Array): Buffer {
  const body = Buffer.allocUnsafe(payload.length + 4);
  body[0] = seq & 0xff;
  body[1] = type & 0xff;
  body.set(payload, 2);
  body.writeUInt16BE(crc16(body, 0, payload.length + 2), payload.length + 2);
  const enc = cobsEncode(body);
  const out = Buffer.allocUnsafe(enc.length + 2);
  out[0] = 0;
  enc.copy(out, 1);
  out[out.length - 1] = 0;
  return out;
}

export interface FrameDecoderStats {
  frames: number;
  checksumErrors: number;
  garbageBytes: number;
}

/**
 * Splits a byte stream into checked frames. Never throws: what is not a valid frame is counted
 * (`garbageBytes` for bytes that are not COBS or too long/short, `checksumErrors` for a bad CRC)
 * and dropped.
 */
export class FrameDecoder {
  readonly stats: FrameDecoderStats = { frames: 0, checksumErrors: 0, garbageBytes: 0 };
  readonly #buf = Buffer.allocUnsafe(MAX_ENCODED);
  #len = 0;
  #overflow = false;

  constructor(private readonly onFrame: (frame: RawFrame) => void) {}

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b !== 0) {
        if (this.#len < MAX_ENCODED) this.#buf[this.#len++] = b;
        else {
          this.#overflow = true;
          this.stats.garbageBytes++;
        }
        continue;
      }
      if (this.#len > 0 || this.#overflow) this.#end();
    }
  }

  /** Forget a partial frame (the port was reopened). */
  reset(): void {
    this.#len = 0;
    this.#overflow = false;
  }

  #end(): void {
    const len = this.#len;
    this.#len = 0;
    if (this.#overflow) {
      this.#overflow = false;
      this.stats.garbageBytes += len;
      return;
    }
    const body = cobsDecode(this.#buf.subarray(0, len));
    if (body === null || body.length < 4) {
      this.stats.garbageBytes += len;
      return;
    }
    const n = body.length;
    if (crc16(body, 0, n - 2) !== body.readUInt16BE(n - 2)) {
      this.stats.checksumErrors++;
      return;
    }
    this.stats.frames++;
    // cobsDecode allocates a fresh buffer per frame, so listeners may keep the payload.
    this.onFrame({ seq: body[0] as number, type: body[1] as number, payload: body.subarray(2, n - 2) });
  }
}
