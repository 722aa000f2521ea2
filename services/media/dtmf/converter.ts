// DTMF interworking between in-band audio and RFC 4733 (and SIP INFO), so an analog phone (in-band) can
// drive a menu that expects RFC 4733 and an RFC 4733 phone can drive in-band equipment.
//
// In-band → RFC 4733: the Goertzel detector reports a digit ~30 ms after it begins; the sender's start
// packet carries the detected onset as its RTP timestamp (RFC 4733 §2.5.1.1 allows the timestamp to be in
// the past), updates follow every 50 ms, three end packets at key-up. Callers should replace the audio
// frames for which `process()` reports `inDigit` with silence so the far end does not hear the digit twice.
//
// RFC 4733/INFO → in-band: each event becomes a tone pair at −8/−6 dBm0 (2 dB normal twist), at least
// `minToneMs` long, separated by `gapMs` of silence (both ≥ 40 ms, the Q.24 minimums), queued in order.

import { SAMPLE_RATE } from '../codec/g711.js';
import { dbm0ToAmplitude } from '../dsp/levels.js';
import { Oscillator } from '../tones/generator.js';
import { DtmfDetector, type DtmfDetectorOptions } from './detector.js';
import { digitFrequencies, digitToEvent, type DtmfDigit } from './digits.js';
import {
  TelephoneEventReceiver, TelephoneEventSender, type ReceiverOptions, type SenderOptions, type TelephoneEventPacket,
  type TelephoneEventReport,
} from './rfc4733.js';

const SAMPLES_PER_MS = SAMPLE_RATE / 1000;

export interface InbandToRfc4733Options {
  readonly detector?: Partial<DtmfDetectorOptions>;
  readonly sender?: Partial<SenderOptions>;
}

export class InbandToRfc4733 {
  private readonly detector: DtmfDetector;
  private readonly sender: TelephoneEventSender;
  private baseTs: number | undefined;
  private digitStartTs = 0;

  constructor(options: InbandToRfc4733Options = {}) {
    this.detector = new DtmfDetector(options.detector);
    this.sender = new TelephoneEventSender(options.sender);
  }

  /**
   * Feed one frame of contiguous audio whose first sample has RTP timestamp `timestamp`.
   * Returns the telephone-event packets due now and whether a digit is being held.
   */
  process(pcm: Int16Array, timestamp: number): { readonly packets: TelephoneEventPacket[]; readonly inDigit: boolean } {
    this.baseTs ??= timestamp >>> 0;
    const packets: TelephoneEventPacket[] = [];
    for (const ev of this.detector.process(pcm)) {
      if (ev.type === 'start') {
        this.digitStartTs = this.toTs(ev.atMs);
        packets.push(this.sender.start(digitToEvent(ev.digit), this.digitStartTs));
      } else {
        packets.push(...this.sender.stop((this.digitStartTs + Math.round(ev.durationMs * SAMPLES_PER_MS)) >>> 0));
      }
    }
    const upd = this.sender.update((timestamp + pcm.length) >>> 0);
    if (upd !== undefined) packets.push(upd);
    return { packets, inDigit: this.sender.active };
  }

  /** End of the audio stream: closes a digit in progress. */
  flush(): TelephoneEventPacket[] {
    const packets: TelephoneEventPacket[] = [];
    for (const ev of this.detector.flush()) {
      if (ev.type === 'end') packets.push(...this.sender.stop((this.digitStartTs + Math.round(ev.durationMs * SAMPLES_PER_MS)) >>> 0));
    }
    return packets;
  }

  private toTs(ms: number): number {
    return ((this.baseTs ?? 0) + Math.round(ms * SAMPLES_PER_MS)) >>> 0;
  }
}

export interface Rfc4733ToInbandOptions {
  readonly receiver?: Partial<ReceiverOptions>;
  readonly lowDbm0: number;
  readonly highDbm0: number;
  readonly minToneMs: number;
  readonly gapMs: number;
  readonly frameSamples: number;
}

interface QueuedDigit {
  readonly digit: DtmfDigit;
  readonly event: number;
  /** Samples to play; undefined while the key is still held. */
  toneSamples: number | undefined;
  played: number;
  gapPlayed: number;
  osc: Oscillator | undefined;
}

export class Rfc4733ToInband {
  readonly options: Rfc4733ToInbandOptions;
  private readonly receiver: TelephoneEventReceiver;
  private readonly queue: QueuedDigit[] = [];
  private readonly gains = new Float64Array(2);

  constructor(options: Partial<Rfc4733ToInbandOptions> = {}) {
    this.options = { lowDbm0: -8, highDbm0: -6, minToneMs: 60, gapMs: 60, frameSamples: 160, ...options };
    this.receiver = new TelephoneEventReceiver(this.options.receiver);
    this.gains[0] = dbm0ToAmplitude(this.options.lowDbm0);
    this.gains[1] = dbm0ToAmplitude(this.options.highDbm0);
  }

  /** A received telephone-event RTP packet. Returns what the receiver made of it. */
  receive(pkt: { readonly payload: Uint8Array; readonly timestamp: number; readonly marker?: boolean }): TelephoneEventReport[] {
    const reps = this.receiver.receive(pkt);
    for (const r of reps) this.apply(r);
    return reps;
  }

  /** Media tick with the current RTP time: ends events whose end packets never came. */
  expire(now: number): TelephoneEventReport[] {
    const reps = this.receiver.expire(now);
    for (const r of reps) this.apply(r);
    return reps;
  }

  /** A digit from SIP INFO (or the API) with a known duration. */
  addDigit(digit: DtmfDigit, durationMs: number): void {
    this.queue.push({ digit, event: digitToEvent(digit), toneSamples: this.clampTone(durationMs), played: 0, gapPlayed: 0, osc: undefined });
  }

  /** True while tones are queued or playing. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** The next frame of DTMF audio, or undefined when nothing is to be played (pass the voice through). */
  nextFrame(out?: Int16Array): Int16Array | undefined {
    if (this.queue.length === 0) return undefined;
    const dst = out ?? new Int16Array(this.options.frameSamples);
    const gapSamples = this.options.gapMs * SAMPLES_PER_MS;
    for (let i = 0; i < dst.length; i++) {
      const q = this.queue[0];
      if (q === undefined) {
        dst[i] = 0;
        continue;
      }
      if (q.toneSamples === undefined || q.played < q.toneSamples) {
        if (q.osc === undefined) {
          const f = digitFrequencies(q.digit);
          q.osc = new Oscillator([f.low, f.high]);
        }
        dst[i] = Math.round(q.osc.next(this.gains));
        q.played++;
        if ((q.played & 127) === 0) q.osc.renormalise();
      } else {
        dst[i] = 0;
        if (++q.gapPlayed >= gapSamples) this.queue.shift();
      }
    }
    return dst;
  }

  private clampTone(ms: number): number {
    return Math.round(Math.max(ms, this.options.minToneMs) * SAMPLES_PER_MS);
  }

  private apply(r: TelephoneEventReport): void {
    if (r.digit === undefined) return; // flash and non-DTMF events have no in-band form here
    if (r.type === 'start') {
      this.queue.push({ digit: r.digit, event: r.event, toneSamples: undefined, played: 0, gapPlayed: 0, osc: undefined });
      return;
    }
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i] as QueuedDigit;
      if (q.event === r.event && q.toneSamples === undefined) {
        q.toneSamples = this.clampTone(r.durationMs);
        return;
      }
    }
    this.addDigit(r.digit, r.durationMs);
  }
}
