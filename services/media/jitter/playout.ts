// G.711 receive path in one object: jitter buffer → decode → packet-loss concealment.
// The media loop pushes RTP payloads as they arrive and pulls one 20 ms PCM frame per tick.

import { g711Decode, FRAME_SAMPLES, type G711Law } from '../codec/g711.js';
import { JitterBuffer, type JitterBufferOptions, type JitterPacket, type JitterStats } from './jitter-buffer.js';
import { G711Plc } from './plc.js';

export type PlayoutFrame =
  | { readonly kind: 'audio'; readonly pcm: Int16Array }
  | { readonly kind: 'concealed'; readonly pcm: Int16Array; readonly reason: 'lost' | 'underrun' | 'stretch' }
  | { readonly kind: 'idle' };

export class G711Playout {
  readonly jitter: JitterBuffer;
  private readonly plc: G711Plc;

  constructor(readonly law: G711Law, options: Partial<JitterBufferOptions> = {}) {
    this.jitter = new JitterBuffer({ frameSamples: FRAME_SAMPLES, ...options });
    this.plc = new G711Plc(this.jitter.options.frameSamples);
  }

  push(packet: JitterPacket, arrivalMs: number): boolean {
    return this.jitter.push(packet, arrivalMs);
  }

  /** One frame for local time `nowMs`; `out` (frame-sized) is reused when given. */
  pull(nowMs: number, out?: Int16Array): PlayoutFrame {
    const r = this.jitter.pop(nowMs);
    const n = this.jitter.options.frameSamples;
    if (r.kind === 'idle') return r;
    const dst = out ?? new Int16Array(n);
    if (r.kind === 'conceal') return { kind: 'concealed', pcm: this.plc.conceal(dst.subarray(0, n)), reason: r.reason };
    const payload = r.packet.payload;
    if (payload.length === n) return { kind: 'audio', pcm: this.plc.good(g711Decode(this.law, payload, dst)) };
    // a packet with another ptime: decode what fits the frame (callers negotiate ptime 20 for G.711)
    const pcm = g711Decode(this.law, payload.subarray(0, n));
    dst.fill(0);
    dst.set(pcm);
    return { kind: 'audio', pcm: this.plc.good(dst.subarray(0, n)) };
  }

  get stats(): Readonly<JitterStats> {
    return this.jitter.stats;
  }
}
