/**
 * Feature takeover: a JS media endpoint attached to a leg hears that leg's phone as decoded 20 ms
 * PCM frames plus RFC 4733 DTMF events, and talks to it with 20 ms PCM frames that we encode and
 * packetize here (continuous SSRC/seq/timestamp, marker on talkspurt start: RFC 3551 §4.1).
 */
import { packets } from 'rtp.js';
import { g711Decode, g711Encode, type G711Law } from '../codec/g711.js';
import { G711Playout } from '../jitter/playout.js';
import type { JitterMode, JitterStats } from '../jitter/jitter-buffer.js';
import { parseTelephoneEvent } from './dtmf-event.js';

const { RtpPacket, isRtp, isRtcp } = packets;

export const FRAME_SAMPLES = 160; // 20 ms at 8 kHz
const FRAME_MS = 20;
/** a pause longer than this starts a new talkspurt (marker bit, timestamp jumps with the clock) */
const TALKSPURT_GAP_MS = 60;

export interface DtmfEvent {
  digit: string;
  /** 'begin' on the first packet of an event, 'end' once on its end bit (RFC 4733 §2.5.1.4) */
  phase: 'begin' | 'end';
  durationMs: number;
}

/** What a feature implements to take over a leg. */
export interface MediaEndpoint {
  /** one 20 ms frame of 8 kHz 16-bit PCM from the leg's phone */
  onAudio?(frame: Int16Array): void;
  onDtmf?(event: DtmfEvent): void;
  /** the leg went back to the bridge, or closed */
  onDetach?(): void;
}

/** What the engine gives the feature to talk to the phone. */
export interface MediaOutput {
  readonly codec: G711Law;
  /** Encodes and sends one 20 ms frame (160 samples). False when the phone has no known address or is on hold. */
  sendAudio(frame: Int16Array): boolean;
  /** Whether this phone negotiated telephone-event (RFC 4733) on this leg. */
  readonly telephoneEvent: boolean;
  /** The RTP timestamp of this stream at this moment (what an audio packet sent now would carry). */
  timestamp(): number;
  /**
   * Sends one RFC 4733 packet on this leg's stream: same SSRC, next sequence number, the event's own
   * timestamp (§2.5.1: the event's start, in this stream's timeline). False without telephone-event.
   */
  sendEvent(packet: EventPacket): boolean;
}

/** One telephone-event packet as `dtmf/rfc4733.ts` TelephoneEventSender makes it. */
export interface EventPacket {
  readonly payload: Uint8Array;
  readonly marker: boolean;
  readonly timestamp: number;
}

export interface Negotiation {
  law: G711Law;
  audioPt: number;
  dtmfPt: number | undefined;
}

/**
 * The RTP stream a leg sends when JS is its source. One per leg for its lifetime, so detaching and
 * re-attaching continues the same SSRC and sequence (the phone sees one source that paused).
 */
export class OutboundStream {
  readonly ssrc: number;
  #seq: number;
  #ts: number;
  #lastSentAt = -Infinity;
  packetCount = 0;
  octetCount = 0;

  constructor() {
    this.ssrc = (Math.random() * 0xffffffff) >>> 0;
    this.#seq = Math.floor(Math.random() * 0xffff);
    this.#ts = (Math.random() * 0xffffffff) >>> 0;
  }

  get timestamp(): number {
    return this.#ts;
  }

  /** The timestamp an audio packet sent at `now` would carry (the stream's media clock). */
  timestampAt(now = performance.now()): number {
    if (!Number.isFinite(this.#lastSentAt)) return this.#ts;
    const gap = now - this.#lastSentAt;
    const frames = gap > TALKSPURT_GAP_MS ? Math.max(1, Math.round(gap / FRAME_MS)) : 1;
    return (this.#ts + frames * FRAME_SAMPLES) >>> 0;
  }

  /**
   * An RFC 4733 packet in this stream (§2.5.1): the next sequence number, the event's timestamp.
   * The audio clock is left alone: audio resuming after the event continues from wall time.
   */
  event(payloadType: number, ev: EventPacket): Uint8Array {
    this.#seq = (this.#seq + 1) & 0xffff;
    const p = new RtpPacket();
    p.setPayloadType(payloadType);
    p.setSequenceNumber(this.#seq);
    p.setTimestamp(ev.timestamp >>> 0);
    p.setSsrc(this.ssrc);
    p.setMarker(ev.marker);
    p.setPayload(new DataView(ev.payload.buffer, ev.payload.byteOffset, ev.payload.byteLength));
    const view = p.getView();
    this.packetCount++;
    this.octetCount += ev.payload.byteLength;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }

  /** Builds the next packet; the timestamp follows the wall clock across pauses (RFC 3550 §5.1). */
  next(payloadType: number, payload: Uint8Array, now = performance.now()): Uint8Array {
    const gap = now - this.#lastSentAt;
    const marker = gap > TALKSPURT_GAP_MS;
    if (Number.isFinite(this.#lastSentAt)) {
      const frames = marker ? Math.max(1, Math.round(gap / FRAME_MS)) : 1;
      this.#ts = (this.#ts + frames * FRAME_SAMPLES) >>> 0;
    }
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#lastSentAt = now;
    const p = new RtpPacket();
    p.setPayloadType(payloadType);
    p.setSequenceNumber(this.#seq);
    p.setTimestamp(this.#ts);
    p.setSsrc(this.ssrc);
    p.setMarker(marker);
    p.setPayload(new DataView(payload.buffer, payload.byteOffset, payload.byteLength));
    const view = p.getView();
    this.packetCount++;
    this.octetCount += payload.byteLength;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }
}

/**
 * Turns the phone's packets into frames and DTMF events for one attached endpoint. Without a
 * playout mode frames go out as packets arrive (in order; late and duplicate packets dropped);
 * with one, audio goes through the jitter buffer (adaptive, or fixed for fax/modem calls) and
 * G.711 loss concealment, and `tick()` — called every 20 ms — hands out exactly one frame.
 */
export class InboundDecoder {
  readonly #endpoint: MediaEndpoint;
  readonly #neg: Negotiation;
  readonly #playout: G711Playout | null;
  #lastSeq: number | undefined;
  #pending = new Int16Array(0);
  /** RFC 4733: an event is identified by its timestamp; remember which began/ended */
  #eventTs: number | undefined;
  #eventEnded = false;

  constructor(endpoint: MediaEndpoint, neg: Negotiation, playout: JitterMode | null = null) {
    this.#endpoint = endpoint;
    this.#neg = neg;
    this.#playout = playout === null ? null : new G711Playout(neg.law, { mode: playout });
  }

  /** One 20 ms playout step (playout mode only): a frame, a concealed frame, or nothing yet. */
  tick(nowMs: number): void {
    if (this.#playout === null) return;
    const frame = this.#playout.pull(nowMs);
    if (frame.kind !== 'idle') this.#endpoint.onAudio?.(frame.pcm.slice());
  }

  /** Jitter buffer counters (playout mode only). */
  get playoutStats(): Readonly<JitterStats> | null {
    return this.#playout?.stats ?? null;
  }

  /** Never throws on bad input: malformed packets are dropped. `arrivalMs` is for the jitter buffer. */
  push(data: Uint8Array, arrivalMs: number = performance.now()): void {
    if (data.byteLength < 12) return;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (isRtcp(view) || !isRtp(view)) return;
    let pkt: InstanceType<typeof RtpPacket>;
    try {
      pkt = new RtpPacket(view);
    } catch {
      return;
    }
    const seq = pkt.getSequenceNumber();
    const pt = pkt.getPayloadType();
    const payloadView = pkt.getPayload();
    const payload = new Uint8Array(payloadView.buffer, payloadView.byteOffset, payloadView.byteLength);
    if (this.#playout !== null && pt === this.#neg.audioPt && payload.byteLength > 0) {
      // The jitter buffer reorders, drops duplicates and late packets itself. The payload is
      // copied: the native side reuses its receive buffers.
      this.#playout.push({ sequence: seq, timestamp: pkt.getTimestamp(), payload: payload.slice(), marker: pkt.getMarker() }, arrivalMs);
      return;
    }
    if (this.#lastSeq !== undefined) {
      const delta = (seq - this.#lastSeq) & 0xffff;
      if (delta === 0 || delta > 0x8000) return; // duplicate or late
    }
    this.#lastSeq = seq;
    if (pt === this.#neg.dtmfPt) {
      this.#telephoneEvent(pkt.getTimestamp(), payload);
      return;
    }
    if (pt !== this.#neg.audioPt || payload.byteLength === 0) return;
    const pcm = g711Decode(this.#neg.law, payload);
    this.#frames(pcm);
  }

  #frames(pcm: Int16Array): void {
    let buf = pcm;
    if (this.#pending.length > 0) {
      buf = new Int16Array(this.#pending.length + pcm.length);
      buf.set(this.#pending);
      buf.set(pcm, this.#pending.length);
    }
    let off = 0;
    for (; off + FRAME_SAMPLES <= buf.length; off += FRAME_SAMPLES) {
      this.#endpoint.onAudio?.(buf.slice(off, off + FRAME_SAMPLES));
    }
    this.#pending = buf.slice(off);
  }

  #telephoneEvent(ts: number, payload: Uint8Array): void {
    const ev = parseTelephoneEvent(payload);
    if (!ev) return;
    const durationMs = (ev.duration * 1000) / 8000;
    if (ts !== this.#eventTs) {
      this.#eventTs = ts;
      this.#eventEnded = false;
      this.#endpoint.onDtmf?.({ digit: ev.digit, phase: 'begin', durationMs });
    }
    if (ev.end && !this.#eventEnded) {
      this.#eventEnded = true;
      this.#endpoint.onDtmf?.({ digit: ev.digit, phase: 'end', durationMs });
    }
  }
}

export function encodeFrame(law: G711Law, frame: Int16Array): Uint8Array {
  return g711Encode(law, frame);
}
