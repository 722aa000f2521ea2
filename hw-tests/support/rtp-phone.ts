/**
 * Test support: the one RTP phone of the tests. Two real UDP sockets on loopback (RTP, and RTCP
 * announced with a=rtcp) that send real RTP (rtp.js packets) carrying G.711 or RFC 4733 events,
 * and record every packet received, decoded, with its arrival time, so a test can listen to it.
 *
 * Two ways to drive it:
 * - by hand, packet by packet (`tonePacket`, `packet`, `send`, `sendTone`, `sendDigit`, `skip`):
 *   the media engine and relay tests, which need exact sequence numbers and timestamps;
 * - as a phone in a call (`setRemote` with the other side's SDP starts a drift-free 20 ms stream of
 *   the chosen signal; `describe` writes our SDP; `sendInbandDigit`, `sendRfc4733`): the sip.js
 *   phone (sip-phone.ts) and the listening tests.
 *
 * SDP is read with a deliberately small, independent reader (c=, m=audio, a=rtpmap), so the tests
 * do not check the PBX's SDP with the PBX's own parser. The product imports none of this.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { packets } from 'rtp.js';
import { g711Decode, g711Encode, type G711Law } from '../../services/media/codec/g711.js';
import { goertzelPower, meanSquare } from '../../services/media/dsp/goertzel.js';
import { sines } from '../../services/media/dsp/synth.js';
import { digitFrequencies, digitToEvent, type DtmfDigit } from '../../services/media/dtmf/digits.js';
import { encodeTelephoneEvent } from '../../services/media/dtmf/rfc4733.js';
import type { MediaEngine, MediaLeg, MediaSession } from '../../services/media/engine.js';
import { telephoneEventPayload } from '../../services/media/rtp/dtmf-event.js';

const { RtpPacket, isRtcp } = packets;
const FRAME = 160;

/** One RTP packet as the phone received it. */
export interface ReceivedRtp {
  /** performance.now() at arrival. */
  at: number;
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  payload: Uint8Array;
  from: { address: string; port: number };
  /** Decoded audio for PCMU/PCMA packets, else null. */
  pcm: Int16Array | null;
  /** The RFC 4733 payload of any other packet of 4+ bytes (telephone-event). */
  event?: { event: number; end: boolean; duration: number };
}

export type Signal = { kind: 'silence' } | { kind: 'tones'; freqs: readonly number[]; dbm0?: number };

export interface RemoteMedia {
  address: string;
  port: number;
  /** payload types by name, as the other side wrote them */
  payloadTypes: Map<string, number>;
  telephoneEvent: number | null;
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

/**
 * `p`, or a loud failure after `ms`: no test helper waits forever (a test stuck on a promise that
 * never settles holds the whole suite, and says nothing).
 */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A UDP socket on loopback. Unreferenced: a phone a failed test never closed must not keep the
 * test process alive (node's runner would wait for it forever); what a test waits for is bounded
 * by its own timers (`until`, `within`).
 */
export async function openSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await within(once(s, 'listening'), 5000, 'UDP bind on 127.0.0.1');
  s.unref();
  return s;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RtpPhoneOptions {
  /** Offer telephone-event (RFC 4733) in `describe()`; on by default. */
  telephoneEvent?: boolean;
}

export class RtpPhone {
  readonly rtp: Socket;
  readonly rtcp: Socket;
  readonly received: ReceivedRtp[] = [];
  readonly rtcpReceived: Uint8Array[] = [];
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  /** offer telephone-event (RFC 4733) in our SDP */
  readonly telephoneEvent: boolean;
  /** The other side, once `setRemote` has read its SDP (streaming mode). */
  remote: RemoteMedia | null = null;
  packetsSent = 0;
  /** The direction `describe()` writes: `sendonly` puts the call on hold (RFC 3264 §8.4). */
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' = 'sendrecv';
  #seq = 1000;
  #ts = 5000;
  /** Phase of the hand-driven tone (`tonePacket`). */
  #phase = 0;
  /** Sample clock of the streamed signal. */
  #sample = 0;
  #signal: Signal = { kind: 'silence' };
  #inband: { digit: DtmfDigit; framesLeft: number } | null = null;
  #event: { code: number; ts: number; frames: number; total: number } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #version = 1;

  private constructor(rtp: Socket, rtcp: Socket, options: RtpPhoneOptions) {
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.telephoneEvent = options.telephoneEvent ?? true;
    rtp.on('message', (msg, rinfo) => this.#receive(msg, rinfo));
    rtcp.on('message', (msg) => this.rtcpReceived.push(new Uint8Array(msg)));
  }

  /** RTP on an even port is not guaranteed with port 0; SDP carries both ports explicitly (a=rtcp). */
  static async open(options: RtpPhoneOptions = {}): Promise<RtpPhone> {
    return new RtpPhone(await openSocket(), await openSocket(), options);
  }

  get port(): number {
    return this.rtp.address().port;
  }

  get rtcpPort(): number {
    return this.rtcp.address().port;
  }

  // ---- by hand ----

  /** An SDP offer/answer as a desk phone writes it. */
  sdp(opts: { direction?: string; address?: string; codecs?: string; version?: number } = {}): string {
    const codecs = opts.codecs ?? '0 8 101';
    const lines = [
      'v=0',
      `o=phone ${this.ssrc} ${opts.version ?? 1} IN IP4 127.0.0.1`,
      's=call',
      `c=IN IP4 ${opts.address ?? '127.0.0.1'}`,
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${codecs}`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:9 G722/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      `a=rtcp:${this.rtcpPort}`,
    ];
    if (opts.direction) lines.push(`a=${opts.direction}`);
    return lines.join('\r\n') + '\r\n';
  }

  /** The next RTP packet of a tone, 20 ms of G.711. */
  tonePacket(freq: number, law: G711Law = 'PCMU', amplitude = 8000): Uint8Array {
    const pcm = new Int16Array(FRAME);
    for (let i = 0; i < FRAME; i++) {
      pcm[i] = Math.round(amplitude * Math.sin(this.#phase));
      this.#phase += (2 * Math.PI * freq) / 8000;
    }
    return this.packet(law === 'PCMU' ? 0 : 8, g711Encode(law, pcm), FRAME);
  }

  /** An RTP packet with the next sequence number; the timestamp then advances by `tsStep`. */
  packet(pt: number, payload: Uint8Array, tsStep: number, marker = false): Uint8Array {
    const bytes = this.#build(pt, payload, this.#ts >>> 0, marker);
    this.#ts += tsStep;
    return bytes;
  }

  /** Skips sequence numbers (and their time) as if packets were lost on the way. */
  skip(n: number): void {
    this.#seq += n;
    this.#ts += FRAME * n;
  }

  send(data: Uint8Array, port: number, via: Socket = this.rtp): Promise<void> {
    return within(
      new Promise((resolve, reject) => via.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
      5000,
      `RTP send to 127.0.0.1:${port}`,
    );
  }

  /** Sends `count` packets of a tone in real time (20 ms apart). */
  async sendTone(freq: number, count: number, port: number, opts: { law?: G711Law; via?: Socket; dropEvery?: number } = {}): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (opts.dropEvery && i > 0 && i % opts.dropEvery === 0) {
        this.skip(1);
        this.#phase += (2 * Math.PI * freq * FRAME) / 8000;
      }
      await this.send(this.tonePacket(freq, opts.law), port, opts.via);
      await sleep(20);
    }
  }

  /** One RFC 4733 event: 3 start/continue packets, 3 end packets (same timestamp). */
  async sendDigit(digit: string, port: number, pt = 101): Promise<void> {
    const first = this.#ts;
    for (let i = 0; i < 6; i++) {
      const end = i >= 3;
      this.#ts = first;
      const dur = Math.min(i + 1, 4) * FRAME;
      await this.send(this.packet(pt, telephoneEventPayload(digit, end, dur), 0, i === 0), port);
      await sleep(20);
    }
    this.#ts = first + 640;
  }

  /** PCM of everything received with a G.711 payload type, in arrival order. */
  heardPcm(from = 0): Int16Array {
    const parts = this.received.slice(from).filter((r) => r.pcm !== null);
    const out = new Int16Array(parts.length * FRAME);
    let off = 0;
    for (const r of parts) {
      const pcm = r.pcm as Int16Array;
      out.set(pcm.subarray(0, Math.min(pcm.length, out.length - off)), off);
      off += pcm.length;
    }
    return out.subarray(0, off);
  }

  // ---- as a phone in a call ----

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
      `a=rtcp:${this.rtcpPort}`,
      `a=${this.direction}`,
      '',
    ];
    return lines.join('\r\n');
  }

  /** Reads the other side's SDP and starts streaming the signal to it every 20 ms. */
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
    this.#event = { code: digitToEvent(digit), ts: this.#ts >>> 0, frames: 0, total: Math.ceil(ms / 20) };
    return true;
  }

  /** Decoded audio that arrived in [from, to) (performance.now() times). */
  pcmBetween(from: number, to: number): Int16Array {
    const frames = this.received.filter((f) => f.at >= from && f.at < to && f.pcm !== null);
    const out = new Int16Array(frames.length * FRAME);
    frames.forEach((f, i) => out.set((f.pcm as Int16Array).subarray(0, FRAME), i * FRAME));
    return out;
  }

  eventsBetween(from: number, to: number): ReceivedRtp[] {
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
      this.#stream(remote.telephoneEvent, payload, ev.ts, ev.frames === 1);
      if (end) {
        // RFC 4733 §2.5.1.4: the end packet is sent three times.
        this.#stream(remote.telephoneEvent, payload, ev.ts, false);
        this.#stream(remote.telephoneEvent, payload, ev.ts, false);
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
    this.#stream(this.law === 'PCMU' ? 0 : 8, g711Encode(this.law, pcm), this.#ts >>> 0, false);
    this.#ts = (this.#ts + FRAME) >>> 0;
  }

  #stream(pt: number, payload: Uint8Array, ts: number, marker: boolean): void {
    const remote = this.remote;
    if (remote === null || this.#closed) return;
    this.rtp.send(this.#build(pt, payload, ts, marker), remote.port, remote.address);
  }

  #build(pt: number, payload: Uint8Array, ts: number, marker: boolean): Uint8Array {
    const p = new RtpPacket();
    p.setPayloadType(pt);
    p.setSequenceNumber(this.#seq & 0xffff);
    p.setTimestamp(ts);
    p.setSsrc(this.ssrc);
    p.setMarker(marker);
    p.setPayload(new DataView(payload.buffer, payload.byteOffset, payload.byteLength));
    this.#seq++;
    this.packetsSent++;
    const v = p.getView();
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  #receive(msg: Buffer, rinfo: { address: string; port: number }): void {
    const at = performance.now();
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    if (msg.length >= 2 && isRtcp(view)) {
      // rtcp-mux (RFC 5761): RTCP on the RTP port.
      this.rtcpReceived.push(new Uint8Array(msg));
      return;
    }
    let packet: InstanceType<typeof RtpPacket>;
    try {
      packet = new RtpPacket(new DataView(new Uint8Array(msg).buffer));
    } catch {
      return; // not RTP
    }
    const pt = packet.getPayloadType();
    const pv = packet.getPayload();
    const payload = new Uint8Array(pv.buffer.slice(pv.byteOffset, pv.byteOffset + pv.byteLength));
    const r: ReceivedRtp = {
      at,
      pt,
      seq: packet.getSequenceNumber(),
      ts: packet.getTimestamp(),
      ssrc: packet.getSsrc(),
      marker: packet.getMarker(),
      payload,
      from: { address: rinfo.address, port: rinfo.port },
      pcm: pt === 0 || pt === 8 ? g711Decode(pt === 0 ? 'PCMU' : 'PCMA', payload) : null,
    };
    if (r.pcm === null && payload.length >= 4) {
      const v = new DataView(payload.buffer, payload.byteOffset, 4);
      r.event = { event: v.getUint8(0), end: (v.getUint8(1) & 0x80) !== 0, duration: v.getUint16(2) };
    }
    this.received.push(r);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.rtp.close();
    this.rtcp.close();
  }
}

/** Share of the signal's power that sits at `freq` (1 = a pure tone at that frequency). */
export function toneShare(pcm: Int16Array, freq: number): number {
  const total = meanSquare(pcm);
  if (total === 0 || pcm.length < FRAME) return 0;
  return goertzelPower(pcm, freq) / total;
}

/** Waits until `cond()` holds, polling; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Two RTP phones and the anchored, bridged session between them. */
export interface AnchoredCall {
  session: MediaSession;
  a: MediaLeg;
  b: MediaLeg;
  phoneA: RtpPhone;
  phoneB: RtpPhone;
  /** The SDP the engine offered phone B, and the answer it gave phone A. */
  offerForB: string;
  answerForA: string;
}

/** Caller A -> PBX -> callee B, anchored and bridged, as the B2BUA does it. */
export async function anchoredCall(e: MediaEngine, callId: string): Promise<AnchoredCall> {
  const phoneA = await RtpPhone.open();
  const phoneB = await RtpPhone.open();
  const session = e.createSession({ callId });
  const a = session.createLeg('caller');
  const b = session.createLeg('callee');
  const offerForB = b.anchorOffer(phoneA.sdp(), a);
  const answerForA = a.anchorAnswer(phoneB.sdp({ codecs: '0 101' }), b);
  session.bridge(a, b);
  return { session, a, b, phoneA, phoneB, offerForB, answerForA };
}
