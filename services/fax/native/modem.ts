/**
 * Typed wrapper over the fax addon (fax_napi.c over spandsp 0.0.6). One `FaxModem` is one T.30
 * session: over audio (20 ms frames of 8 kHz linear PCM in and out) or over T.38 (IFP packets in,
 * a clock tick, IFP packets out). No sockets, no timers: the caller owns both.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FaxStatus {
  /** T.30 phase E reached: the fax session is over (success or not) */
  done: boolean;
  /** T30_ERR_* at phase E (0 = OK), -1 before */
  result: number;
  resultText: string;
  pagesTx: number;
  pagesRx: number;
  pagesInFile: number;
  bitRate: number;
  ecm: boolean;
  /** the far end's TSI/CSI (T.30 §5.3.6.2.4), as it sent it */
  remoteIdent: string;
  localIdent: string;
}

/** One IFP packet a T.38 terminal produced; `count` is how many times spandsp wants it sent. */
export interface IfpPacket {
  data: Buffer;
  count: number;
}

interface RawStatus {
  done: number;
  result: number;
  resultText: string;
  pagesTx: number;
  pagesRx: number;
  pagesInFile: number;
  bitRate: number;
  ecm: number;
  remoteIdent: string;
  localIdent: string;
}

interface Addon {
  open(t38: number, callingParty: number, send: number, file: string, ident: string, ecm: number, localTcf: number, maxDatagram: number): object;
  gatewayOpen(ecm: number, localTcf: number, maxDatagram: number): object;
  audioRx(h: object, samples: Int16Array): void;
  audioTx(h: object, out: Int16Array): number;
  t38Rx(h: object, ifp: Buffer, seq: number): number;
  t38Tick(h: object, samples: number): void;
  t38Take(h: object): Buffer;
  status(h: object): RawStatus;
  terminate(h: object): void;
  close(h: object): void;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'services/fax/native/build/Release/fax_modem.node');
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json'))) break;
    dir = dirname(dir);
  }
  throw new Error('fax_modem.node not built: run scripts/build.d/12-fax-native.sh (make build)');
}

let addon: Addon | undefined;
function loadAddon(): Addon {
  addon ??= createRequire(import.meta.url)(findAddon()) as Addon;
  return addon;
}

export type FaxTransport = 'audio' | 't38';

export interface FaxModemOptions {
  transport: FaxTransport;
  /** true for the side that placed the call (sends CNG, waits for CED) */
  callingParty: boolean;
  /** 'send': pages are read from `file`; 'receive': pages are written to `file` (TIFF-F) */
  direction: 'send' | 'receive';
  file: string;
  /** our TSI/CSI, at most 20 characters (digits, +, space) */
  ident: string;
  /** T.30 error correction mode (ECM); on by default as most fax servers */
  ecm?: boolean;
  /** T.38 only: T38FaxRateManagement localTCF (default transferredTCF) */
  localTcf?: boolean;
  /** T.38 only: the far end's T38FaxMaxDatagram (IFP packets stay below it); default 400 */
  maxDatagram?: number;
}

/** Splits the addon's IFP batch ([u16 LE len][u8 count][bytes]...). */
export function decodeIfpBatch(batch: Buffer): IfpPacket[] {
  const out: IfpPacket[] = [];
  let off = 0;
  while (off + 3 <= batch.length) {
    const len = batch.readUInt16LE(off);
    const count = batch[off + 2] ?? 1;
    if (off + 3 + len > batch.length) break;
    out.push({ data: Buffer.from(batch.subarray(off + 3, off + 3 + len)), count });
    off += 3 + len;
  }
  return out;
}

/** What a fax terminal and the T.38 gateway share: one spandsp session of the addon, its audio and IFP sides. */
abstract class SpandspSession {
  protected readonly addon: Addon;
  protected readonly h: object;
  #closed = false;

  protected constructor(open: (addon: Addon) => object) {
    this.addon = loadAddon();
    this.h = open(this.addon);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Received audio (8 kHz linear). */
  receiveAudio(samples: Int16Array): void {
    if (!this.#closed) this.addon.audioRx(this.h, samples);
  }

  /** Fills `out` with the audio to send; returns the number of samples written (the rest is zeroed). */
  transmitAudio(out: Int16Array): number {
    if (this.#closed) {
      out.fill(0);
      return 0;
    }
    const n = this.addon.audioTx(this.h, out);
    if (n < out.length) out.fill(0, n);
    return n;
  }

  /** One received IFP packet (primary or recovered from redundancy) with its UDPTL sequence number. */
  receiveIfp(ifp: Buffer, seq: number): boolean {
    if (this.#closed) return false;
    return this.addon.t38Rx(this.h, ifp, seq) === 0;
  }

  /** IFP packets produced since they were last taken (receiving a packet may produce some). */
  takeIfp(): IfpPacket[] {
    if (this.#closed) return [];
    return decodeIfpBatch(this.addon.t38Take(this.h));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.addon.close(this.h);
  }
}

const datagram = (n: number | undefined): number => Math.max(100, Math.min(n ?? 400, 1400));

export class FaxModem extends SpandspSession {
  readonly transport: FaxTransport;

  constructor(o: FaxModemOptions) {
    super((a) => a.open(o.transport === 't38' ? 1 : 0, o.callingParty ? 1 : 0, o.direction === 'send' ? 1 : 0, o.file, o.ident.slice(0, 20), o.ecm === false ? 0 : 1, o.localTcf === true ? 1 : 0, datagram(o.maxDatagram)));
    this.transport = o.transport;
  }

  /** Advances the T.38 terminal's clock and returns the IFP packets it wants sent. */
  tick(samples: number): IfpPacket[] {
    if (this.closed) return [];
    this.addon.t38Tick(this.h, samples);
    return this.takeIfp();
  }

  status(): FaxStatus {
    const s = this.addon.status(this.h);
    return { ...s, done: s.done !== 0, ecm: s.ecm !== 0 };
  }

  /** The call ended: T.30 ends the session (closing the TIFF) if it had not. */
  terminate(): void {
    if (!this.closed) this.addon.terminate(this.h);
  }
}

export interface T38GatewayOptions {
  /** let the fax machines use ECM through the gateway (default on) */
  ecm?: boolean;
  /** T38FaxRateManagement localTCF (default transferredTCF) */
  localTcf?: boolean;
  /** the far end's T38FaxMaxDatagram; default 400 */
  maxDatagram?: number;
}

/**
 * spandsp's T.38 gateway, as an ATA's fax relay: the fax machine's T.30 audio on one side (8 kHz
 * frames in and out), T.38 IFP packets on the other. It runs no T.30 of its own: it demodulates
 * and remodulates, so its clock is the audio (each received frame moves it).
 */
export class T38Gateway extends SpandspSession {
  constructor(o: T38GatewayOptions = {}) {
    super((a) => a.gatewayOpen(o.ecm === false ? 0 : 1, o.localTcf === true ? 1 : 0, datagram(o.maxDatagram)));
  }

  /** What was relayed: pages, bit rate, ECM. */
  stats(): { pages: number; bitRate: number; ecm: boolean } {
    if (this.closed) return { pages: 0, bitRate: 0, ecm: false };
    const s = this.addon.status(this.h);
    return { pages: s.pagesTx, bitRate: s.bitRate, ecm: s.ecm !== 0 };
  }
}
