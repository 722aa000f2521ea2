/**
 * The audio side of the test phone: one UDP socket on loopback that sends a 20 ms G.711 frame of
 * the chosen signal every 20 ms (a tone, silence, an in-band DTMF digit), RFC 4733 events when
 * asked, and records every frame it receives, decoded, with its arrival time, so a test can listen
 * to any time window of the call with Goertzel.
 *
 * The SDP it writes and reads is handled here with a deliberately small, independent reader
 * (c=, m=audio, a=rtpmap), so the tests do not check the PBX's SDP with the PBX's own parser.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { packets } from 'rtp.js';
import { g711Decode, g711Encode, type G711Law } from '../../services/media/codec/g711.js';
import { digitFrequencies, digitToEvent, type DtmfDigit } from '../../services/media/dtmf/digits.js';
import { encodeTelephoneEvent } from '../../services/media/dtmf/rfc4733.js';
import { sines } from '../../services/media/dsp/synth.js';

const { RtpPacket, isRtcp } = packets;
const FRAME = 160;

export type Signal =
  | { kind: 'silence' }
  | { kind: 'tones'; freqs: readonly number[]; dbm0?: number };

export interface RemoteMedia {
  address: string;
  port: number;
  /** payload types by name, as the other side wrote them */
  payloadTypes: Map<string, number>;
  telephoneEvent: number | null;
}

export interface ReceivedFrame {
  at: number;
  pt: number;
  pcm: Int16Array | null;
  /** decoded RFC 4733 payload for telephone-event packets */
  event?: { event: number; end: boolean; duration: number };
}

/** Reads what a test phone needs from an SDP body. Throws on SDP without an audio stream. */
export function readSdp(sdp: string): RemoteMedia {
  let sessionAddress = '';
  let mediaAddress = '';
  let port = -1;
  let formats: number[] = [];
  const rtpmap = new Map<number, string>();
  let inAudio = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      inAudio = line.startsWith('m=audio ');
      if (inAudio) {
        const parts = line.slice(2).split(' ');
        port = Number(parts[1]);
        formats = parts.slice(3).map(Number);
      }
    } else if (line.startsWith('c=')) {
      const address = line.split(' ')[2] ?? '';
      if (port < 0) sessionAddress = address;
      else if (inAudio) mediaAddress = address;
    } else if (inAudio && line.startsWith('a=rtpmap:')) {
      const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(line);
      if (m) rtpmap.set(Number(m[1]), (m[2] as string).toUpperCase());
    }
  }
  if (port < 0) throw new Error('SDP without m=audio');
  const payloadTypes = new Map<string, number>();
  for (const pt of formats) {
    const name = rtpmap.get(pt) ?? (pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : `PT${pt}`);
    if (!payloadTypes.has(name)) payloadTypes.set(name, pt);
  }
  return { address: mediaAddress || sessionAddress, port, payloadTypes, telephoneEvent: payloadTypes.get('TELEPHONE-EVENT') ?? null };
}

export class PhoneMedia {
  readonly socket: Socket;
  readonly received: ReceivedFrame[] = [];
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  /** offer telephone-event (RFC 4733) in our SDP */
  readonly telephoneEvent: boolean;
  remote: RemoteMedia | null = null;
  packetsSent = 0;
  #signal: Signal = { kind: 'silence' };
  #inband: { digit: DtmfDigit; framesLeft: number } | null = null;
  #event: { code: number; ts: number; frames: number; total: number; endsSent: number } | null = null;
  #seq = Math.floor(Math.random() * 0xffff);
  #ts = (Math.random() * 0xffffffff) >>> 0;
  #sample = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #version = 1;

  private constructor(socket: Socket, telephoneEvent: boolean) {
    this.socket = socket;
    this.telephoneEvent = telephoneEvent;
    socket.on('message', (msg) => this.#receive(msg));
  }

  static async open(options: { telephoneEvent?: boolean } = {}): Promise<PhoneMedia> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new PhoneMedia(socket, options.telephoneEvent ?? true);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get law(): G711Law {
    return this.remote?.payloadTypes.has('PCMU') === false && this.remote.payloadTypes.has('PCMA') ? 'PCMA' : 'PCMU';
  }

  /** Our SDP (offer, or answer to `remote` when set). */
  describe(): string {
    const te = this.telephoneEvent && (this.remote === null || this.remote.telephoneEvent !== null);
    const tePt = this.remote?.telephoneEvent ?? 101;
    const audioPt = this.law === 'PCMU' ? 0 : 8;
    const lines = [
      'v=0',
      `o=testphone 1 ${this.#version++} IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${audioPt}${te ? ` ${tePt}` : ''}`,
      `a=rtpmap:${audioPt} ${this.law}/8000`,
      ...(te ? [`a=rtpmap:${tePt} telephone-event/8000`, `a=fmtp:${tePt} 0-16`] : []),
      'a=ptime:20',
      'a=sendrecv',
      '',
    ];
    return lines.join('\r\n');
  }

  setRemote(sdp: string): void {
    this.remote = readSdp(sdp);
    this.#start();
  }

  setSignal(signal: Signal): void {
    this.#signal = signal;
  }

  /** Sends `digit` as DTMF tones inside the audio for `ms`, replacing the signal meanwhile. */
  sendInbandDigit(digit: DtmfDigit, ms = 120): void {
    this.#inband = { digit, framesLeft: Math.ceil(ms / 20) };
  }

  /** Sends `digit` as RFC 4733 events (audio paused meanwhile, §2.5.1.2); false when not negotiated. */
  sendRfc4733(digit: DtmfDigit, ms = 120): boolean {
    if (this.remote?.telephoneEvent == null || !this.telephoneEvent) return false;
    this.#event = { code: digitToEvent(digit), ts: this.#ts, frames: 0, total: Math.ceil(ms / 20), endsSent: 0 };
    return true;
  }

  /** Decoded audio that arrived in [from, to) (performance.now() times). */
  pcmBetween(from: number, to: number): Int16Array {
    const frames = this.received.filter((f) => f.at >= from && f.at < to && f.pcm !== null);
    const out = new Int16Array(frames.length * FRAME);
    frames.forEach((f, i) => out.set((f.pcm as Int16Array).subarray(0, FRAME), i * FRAME));
    return out;
  }

  eventsBetween(from: number, to: number): ReceivedFrame[] {
    return this.received.filter((f) => f.at >= from && f.at < to && f.event !== undefined);
  }

  #start(): void {
    if (this.#timer !== null || this.#closed) return;
    const origin = performance.now();
    let n = 0;
    // Drift-free 20 ms sending: each frame is due at origin + n·20 ms.
    const step = (): void => {
      if (this.#closed) return;
      this.#sendFrame();
      n++;
      this.#timer = setTimeout(step, Math.max(0, origin + n * 20 - performance.now()));
    };
    step();
  }

  #sendFrame(): void {
    const remote = this.remote;
    if (remote === null || remote.port === 0) return;
    if (this.#event !== null && remote.telephoneEvent !== null) {
      const ev = this.#event;
      ev.frames++;
      const end = ev.frames >= ev.total;
      const payload = encodeTelephoneEvent({ event: ev.code, end, volume: 10, duration: Math.min(0xffff, ev.frames * FRAME) });
      this.#send(remote.telephoneEvent, payload, ev.ts, ev.frames === 1);
      if (end) {
        // RFC 4733 §2.5.1.4: the end packet is sent three times.
        this.#send(remote.telephoneEvent, payload, ev.ts, false);
        this.#send(remote.telephoneEvent, payload, ev.ts, false);
        this.#event = null;
      }
      this.#ts = (this.#ts + FRAME) >>> 0;
      this.#sample += FRAME;
      return;
    }
    let pcm: Int16Array;
    if (this.#inband !== null) {
      const { low, high } = digitFrequencies(this.#inband.digit);
      pcm = sines([{ freq: low, dbm0: -8 }, { freq: high, dbm0: -6 }], FRAME, this.#sample);
      if (--this.#inband.framesLeft <= 0) this.#inband = null;
    } else if (this.#signal.kind === 'tones') {
      const dbm0 = this.#signal.dbm0 ?? -12;
      pcm = sines(this.#signal.freqs.map((freq) => ({ freq, dbm0 })), FRAME, this.#sample);
    } else {
      pcm = new Int16Array(FRAME);
    }
    this.#sample += FRAME;
    this.#send(this.law === 'PCMU' ? 0 : 8, g711Encode(this.law, pcm), this.#ts, false);
    this.#ts = (this.#ts + FRAME) >>> 0;
  }

  #send(pt: number, payload: Uint8Array, ts: number, marker: boolean): void {
    const remote = this.remote;
    if (remote === null || this.#closed) return;
    this.#seq = (this.#seq + 1) & 0xffff;
    const p = new RtpPacket();
    p.setPayloadType(pt);
    p.setSequenceNumber(this.#seq);
    p.setTimestamp(ts);
    p.setSsrc(this.ssrc);
    p.setMarker(marker);
    p.setPayload(new DataView(payload.buffer, payload.byteOffset, payload.byteLength));
    const view = p.getView();
    this.socket.send(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), remote.port, remote.address);
    this.packetsSent++;
  }

  #receive(msg: Buffer): void {
    const at = performance.now();
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    if (msg.length < 12 || isRtcp(view)) return;
    let packet: InstanceType<typeof RtpPacket>;
    try {
      packet = new RtpPacket(new DataView(new Uint8Array(msg).buffer));
    } catch {
      return;
    }
    const pt = packet.getPayloadType();
    const pv = packet.getPayload();
    const payload = new Uint8Array(pv.buffer, pv.byteOffset, pv.byteLength);
    if (pt === 0 || pt === 8) {
      this.received.push({ at, pt, pcm: g711Decode(pt === 0 ? 'PCMU' : 'PCMA', payload) });
    } else if (payload.length >= 4) {
      const v = new DataView(payload.buffer, payload.byteOffset, 4);
      this.received.push({ at, pt, pcm: null, event: { event: v.getUint8(0), end: (v.getUint8(1) & 0x80) !== 0, duration: v.getUint16(2) } });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.socket.close();
  }
}
