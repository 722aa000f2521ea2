/**
 * The RTP side of one analog call: a UDP socket on loopback, PCMU at 20 ms — the board's 160-byte
 * µ-law frames go out as RTP payloads untouched, and what comes in goes through a jitter buffer to
 * the board one frame per tick. Voice: adaptive buffer with G.711 Appendix-I concealment. Fax
 * (ITU-T V.152 voiceband data): 200 ms played in sequence order (fax-playout.ts), no concealment,
 * no comfort noise — a lost frame becomes µ-law silence rather than a synthetic waveform the modem
 * would misread.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { bindUdpSocket } from '../../services/net/udp-socket.js';
import { muLawEncode, SILENCE_BYTE } from '../../services/media/codec/g711.js';
import { G711Playout } from '../../services/media/jitter/playout.js';
import { describeAudio, effectiveDirection, type RemoteAudio } from '../../services/media/sdp/offer-answer.js';
import { parseSdp } from '../../services/media/sdp/parse.js';
import { FaxPlayout } from './fax-playout.js';
import { FaxRelay } from './fax-relay.js';
import type { Direction } from '../../services/media/sdp/types.js';

export const FRAME_BYTES = 160;
/** Fixed play-out delay of a fax call (V.152 voiceband data). */
export const FAX_PLAYOUT_MS = 200;
const PCMU = 0;
const TELEPHONE_EVENT = 101;

export type MediaMode = 'voice' | 'fax';

export interface RemoteMedia {
  address: string;
  port: number;
  direction: Direction;
  /** The far end offered or accepted PCMU. */
  pcmu: boolean;
}

/** What the far end's SDP says, or null when it is not usable SDP (the caller answers 488). */
export function readRemoteSdp(body: Buffer): RemoteMedia | null {
  try {
    const audio: RemoteAudio = describeAudio(parseSdp(body.toString('utf8')));
    return { address: audio.address, port: audio.port, direction: effectiveDirection(audio), pcmu: audio.codecs.some((c) => c.name === 'PCMU') };
  } catch {
    return null;
  }
}

export class RtpStream {
  readonly #socket: dgram.Socket;
  readonly #ssrc = randomInt(1, 0xffffffff);
  readonly #sessionId = String(randomInt(1, 1_000_000_000));
  #version = 0;
  #seq = randomInt(0, 0xffff);
  #ts = randomInt(0, 0xffffffff);
  #remote: RemoteMedia | null = null;
  #mode: MediaMode = 'voice';
  #voice = new G711Playout('PCMU');
  #fax: FaxPlayout | null = null;
  /** Our direction (hold sends `sendonly`). */
  direction: Direction = 'sendrecv';
  packetsIn = 0;
  packetsOut = 0;
  #closed = false;
  /** T.38 fax relay (fax-relay.ts), bound when the gateway allows T.38 */
  readonly #relay: FaxRelay | null;

  private constructor(socket: dgram.Socket, readonly address: string, relay: FaxRelay | null) {
    this.#socket = socket;
    this.#relay = relay;
    socket.on('message', (data, rinfo) => this.#receive(data, rinfo));
    socket.on('error', () => undefined);
  }

  /** `t38`: bind a UDPTL socket too, so a T.38 re-INVITE can be answered at once. */
  static async open(address: string, options: { t38?: boolean } = {}): Promise<RtpStream> {
    const socket = await bindUdpSocket(address);
    let relay: FaxRelay | null = null;
    if (options.t38 === true) {
      try {
        relay = await FaxRelay.open(address);
      } catch {
        relay = null; // no UDPTL port: G.711 passthrough only
      }
    }
    return new RtpStream(socket, address, relay);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get mode(): MediaMode {
    return this.#mode;
  }

  /** Our SDP (offer or answer): PCMU and telephone-event, 20 ms, our direction. */
  sdp(): Buffer {
    this.#version++;
    const lines = [
      'v=0',
      `o=analog ${this.#sessionId} ${this.#version} IN IP4 ${this.address}`,
      's=analog port',
      `c=IN IP4 ${this.address}`,
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${PCMU} ${TELEPHONE_EVENT}`,
      `a=rtpmap:${PCMU} PCMU/8000`,
      `a=rtpmap:${TELEPHONE_EVENT} telephone-event/8000`,
      `a=fmtp:${TELEPHONE_EVENT} 0-15`,
      'a=ptime:20',
      // V.152-style hint that this is voiceband data; plain G.711 peers ignore it.
      ...(this.#mode === 'fax' ? ['a=silenceSupp:off - - - -'] : []),
      `a=${this.direction}`,
    ];
    return Buffer.from(lines.join('\r\n') + '\r\n');
  }

  setRemote(remote: RemoteMedia): void {
    this.#remote = remote;
  }

  get remote(): RemoteMedia | null {
    return this.#remote;
  }

  /** The dialog's o= with the next version, for an SDP built elsewhere (T.38). */
  #nextOrigin(): { username: string; sessionId: string; sessionVersion: string } {
    this.#version++;
    return { username: 'analog', sessionId: this.#sessionId, sessionVersion: String(this.#version) };
  }

  /** Our T.38 offer, or null when this call has no relay (T.38 off) or it is already relaying. */
  t38Offer(): Buffer | null {
    if (this.#relay === null || this.#relay.relaying || this.#closed) return null;
    return this.#relay.offer(this.#nextOrigin());
  }

  /** The far end offered T.38: our answer (the relay runs from now on), or null (not T.38, or T.38 off). */
  answerT38(offer: Buffer): Buffer | null {
    if (this.#relay === null || this.#closed) return null;
    const answer = this.#relay.answer(offer, this.#nextOrigin());
    if (answer !== null) this.setMode('fax');
    return answer;
  }

  /** The far end accepted our T.38 offer: true when its answer is T.38 (the relay runs from now on). */
  acceptT38(answer: Buffer): boolean {
    if (this.#relay === null || this.#closed || !this.#relay.accept(answer)) return false;
    this.setMode('fax');
    return true;
  }

  /** T.38 relaying now (the audio goes to the relay, not to RTP). */
  get relaying(): boolean {
    return this.#relay?.relaying === true;
  }

  relayStats(): ReturnType<FaxRelay['stats']> {
    return this.#relay?.stats() ?? null;
  }

  /** Fax: fixed buffer, no concealment (T.30 over G.711 passthrough). */
  setMode(mode: MediaMode): void {
    if (mode === this.#mode) return;
    this.#mode = mode;
    // 200 ms: a modem survives delay (T.30 answers within 3 s) but not a lost frame, and a busy host's
    // timers stall for more than 60 ms (fax tests through the whole chain failed with 60 ms).
    this.#fax = mode === 'fax' ? new FaxPlayout(FAX_PLAYOUT_MS / 20) : null;
    if (mode === 'voice') this.#voice = new G711Playout('PCMU');
  }

  /** One board frame (20 ms µ-law) toward the far end. */
  send(frame: Buffer): void {
    if (this.#relay?.relaying === true) {
      this.#relay.fromPhone(frame);
      return;
    }
    const remote = this.#remote;
    this.#ts = (this.#ts + FRAME_BYTES) >>> 0;
    if (this.#closed || remote === null || remote.port === 0 || remote.address === '0.0.0.0') return;
    if (this.direction === 'recvonly' || this.direction === 'inactive') return;
    if (remote.direction === 'sendonly' || remote.direction === 'inactive') return;
    const packet = Buffer.allocUnsafe(12 + frame.length);
    packet[0] = 0x80;
    packet[1] = PCMU;
    packet.writeUInt16BE(this.#seq, 2);
    packet.writeUInt32BE(this.#ts, 4);
    packet.writeUInt32BE(this.#ssrc, 8);
    frame.copy(packet, 12);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.packetsOut++;
    this.#socket.send(packet, remote.port, remote.address);
  }

  /** The next 20 ms toward the board (µ-law); silence when nothing is due. */
  pull(nowMs: number): Buffer {
    if (this.#relay?.relaying === true) return this.#relay.toPhone();
    if (this.#fax !== null) {
      const payload = this.#fax.pop();
      if (payload !== null && payload.length === FRAME_BYTES) return Buffer.from(payload);
      return Buffer.alloc(FRAME_BYTES, SILENCE_BYTE.PCMU);
    }
    const r = this.#voice.pull(nowMs);
    if (r.kind === 'idle') return Buffer.alloc(FRAME_BYTES, SILENCE_BYTE.PCMU);
    return Buffer.from(muLawEncode(r.pcm));
  }

  #receive(data: Buffer, rinfo: dgram.RemoteInfo): void {
    // Only RTP version 2 from the address the far end announced; anything else is dropped.
    if (data.length < 12 || (data[0] as number) >> 6 !== 2) return;
    const remote = this.#remote;
    if (remote === null || rinfo.address !== remote.address) return;
    const pt = (data[1] as number) & 0x7f;
    if (pt !== PCMU) return;
    const cc = (data[0] as number) & 0x0f;
    const extension = ((data[0] as number) & 0x10) !== 0;
    let offset = 12 + cc * 4;
    if (extension) {
      if (data.length < offset + 4) return;
      offset += 4 + data.readUInt16BE(offset + 2) * 4;
    }
    let end = data.length;
    if (((data[0] as number) & 0x20) !== 0) end -= data[data.length - 1] as number;
    if (end <= offset) return;
    this.packetsIn++;
    const packet = { sequence: data.readUInt16BE(2), timestamp: data.readUInt32BE(4), payload: new Uint8Array(data.subarray(offset, end)), marker: ((data[1] as number) & 0x80) !== 0 };
    const now = performance.now();
    if (this.#fax !== null) this.#fax.push(packet.sequence, packet.payload);
    else this.#voice.push(packet, now);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    this.#relay?.close();
  }
}
