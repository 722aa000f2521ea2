/**
 * Serial fuzz input: random bytes, frames with a valid CRC around random or mutated payloads (the
 * parser's edge, past the checksum), and valid frames damaged after framing (flips, cuts, splices).
 * Seeded, so a failure can be replayed with the seed the test prints.
 */
import { encodeFrame } from '../../device/link/frame.js';
import { encodeMessage, T, type Message } from '../../device/link/messages.js';
import { prng } from '../../services/media/dsp/synth.js';

const TYPES = Object.values(T);

const TEMPLATES: Message[] = [
  { t: 'hello', protocol: 1, mode: 'application', unsolicited: false, capabilities: ['pulse-detect'], ports: [{ kind: 'fxs', index: 1 }, { kind: 'fxo', index: 1 }], firmware: 'fuzz' },
  { t: 'pong', token: 1, relayEngaged: false, states: [{ port: { kind: 'fxs', index: 1 }, offHook: false, ringing: false, polarityReversed: false, loopCurrent: false }] },
  { t: 'event', event: { kind: 'hook', port: { kind: 'fxs', index: 1 }, offHook: true } },
  { t: 'event', event: { kind: 'pulse-digit', port: { kind: 'fxs', index: 2 }, digit: '5' } },
  { t: 'event', event: { kind: 'ring', port: { kind: 'fxo', index: 1 }, on: true } },
  { t: 'command', command: { kind: 'ring', port: { kind: 'fxs', index: 1 }, cadenceMs: [2000, 4000] } },
  { t: 'command', command: { kind: 'seize', port: { kind: 'fxo', index: 1 } } },
  { t: 'command', command: { kind: 'bypass-relay', engaged: true } },
  { t: 'audio', port: { kind: 'fxs', index: 1 }, frame: Buffer.alloc(160, 0x7f) },
  { t: 'boot-write', address: 0, data: Buffer.from('x'.repeat(64)), blockCrcOk: true },
  { t: 'boot-verify', address: 0, length: 1 << 30, crc32: 0 },
  { t: 'hello-request', protocol: 1 },
  { t: 'ping', token: 9 },
];

export class SerialFuzzer {
  readonly #rnd: () => number;
  #seq = 0;

  constructor(readonly seed: number) {
    this.#rnd = prng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#rnd() * n);
  }

  #bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.#int(256);
    return b;
  }

  /** One piece of hostile input (1 to ~600 bytes). */
  next(): Buffer {
    const kind = this.#int(6);
    this.#seq = (this.#seq + 1 + (this.#int(10) === 0 ? this.#int(256) : 0)) & 0xff;
    switch (kind) {
      case 0:
        return this.#bytes(1 + this.#int(600));
      case 1: {
        // Valid CRC, known type, random payload of random length.
        const type = TYPES[this.#int(TYPES.length)] as number;
        return encodeFrame(this.#seq, type, this.#bytes(this.#int(200)));
      }
      case 2: {
        // Valid CRC, a real message's payload mutated (flips, truncation, extension).
        const { type, payload } = encodeMessage(TEMPLATES[this.#int(TEMPLATES.length)] as Message);
        const p = Buffer.from(payload);
        const flips = 1 + this.#int(4);
        for (let i = 0; i < flips && p.length > 0; i++) p[this.#int(p.length)] = this.#int(256);
        const cut = this.#int(3) === 0 ? p.subarray(0, this.#int(p.length + 1)) : this.#int(3) === 0 ? Buffer.concat([p, this.#bytes(1 + this.#int(40))]) : p;
        return encodeFrame(this.#seq, type, cut);
      }
      case 3: {
        // A real frame damaged on the wire.
        const { type, payload } = encodeMessage(TEMPLATES[this.#int(TEMPLATES.length)] as Message);
        const f = Buffer.from(encodeFrame(this.#seq, type, payload));
        const at = 1 + this.#int(f.length - 2);
        f[at] = (f[at] as number) ^ (1 << this.#int(8));
        return this.#int(2) === 0 ? f : f.subarray(0, 1 + this.#int(f.length));
      }
      case 4:
        // Unknown types and over-long frames.
        return encodeFrame(this.#seq, this.#int(256), this.#bytes(this.#int(2) === 0 ? 290 : this.#int(20)));
      default:
        // Long runs of delimiters and of non-zero bytes (overflow of the frame buffer).
        return this.#int(2) === 0 ? Buffer.alloc(1 + this.#int(50), 0) : Buffer.alloc(300 + this.#int(700), 1 + this.#int(255));
    }
  }
}
