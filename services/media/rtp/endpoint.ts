/**
 * Feature takeover: a JS media endpoint attached to a leg hears that leg's phone as decoded 20 ms
 * PCM frames plus RFC 4733 DTMF events, and talks to it with 20 ms PCM frames that we encode and
 * packetize here (continuous SSRC/seq/timestamp, marker on talkspurt start: RFC 3551 §4.1).
 */
import { packets } from 'rtp.js';
import { g711Decode, g711Encode, type G711Law } from '../codec/g711.js';
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

/** Turns the phone's packets into frames and DTMF events for one attached endpoint. */
export class InboundDecoder {
  readonly #endpoint: MediaEndpoint;
  readonly #neg: Negotiation;
  #lastSeq: number | undefined;
  #pending = new Int16Array(0);
  /** RFC 4733: an event is identified by its timestamp; remember which began/ended */
  #eventTs: number | undefined;
  #eventEnded = false;

  constructor(endpoint: MediaEndpoint, neg: Negotiation) {
    this.#endpoint = endpoint;
    this.#neg = neg;
  }

  /** Never throws on bad input: malformed packets are dropped. */
  push(data: Uint8Array): void {
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
    if (this.#lastSeq !== undefined) {
      const delta = (seq - this.#lastSeq) & 0xffff;
      if (delta === 0 || delta > 0x8000) return; // duplicate or late: no jitter buffer here
    }
    this.#lastSeq = seq;
    const pt = pkt.getPayloadType();
    const payloadView = pkt.getPayload();
    const payload = new Uint8Array(payloadView.buffer, payloadView.byteOffset, payloadView.byteLength);
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
