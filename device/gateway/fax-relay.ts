/**
 * T.38 fax relay for one analog call, as an ATA does it: spandsp's T.38 gateway demodulates the fax
 * machine's T.30 audio (the port's µ-law frames) into IFP packets sent over UDPTL (T.38 §9.1, with
 * redundancy), and remodulates what comes back into audio toward the machine. The UDPTL socket is
 * bound when the call's media opens, so a T.38 re-INVITE from the far end is answered at once.
 *
 * Phases: bound (T.38 possible) → relaying (the SDP moved to `m=image udptl t38`) → closed.
 */
import dgram from 'node:dgram';
import { T38Gateway } from '../../services/fax/native/modem.js';
import { bindUdpSocket } from '../../services/net/udp-socket.js';
import { FRAME_SAMPLES, muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { parseSdp } from '../../services/media/sdp/parse.js';
import { OUR_T38, answerParams, buildT38Sdp, describeT38, type T38Remote, type T38SdpInput } from '../../services/fax/t38-sdp.js';
import { UdptlSession } from '../../services/fax/udptl.js';

type Origin = T38SdpInput['origin'];

type Phase = { kind: 'bound' } | { kind: 'relaying'; remote: T38Remote; gateway: T38Gateway; udptl: UdptlSession } | { kind: 'closed' };

/** The far end's T.38 stream in an SDP, or null when it has none (or the text is not SDP). */
export function t38Of(sdp: Buffer): T38Remote | null {
  try {
    return describeT38(parseSdp(sdp.toString('utf8')));
  } catch {
    return null;
  }
}

export class FaxRelay {
  readonly #socket: dgram.Socket;
  readonly address: string;
  #phase: Phase = { kind: 'bound' };
  readonly #pcm = new Int16Array(FRAME_SAMPLES);
  /** what moved, for the log */
  readonly counters = { udptlIn: 0, udptlOut: 0, foreign: 0 };

  private constructor(socket: dgram.Socket, address: string) {
    this.#socket = socket;
    this.address = address;
    socket.on('message', (data, from) => this.#receive(data, from));
    socket.on('error', () => undefined);
  }

  static async open(address: string): Promise<FaxRelay> {
    const socket = await bindUdpSocket(address);
    return new FaxRelay(socket, address);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get relaying(): boolean {
    return this.#phase.kind === 'relaying';
  }

  /** Our T.38 offer (T.38 Annex D); `origin`: the dialog's o= with its next version (RFC 3264 §8). */
  offer(origin: Origin): Buffer {
    return Buffer.from(buildT38Sdp({ origin, address: this.address, port: this.port, params: OUR_T38 }));
  }

  /** The far end offered T.38: our answer, and the relay starts (null: not a T.38 offer, or closed). */
  answer(offer: Buffer, origin: Origin): Buffer | null {
    const remote = t38Of(offer);
    if (remote === null || this.#phase.kind !== 'bound') return null;
    const sdp = buildT38Sdp({ origin, address: this.address, port: this.port, params: answerParams(remote.params) });
    this.#start(remote);
    return Buffer.from(sdp);
  }

  /** The far end accepted our T.38 offer: the relay starts. False when its answer is not T.38. */
  accept(answer: Buffer): boolean {
    const remote = t38Of(answer);
    if (remote === null || this.#phase.kind !== 'bound') return false;
    this.#start(remote);
    return true;
  }

  #start(remote: T38Remote): void {
    const gateway = new T38Gateway({ localTcf: remote.params.rateManagement === 'localTCF', maxDatagram: remote.params.maxDatagram });
    this.#phase = { kind: 'relaying', remote, gateway, udptl: new UdptlSession(remote.params.udpEc === 'none' ? 0 : undefined, remote.params.maxDatagram) };
  }

  /** 20 ms of µ-law from the fax machine. */
  fromPhone(frame: Buffer): void {
    const phase = this.#phase;
    if (phase.kind !== 'relaying') return;
    phase.gateway.receiveAudio(frame.length === FRAME_SAMPLES ? muLawDecode(frame, this.#pcm) : muLawDecode(frame));
    this.#flush(phase);
  }

  /** The next 20 ms of µ-law toward the fax machine. */
  toPhone(): Buffer {
    const phase = this.#phase;
    const pcm = new Int16Array(FRAME_SAMPLES);
    if (phase.kind === 'relaying') {
      phase.gateway.transmitAudio(pcm);
      this.#flush(phase);
    }
    return Buffer.from(muLawEncode(pcm));
  }

  stats(): { pages: number; bitRate: number; ecm: boolean } | null {
    return this.#phase.kind === 'relaying' ? this.#phase.gateway.stats() : null;
  }

  close(): void {
    const phase = this.#phase;
    if (phase.kind === 'closed') return;
    if (phase.kind === 'relaying') phase.gateway.close();
    this.#phase = { kind: 'closed' };
    this.#socket.close();
  }

  #flush(phase: Extract<Phase, { kind: 'relaying' }>): void {
    // Once each: spandsp's repeat count is covered by UDPTL redundancy (the next datagrams carry it).
    for (const packet of phase.gateway.takeIfp()) {
      this.#socket.send(phase.udptl.encode(packet.data), phase.remote.port, phase.remote.address);
      this.counters.udptlOut++;
    }
  }

  #receive(data: Buffer, from: dgram.RemoteInfo): void {
    const phase = this.#phase;
    if (phase.kind !== 'relaying') return;
    // Only the address the SDP named feeds the relay (the RTP Bleed lesson, for UDPTL).
    if (from.address !== phase.remote.address) {
      this.counters.foreign++;
      return;
    }
    this.counters.udptlIn++;
    for (const { seq, ifp } of phase.udptl.decode(data)) phase.gateway.receiveIfp(ifp, seq);
    this.#flush(phase);
  }
}
