/**
 * Key presses of one leg's phone for a feature watching in-call codes (`*3`), from RFC 4733
 * telephone-events: copies of the packets the native relay forwards (relay setEvents), or the
 * leg's own RTP while it is taken over. The phone's stream is decoded by the RFC 4733 receiver
 * (§2.5.2): one press per event, however many end packets it retransmits.
 */
import { packets } from 'rtp.js';
import { TelephoneEventReceiver } from '../dtmf/rfc4733.js';

const { RtpPacket, isRtp, isRtcp } = packets;

export interface KeyPress {
  /** 0-9, *, #, A-D */
  digit: string;
  durationMs: number;
  /** the end packets were lost: the press ended when the next one began */
  inferred: boolean;
}

export type KeyPressListener = (key: KeyPress) => void;

export class DtmfWatch {
  readonly #listener: KeyPressListener;
  #receiver = new TelephoneEventReceiver({ clockRate: 8000 });
  #ssrc: number | undefined;

  constructor(listener: KeyPressListener) {
    this.#listener = listener;
  }

  /** One RTP packet of the phone; anything but a well-formed telephone-event of `dtmfPt` is ignored. */
  push(data: Uint8Array, dtmfPt: number | undefined): void {
    if (dtmfPt === undefined || data.byteLength < 12 || ((data[1] ?? 0) & 0x7f) !== dtmfPt) return;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (isRtcp(view) || !isRtp(view)) return;
    let pkt: InstanceType<typeof RtpPacket>;
    try {
      pkt = new RtpPacket(view);
    } catch {
      return;
    }
    // A new stream (the phone restarted it, a transfer moved the leg) starts a fresh receiver.
    if (pkt.getSsrc() !== this.#ssrc) {
      this.#ssrc = pkt.getSsrc();
      this.#receiver = new TelephoneEventReceiver({ clockRate: 8000 });
    }
    const pv = pkt.getPayload();
    const reports = this.#receiver.receive({
      payload: new Uint8Array(pv.buffer, pv.byteOffset, pv.byteLength),
      timestamp: pkt.getTimestamp(),
      marker: pkt.getMarker(),
    });
    for (const r of reports) {
      if (r.type !== 'end' || r.digit === undefined) continue;
      this.#listener({ digit: r.digit, durationMs: r.durationMs, inferred: r.inferred });
    }
  }
}
