/**
 * A test phone: a real UDP socket on loopback that sends real RTP (built with rtp.js) carrying G.711
 * of a tone or RFC 4733 events, and records what it receives so a test can listen to it.
 * Used by tests only.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { packets } from 'rtp.js';
import { g711Decode, g711Encode, type G711Law } from '../../services/media/codec/g711.js';
import { goertzelPower, meanSquare } from '../../services/media/dsp/goertzel.js';
import type { MediaEngine, MediaLeg, MediaSession } from '../../services/media/engine.js';
import { telephoneEventPayload } from '../../services/media/rtp/dtmf-event.js';

const { RtpPacket, isRtcp } = packets;

export interface ReceivedRtp {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  payload: Uint8Array;
  from: { address: string; port: number };
}

export async function openSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class TestPhone {
  readonly rtp: Socket;
  readonly rtcp: Socket;
  readonly received: ReceivedRtp[] = [];
  readonly rtcpReceived: Uint8Array[] = [];
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  #seq = 1000;
  #ts = 5000;
  #phase = 0;

  private constructor(rtp: Socket, rtcp: Socket) {
    this.rtp = rtp;
    this.rtcp = rtcp;
    rtp.on('message', (msg, rinfo) => {
      const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      if (isRtcp(view)) {
        this.rtcpReceived.push(new Uint8Array(msg));
        return;
      }
      try {
        const p = new RtpPacket(new DataView(new Uint8Array(msg).buffer));
        const pl = p.getPayload();
        this.received.push({
          pt: p.getPayloadType(),
          seq: p.getSequenceNumber(),
          ts: p.getTimestamp(),
          ssrc: p.getSsrc(),
          marker: p.getMarker(),
          payload: new Uint8Array(pl.buffer.slice(pl.byteOffset, pl.byteOffset + pl.byteLength)),
          from: { address: rinfo.address, port: rinfo.port },
        });
      } catch {
        /* not RTP: ignore */
      }
    });
    rtcp.on('message', (msg) => this.rtcpReceived.push(new Uint8Array(msg)));
  }

  /** RTP on an even port is not guaranteed with port 0; SDP carries both ports explicitly (a=rtcp). */
  static async open(): Promise<TestPhone> {
    return new TestPhone(await openSocket(), await openSocket());
  }

  get port(): number {
    return this.rtp.address().port;
  }

  get rtcpPort(): number {
    return this.rtcp.address().port;
  }

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
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      pcm[i] = Math.round(amplitude * Math.sin(this.#phase));
      this.#phase += (2 * Math.PI * freq) / 8000;
    }
    return this.packet(law === 'PCMU' ? 0 : 8, g711Encode(law, pcm), 160);
  }

  packet(pt: number, payload: Uint8Array, tsStep: number, marker = false): Uint8Array {
    const p = new RtpPacket();
    p.setPayloadType(pt);
    p.setSequenceNumber(this.#seq & 0xffff);
    p.setTimestamp(this.#ts >>> 0);
    p.setSsrc(this.ssrc);
    p.setMarker(marker);
    p.setPayload(new DataView(payload.buffer, payload.byteOffset, payload.byteLength));
    this.#seq++;
    this.#ts += tsStep;
    const v = p.getView();
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  /** Skips sequence numbers (and their time) as if packets were lost on the way. */
  skip(n: number): void {
    this.#seq += n;
    this.#ts += 160 * n;
  }

  send(data: Uint8Array, port: number, via: Socket = this.rtp): Promise<void> {
    return new Promise((resolve, reject) => via.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** Sends `count` packets of a tone in real time (20 ms apart). */
  async sendTone(freq: number, count: number, port: number, opts: { law?: G711Law; via?: Socket; dropEvery?: number } = {}): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (opts.dropEvery && i > 0 && i % opts.dropEvery === 0) {
        this.skip(1);
        this.#phase += (2 * Math.PI * freq * 160) / 8000;
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
      const dur = Math.min(i + 1, 4) * 160;
      await this.send(this.packet(pt, telephoneEventPayload(digit, end, dur), 0, i === 0), port);
      await sleep(20);
    }
    this.#ts = first + 640;
  }

  /** PCM of everything received with a G.711 payload type, in arrival order. */
  heardPcm(from = 0): Int16Array {
    const parts = this.received.slice(from).filter((r) => r.pt === 0 || r.pt === 8);
    const out = new Int16Array(parts.length * 160);
    let off = 0;
    for (const r of parts) {
      const pcm = g711Decode(r.pt === 0 ? 'PCMU' : 'PCMA', r.payload);
      out.set(pcm.subarray(0, Math.min(pcm.length, out.length - off)), off);
      off += pcm.length;
    }
    return out.subarray(0, off);
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

/** Share of the signal's power that sits at `freq` (1 = a pure tone at that frequency). */
export function toneShare(pcm: Int16Array, freq: number): number {
  const total = meanSquare(pcm);
  if (total === 0 || pcm.length < 160) return 0;
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

/** Two test phones and the anchored, bridged session between them. */
export interface AnchoredCall {
  session: MediaSession;
  a: MediaLeg;
  b: MediaLeg;
  phoneA: TestPhone;
  phoneB: TestPhone;
  /** The SDP the engine offered phone B, and the answer it gave phone A. */
  offerForB: string;
  answerForA: string;
}

/** Caller A -> PBX -> callee B, anchored and bridged, as the B2BUA does it. */
export async function anchoredCall(e: MediaEngine, callId: string): Promise<AnchoredCall> {
  const phoneA = await TestPhone.open();
  const phoneB = await TestPhone.open();
  const session = e.createSession({ callId });
  const a = session.createLeg('caller');
  const b = session.createLeg('callee');
  const offerForB = b.anchorOffer(phoneA.sdp(), a);
  const answerForA = a.anchorAnswer(phoneB.sdp({ codecs: '0 101' }), b);
  session.bridge(a, b);
  return { session, a, b, phoneA, phoneB, offerForB, answerForA };
}
