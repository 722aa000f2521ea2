// RFC 4733 telephone-events: payload codec (§2.3), sender (§2.5.1) and receiver (§2.5.2).
//
// Payload (§2.3):  event(8) | E(1) R(1) volume(6) | duration(16), duration in RTP timestamp units.
// Sender: the first packet of an event carries the RTP marker bit (§2.5.1.1); while the key is held it
// sends updates every `intervalMs` with the same timestamp and a growing duration (§2.5.1.2); at the end
// it sends the final packet three times with the E bit and identical timestamp/duration (§2.5.1.4).
// Events longer than 0xFFFF units are split in segments with a new timestamp and no marker (§2.5.1.3).
// Receiver: one event per RTP timestamp; retransmitted end packets are de-duplicated and the digit is
// reported once; a new timestamp while an event is open ends the old one (its end packets were lost).

import { eventToDigit, type DtmfDigit } from './digits.js';

export const TELEPHONE_EVENT_FLASH = 16;
export const MAX_DURATION = 0xffff;

export interface TelephoneEvent {
  /** Event code 0–255 (0–15 DTMF, 16 flash; RFC 4733 §3.2). */
  readonly event: number;
  /** E bit: this is (a retransmission of) the end of the event. */
  readonly end: boolean;
  /** Power level of the tone, 0..63 meaning 0..−63 dBm0. */
  readonly volume: number;
  /** Duration so far, in RTP timestamp units. */
  readonly duration: number;
}

export class Rfc4733Error extends Error {
  override readonly name = 'Rfc4733Error';
}

export function encodeTelephoneEvent(ev: TelephoneEvent, out: Uint8Array = new Uint8Array(4)): Uint8Array {
  if (!Number.isInteger(ev.event) || ev.event < 0 || ev.event > 255) throw new Rfc4733Error(`event out of range: ${ev.event}`);
  if (!Number.isInteger(ev.volume) || ev.volume < 0 || ev.volume > 63) throw new Rfc4733Error(`volume out of range: ${ev.volume}`);
  if (!Number.isInteger(ev.duration) || ev.duration < 0 || ev.duration > MAX_DURATION) {
    throw new Rfc4733Error(`duration out of range: ${ev.duration}`);
  }
  if (out.length < 4) throw new Rfc4733Error('output buffer shorter than 4 bytes');
  out[0] = ev.event;
  out[1] = (ev.end ? 0x80 : 0) | ev.volume; // R bit is sent as zero
  out[2] = ev.duration >> 8;
  out[3] = ev.duration & 0xff;
  return out;
}

/** Decode the first event block of a payload (a payload may carry more blocks; §2.5.1.5 redundancy is via RFC 2198). */
export function decodeTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < 4) throw new Rfc4733Error(`telephone-event payload too short: ${payload.length} bytes`);
  const b1 = payload[1] as number;
  return {
    event: payload[0] as number,
    end: (b1 & 0x80) !== 0,
    volume: b1 & 0x3f,
    duration: ((payload[2] as number) << 8) | (payload[3] as number),
  };
}

/** An RTP packet to send/received for telephone-event (the RTP layer adds SSRC, sequence, PT). */
export interface TelephoneEventPacket {
  readonly payload: Uint8Array;
  readonly marker: boolean;
  /** RTP timestamp: the start of the event (segment). */
  readonly timestamp: number;
}

export interface SenderOptions {
  readonly clockRate: number;
  /** Update packet interval, ms (RFC 4733 §2.5.1.2 suggests 50 ms). */
  readonly intervalMs: number;
  /** Volume field, 0..63 (−dBm0). */
  readonly volume: number;
  /** How many times the final packet is sent (§2.5.1.4: three). */
  readonly endRepeats: number;
}

export const DEFAULT_SENDER_OPTIONS: SenderOptions = { clockRate: 8000, intervalMs: 50, volume: 10, endRepeats: 3 };

type SenderState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'active'; event: number; segmentStart: number; lastSentAt: number };

/**
 * RFC 4733 §2.5.1 sender, driven by the caller's RTP clock (timestamps are uint32 and may wrap).
 * `start()` at key-down, `update(now)` on every media tick, `stop(now)` at key-up.
 */
export class TelephoneEventSender {
  readonly options: SenderOptions;
  private state: SenderState = { kind: 'idle' };

  constructor(options: Partial<SenderOptions> = {}) {
    this.options = { ...DEFAULT_SENDER_OPTIONS, ...options };
  }

  get active(): boolean {
    return this.state.kind === 'active';
  }

  /** Key-down at RTP time `timestamp`: the start packet (marker set, duration 0). */
  start(event: number, timestamp: number): TelephoneEventPacket {
    if (this.state.kind === 'active') throw new Rfc4733Error('telephone-event already in progress; stop it first');
    const ts = timestamp >>> 0;
    this.state = { kind: 'active', event, segmentStart: ts, lastSentAt: ts };
    return this.packet(event, false, 0, ts, true);
  }

  /** Media tick at RTP time `now`: an update packet when an interval has elapsed, else undefined. */
  update(now: number): TelephoneEventPacket | undefined {
    const s = this.state;
    if (s.kind !== 'active') return undefined;
    const interval = (this.options.intervalMs * this.options.clockRate) / 1000;
    if (tsDiff(now, s.lastSentAt) < interval) return undefined;
    s.lastSentAt = now >>> 0;
    let dur = tsDiff(now, s.segmentStart);
    if (dur >= MAX_DURATION) {
      // §2.5.1.3: close this segment at the maximum and continue in a new one
      const closing = this.packet(s.event, false, MAX_DURATION, s.segmentStart, false);
      s.segmentStart = (s.segmentStart + MAX_DURATION) >>> 0;
      dur = tsDiff(now, s.segmentStart);
      if (dur === 0) return closing;
    }
    return this.packet(s.event, false, dur, s.segmentStart, false);
  }

  /** Key-up at RTP time `now`: the final packet `endRepeats` times (identical, E bit set). */
  stop(now: number): TelephoneEventPacket[] {
    const s = this.state;
    if (s.kind !== 'active') return [];
    const dur = Math.min(MAX_DURATION, Math.max(0, tsDiff(now, s.segmentStart)));
    this.state = { kind: 'idle' };
    const out: TelephoneEventPacket[] = [];
    for (let i = 0; i < this.options.endRepeats; i++) out.push(this.packet(s.event, true, dur, s.segmentStart, false));
    return out;
  }

  /**
   * Whole schedule of a digit of `durationMs` starting at `timestamp`: each packet with the RTP time at
   * which it is due (start, updates every interval, the end packets — all due at the key-up time).
   */
  schedule(event: number, timestamp: number, durationMs: number): { readonly at: number; readonly packet: TelephoneEventPacket }[] {
    const rate = this.options.clockRate / 1000;
    const interval = this.options.intervalMs * rate;
    const total = Math.round(durationMs * rate);
    const out: { at: number; packet: TelephoneEventPacket }[] = [{ at: timestamp >>> 0, packet: this.start(event, timestamp) }];
    for (let t = interval; t < total; t += interval) {
      const p = this.update((timestamp + t) >>> 0);
      if (p !== undefined) out.push({ at: (timestamp + t) >>> 0, packet: p });
    }
    const endAt = (timestamp + total) >>> 0;
    for (const p of this.stop(endAt)) out.push({ at: endAt, packet: p });
    return out;
  }

  private packet(event: number, end: boolean, duration: number, timestamp: number, marker: boolean): TelephoneEventPacket {
    return {
      payload: encodeTelephoneEvent({ event, end, volume: this.options.volume, duration }),
      marker,
      timestamp,
    };
  }
}

/** Signed difference a − b of two uint32 RTP timestamps (RFC 3550 §A.1 modular arithmetic). */
export function tsDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

export type TelephoneEventReport =
  | { readonly type: 'start'; readonly event: number; readonly digit: DtmfDigit | undefined; readonly timestamp: number }
  | {
      readonly type: 'end';
      readonly event: number;
      readonly digit: DtmfDigit | undefined;
      readonly timestamp: number;
      /** Total duration in RTP units and in ms. */
      readonly duration: number;
      readonly durationMs: number;
      /** True when the end was inferred (end packets lost) rather than received. */
      readonly inferred: boolean;
    };

export interface ReceiverOptions {
  readonly clockRate: number;
  /** An open event with no packet for this long (ms of RTP time) is ended by `expire()`. */
  readonly timeoutMs: number;
}

interface OpenEvent {
  event: number;
  /** Timestamp of the first segment (identity of the event). */
  readonly timestamp: number;
  segmentStart: number;
  /** Duration accumulated in closed segments. */
  baseDuration: number;
  lastDuration: number;
}

/**
 * RFC 4733 §2.5.2 receiver. Feed every telephone-event packet (after RTP parsing); it reports a start
 * once per event and an end once per event, however many end packets arrive or are lost.
 */
export class TelephoneEventReceiver {
  readonly options: ReceiverOptions;
  private open: OpenEvent | undefined;
  /** Recently finished event timestamps, to drop late retransmitted end packets. */
  private readonly finished: number[] = [];
  private malformed = 0;

  constructor(options: Partial<ReceiverOptions> = {}) {
    this.options = { clockRate: 8000, timeoutMs: 1000, ...options };
  }

  get malformedPackets(): number {
    return this.malformed;
  }

  get activeEvent(): number | undefined {
    return this.open?.event;
  }

  receive(pkt: { readonly payload: Uint8Array; readonly timestamp: number; readonly marker?: boolean }): TelephoneEventReport[] {
    if (pkt.payload.length < 4) {
      this.malformed++;
      return [];
    }
    const ev = decodeTelephoneEvent(pkt.payload);
    const ts = pkt.timestamp >>> 0;
    const out: TelephoneEventReport[] = [];
    const o = this.open;
    if (o !== undefined && ts === o.segmentStart) {
      if (ev.event !== o.event) {
        this.malformed++; // same timestamp, different event: not a valid stream (§2.5.2.2)
        return out;
      }
      if (ev.duration > o.lastDuration) o.lastDuration = ev.duration;
      if (ev.end) out.push(this.close(false));
      return out;
    }
    if (this.finished.includes(ts)) return out; // retransmitted end packet of a finished event
    if (
      o !== undefined &&
      pkt.marker !== true &&
      ev.event === o.event &&
      o.lastDuration >= MAX_DURATION - 4000 && // the previous segment was about to overflow
      tsDiff(ts, o.segmentStart) >= o.lastDuration &&
      tsDiff(ts, o.segmentStart) <= MAX_DURATION
    ) {
      // §2.5.1.3 continuation segment of a long event
      o.baseDuration += tsDiff(ts, o.segmentStart);
      o.segmentStart = ts;
      o.lastDuration = ev.duration;
      if (ev.end) out.push(this.close(false));
      return out;
    }
    if (o !== undefined) {
      if (tsDiff(ts, o.segmentStart) < 0) return out; // stale packet of an older event
      out.push(this.close(true));
    }
    this.open = { event: ev.event, timestamp: ts, segmentStart: ts, baseDuration: 0, lastDuration: ev.duration };
    out.push({ type: 'start', event: ev.event, digit: eventToDigit(ev.event), timestamp: ts });
    if (ev.end) out.push(this.close(false));
    return out;
  }

  /** Call on media ticks with the current RTP time: ends an event whose packets stopped (§2.5.2.3). */
  expire(now: number): TelephoneEventReport[] {
    const o = this.open;
    if (o === undefined) return [];
    const timeout = (this.options.timeoutMs * this.options.clockRate) / 1000;
    if (tsDiff(now, o.segmentStart) - o.lastDuration > timeout) return [this.close(true)];
    return [];
  }

  private close(inferred: boolean): TelephoneEventReport {
    const o = this.open as OpenEvent;
    this.open = undefined;
    this.finished.push(o.segmentStart, o.timestamp);
    while (this.finished.length > 16) this.finished.shift();
    const duration = o.baseDuration + o.lastDuration;
    return {
      type: 'end',
      event: o.event,
      digit: eventToDigit(o.event),
      timestamp: o.timestamp,
      duration,
      durationMs: (duration * 1000) / this.options.clockRate,
      inferred,
    };
  }
}
