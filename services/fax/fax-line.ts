/**
 * The media side of one fax call: the spandsp modem (native/modem.ts) fed from the call's audio
 * leg (G.711, T.30 tones and modems in the RTP stream) or, once the SDP moved to `m=image udptl
 * t38`, from a UDPTL socket of its own. One modem at a time; the 20 ms media clock drives what we
 * send (audio frames, or the T.38 terminal's timers and the IFP packets they release).
 *
 * Phases: audio → (t38) → done. The switch happens before any page moved (the T.30 session starts
 * over on T.38, as a fax machine behind a gateway sees it); phase E of the modem ends the line.
 */
import dgram from 'node:dgram';
import { FRAME_SAMPLES } from '../media/codec/g711.js';
import type { MediaLeg, MediaOutput } from '../media/engine.js';
import type { Logger } from '../log.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import { FaxModem, type FaxStatus } from './native/modem.js';
import type { T38Remote } from './t38-sdp.js';
import { UdptlSession } from './udptl.js';
import { bindUdpSocket } from '../net/udp-socket.js';

export interface FaxJob {
  direction: 'send' | 'receive';
  /** TIFF-F: read (send) or written (receive) */
  file: string;
  /** our TSI/CSI */
  ident: string;
  /** we placed the call (CNG, wait for CED) */
  callingParty: boolean;
}

export interface FaxLineDeps {
  clock: MediaClock;
  logger: Logger;
}

type Phase = { kind: 'idle' } | { kind: 'audio'; output: MediaOutput } | { kind: 't38'; remote: T38Remote } | { kind: 'closed' };

export class FaxLine {
  readonly #deps: FaxLineDeps;
  readonly #leg: MediaLeg;
  readonly #job: FaxJob;
  readonly #log: Logger;
  #modem: FaxModem | null = null;
  #phase: Phase = { kind: 'idle' };
  #unsubscribe: (() => void) | null = null;
  #socket: dgram.Socket | null = null;
  #udptl = new UdptlSession();
  #doneListeners: Array<(status: FaxStatus) => void> = [];
  #doneFired = false;
  #lastStatus: FaxStatus | null = null;
  readonly #frame = new Int16Array(FRAME_SAMPLES);
  /** what moved, for the log at the end */
  readonly counters = { udptlIn: 0, udptlOut: 0, udptlMalformed: 0, foreign: 0 };

  constructor(deps: FaxLineDeps, leg: MediaLeg, job: FaxJob) {
    this.#deps = deps;
    this.#leg = leg;
    this.#job = job;
    this.#log = deps.logger;
  }

  get transport(): 'audio' | 't38' | null {
    return this.#phase.kind === 'audio' ? 'audio' : this.#phase.kind === 't38' ? 't38' : (this.#modem?.transport ?? null);
  }

  get closed(): boolean {
    return this.#phase.kind === 'closed';
  }

  /** T.30 over the G.711 stream of the call's leg. */
  startAudio(): void {
    if (this.#phase.kind !== 'idle') return;
    this.#modem = this.#open('audio');
    const modem = this.#modem;
    // Frames as the packets arrive, no playout buffer: the demodulator needs every sample in order and
    // none invented, and a buffer paced by a JS timer drops or conceals frames as the timer drifts.
    const output = this.#leg.attach({ onAudio: (pcm) => modem.receiveAudio(pcm) });
    this.#phase = { kind: 'audio', output };
    this.#unsubscribe = this.#deps.clock.subscribe(() => {
      modem.transmitAudio(this.#frame);
      output.sendAudio(this.#frame);
      this.#checkDone();
    });
  }

  /** True while nothing of the document has moved: switching to T.38 loses nothing. */
  get canSwitch(): boolean {
    if (this.#phase.kind === 'closed' || this.#doneFired) return false;
    const s = this.#modem?.status();
    return s === undefined || (s.pagesRx === 0 && s.pagesTx === 0);
  }

  /** Binds the UDPTL socket (once) on our media address; its port goes in our T.38 SDP. */
  async bindUdptl(address: string): Promise<number> {
    if (this.#socket !== null) return this.#socket.address().port;
    const socket = await bindUdpSocket(address);
    this.#socket = socket;
    socket.on('error', (error) => this.#log.warn({ err: String(error) }, 'UDPTL socket error'));
    socket.on('message', (data, from) => this.#onUdptl(data, from));
    return socket.address().port;
  }

  get udptlPort(): number | null {
    return this.#socket === null ? null : this.#socket.address().port;
  }

  /** The SDP moved to T.38 (our re-INVITE answered, or theirs accepted): T.30 starts over on it. */
  startT38(remote: T38Remote): void {
    if (this.#phase.kind === 'closed' || this.#socket === null) return;
    if (this.#phase.kind === 'audio') this.#leg.detach();
    this.#unsubscribe?.();
    this.#modem?.close();
    this.#udptl = new UdptlSession(remote.params.udpEc === 'none' ? 0 : undefined, remote.params.maxDatagram);
    this.#modem = this.#open('t38', remote);
    const modem = this.#modem;
    this.#phase = { kind: 't38', remote };
    this.#log.info({ remote: `${remote.address}:${remote.port}`, params: remote.params }, 'fax switched to T.38');
    this.#unsubscribe = this.#deps.clock.subscribe(() => {
      this.#sendIfp(modem.tick(FRAME_SAMPLES));
      this.#checkDone();
    });
  }

  /** Runs once, at T.30 phase E (the document is complete, or the session failed). */
  onDone(listener: (status: FaxStatus) => void): void {
    this.#doneListeners.push(listener);
  }

  status(): FaxStatus | null {
    if (this.#modem !== null && !this.#modem.closed) this.#lastStatus = this.#modem.status();
    return this.#lastStatus;
  }

  /** Ends the line: T.30 is terminated (the TIFF closed), sockets and the clock released. The last status. */
  close(): FaxStatus | null {
    if (this.#phase.kind === 'closed') return this.#lastStatus;
    if (this.#phase.kind === 'audio') this.#leg.detach();
    this.#phase = { kind: 'closed' };
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    const modem = this.#modem;
    if (modem !== null && !modem.closed) {
      modem.terminate();
      this.#lastStatus = modem.status();
      modem.close();
    }
    this.#socket?.close();
    this.#socket = null;
    this.counters.udptlMalformed = this.#udptl.malformed;
    return this.#lastStatus;
  }

  #open(transport: 'audio' | 't38', remote?: T38Remote): FaxModem {
    return new FaxModem({
      transport,
      callingParty: this.#job.callingParty,
      direction: this.#job.direction,
      file: this.#job.file,
      ident: this.#job.ident,
      ...(remote !== undefined && { localTcf: remote.params.rateManagement === 'localTCF', maxDatagram: remote.params.maxDatagram }),
    });
  }

  #onUdptl(data: Buffer, from: dgram.RemoteInfo): void {
    const phase = this.#phase;
    if (phase.kind !== 't38' || this.#modem === null) return;
    // Only the far end the SDP named may feed the modem (the RTP Bleed lesson, for UDPTL).
    if (from.address !== phase.remote.address) {
      this.counters.foreign++;
      return;
    }
    this.counters.udptlIn++;
    const modem = this.#modem;
    for (const { seq, ifp } of this.#udptl.decode(data)) modem.receiveIfp(ifp, seq);
    this.#sendIfp(modem.takeIfp());
  }

  #sendIfp(packets: ReturnType<FaxModem['takeIfp']>): void {
    const phase = this.#phase;
    const socket = this.#socket;
    if (phase.kind !== 't38' || socket === null) return;
    // Once each: spandsp's repeat count is covered by UDPTL redundancy (the next packets carry this one).
    for (const packet of packets) {
      socket.send(this.#udptl.encode(packet.data), phase.remote.port, phase.remote.address);
      this.counters.udptlOut++;
    }
  }

  #checkDone(): void {
    if (this.#doneFired || this.#modem === null) return;
    const status = this.#modem.status();
    this.#lastStatus = status;
    if (!status.done) return;
    this.#doneFired = true;
    for (const listener of this.#doneListeners) {
      try {
        listener(status);
      } catch (error) {
        this.#log.error({ err: String(error) }, 'fax completion handler failed');
      }
    }
  }
}
