/**
 * Typed wrapper over the native relay addon (relay_core.c + relay_napi.c). The addon owns the UDP
 * sockets of every anchored leg and runs its own epoll thread; JS only configures legs (commands
 * the thread applies between passes) and handles takeover traffic.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where packets arriving on a leg go (relay_core.h `enum rc_mode`). */
export type RouteMode = 'drop' | 'relay' | 'js';
const MODE_CODE: Readonly<Record<RouteMode, number>> = { drop: 0, relay: 1, js: 2 };

export interface NativeLegStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  /** RFC 3550 A.3: extended highest sequence - base + 1 */
  expected: number;
  lost: number;
  /** RFC 3550 A.8 interarrival jitter, in RTP timestamp units */
  jitter: number;
  ssrc: number;
  extendedMaxSeq: number;
  droppedForeign: number;
  droppedNoRoute: number;
  droppedMalformed: number;
  /** datagrams larger than the relay's buffer (2,048 bytes): dropped whole, never relayed cut */
  droppedOversize: number;
  /** packets toward this phone the kernel refused (socket buffer full ...): not counted in packetsOut */
  droppedSend: number;
  jsDropped: number;
  /** moves of the latched source after the learning window (NAT rebindings) */
  relatches: number;
  latched: number;
  rtcpLatched: number;
  /** the phone sends RTCP on its RTP port (RFC 5761): its RTCP goes there too */
  rtcpMux: number;
  /** 1 while the learning window is open */
  learning: number;
  remoteIp: string;
  remotePort: number;
  remoteRtcpIp: string;
  remoteRtcpPort: number;
}

/** Socket pairs kept bound after their leg closed, for the next leg on the same port. */
export interface PoolStats {
  parked: number;
  /** legs opened on a parked pair since the relay started */
  reused: number;
}

/**
 * One packet handed to JS (takeover legs' RTP, every leg's RTCP, and 'event': a copy of a relayed
 * RFC 4733 telephone-event of a leg that reports them, setEvents; the phone got the packet itself).
 */
export interface InboundPacket {
  legId: number;
  kind: 'rtp' | 'rtcp' | 'event';
  fromIp: string;
  fromPort: number;
  data: Uint8Array;
}

interface Addon {
  create(onBatch: (batch: Buffer | number) => void, coalesceUs: number, rtPriority: number, learnMs: number, threads: number, nice: number | null): object;
  realtime(h: object): number;
  nice(h: object): number;
  dead(h: object): number;
  breakEpoll(h: object): void;
  learn(h: object, id: number): void;
  setEvents(h: object, id: number, on: number): void;
  openLeg(h: object, ip: string, rtpPort: number): number;
  closeLeg(h: object, id: number): void;
  setRemote(
    h: object, id: number, ip: string, rtpPort: number, rtcpPort: number, canSend: number, dtmfPt: number,
    clockRate: number,
  ): void;
  setRoute(h: object, id: number, mode: number, peer: number): void;
  send(h: object, id: number, kind: number, data: Buffer): boolean;
  stats(h: object, id: number): NativeLegStats;
  pool(h: object): PoolStats;
  close(h: object): void;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'services/media/native/build/Release/media_relay.node');
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json'))) break;
    dir = dirname(dir);
  }
  throw new Error('media_relay.node not built: run scripts/build.d/10-media-native.sh (make build)');
}

let addon: Addon | undefined;
function loadAddon(): Addon {
  addon ??= createRequire(import.meta.url)(findAddon()) as Addon;
  return addon;
}

export interface RemoteConfig {
  ip: string;
  rtpPort: number;
  /** RTCP port, 0 = rtpPort + 1 (RFC 3605 absent) */
  rtcpPort: number;
  /** false when the phone said sendonly/inactive or c=0.0.0.0: nothing is sent to it */
  canSend: boolean;
  /** telephone-event payload type, excluded from jitter; -1 when none */
  dtmfPt: number;
  clockRate: number;
}

/** Decodes the addon's batch format: 16-byte header (u32 leg, u8 kind 0 RTP/1 RTCP/2 event copy, u8 0, u16 len, 4 bytes IPv4, u16 port, u16 generation) + data. */
export function decodeBatch(batch: Buffer): InboundPacket[] {
  const out: InboundPacket[] = [];
  let off = 0;
  while (off + 16 <= batch.length) {
    const legId = batch.readUInt32LE(off);
    const k = batch[off + 4];
    const kind = k === 1 ? 'rtcp' : k === 2 ? 'event' : 'rtp';
    const len = batch.readUInt16LE(off + 6);
    const fromIp = `${batch[off + 8]}.${batch[off + 9]}.${batch[off + 10]}.${batch[off + 11]}`;
    const fromPort = batch.readUInt16LE(off + 12);
    if (off + 16 + len > batch.length) break;
    out.push({ legId, kind, fromIp, fromPort, data: batch.subarray(off + 16, off + 16 + len) });
    off += 16 + len;
  }
  return out;
}

export interface NativeRelayOptions {
  /** period of the relay thread's passes, so one wakeup serves many legs (0 = none, the default) */
  coalesceUs?: number;
  /** > 0: the relay thread asks for SCHED_RR at this priority (needs CAP_SYS_NICE) */
  rtPriority?: number;
  /**
   * Without SCHED_RR (not asked, or refused), the relay threads set this nice for themselves
   * (-20..19), so the JS thread of the same process (its garbage collections) cannot take half
   * their CPU. Lowering it needs CAP_SYS_NICE or RLIMIT_NICE; undefined keeps the process's.
   */
  nice?: number;
  /** learning window after a leg's SDP is known (RTP Bleed defence); default 3000 ms as rtpengine */
  learnMs?: number;
  /** the relay thread died (errno): no packet moves any more, every later call throws ERR_MEDIA_DEAD */
  onFailure?: (errno: number) => void;
  /** relay threads, legs spread over them (rtpengine-style); 0 = auto: one per CPU (at most 4) under SCHED_RR, else 1 on up to 2 CPUs, CPUs - 1 above (at most 4) */
  threads?: number;
}

export const DEFAULT_LEARN_MS = 3000;

export class NativeRelay {
  readonly #addon: Addon;
  readonly #h: object;
  #closed = false;

  /** @param onPackets receives batches of packets for JS (takeover RTP, all RTCP) */
  constructor(onPackets: (packets: InboundPacket[]) => void, o: NativeRelayOptions = {}) {
    this.#addon = loadAddon();
    const onFailure = o.onFailure;
    this.#h = this.#addon.create(
      (batch) => {
        if (typeof batch === 'number') onFailure?.(batch);
        else onPackets(decodeBatch(batch));
      },
      o.coalesceUs ?? 0,
      o.rtPriority ?? 0,
      o.learnMs ?? DEFAULT_LEARN_MS,
      o.threads ?? 0,
      o.nice ?? null,
    );
  }

  /** 0 while the relay thread runs, else the errno it died of. */
  deadError(): number {
    return this.#addon.dead(this.#h);
  }

  /** Makes the relay thread's epoll_wait fail, as a broken epoll instance would (tests of the death path). */
  breakEpollForTest(): void {
    this.#addon.breakEpoll(this.#h);
  }

  /** Our SDP just went to this leg's phone: its learning window (re)opens (it may only now start sending). */
  learn(id: number): void {
    this.#addon.learn(this.#h, id);
  }

  /**
   * While on, RTP packets of the leg's telephone-event payload type (setRemote dtmfPt) that the
   * relay forwards natively are also queued for JS as kind 'event' (the relayed packet is unchanged;
   * a full JS queue drops the copy, counted in jsDropped). A command like setRoute.
   */
  setEvents(id: number, on: boolean): void {
    this.#addon.setEvents(this.#h, id, on ? 1 : 0);
  }

  /** 0 when real-time scheduling was granted (or not asked), else the errno of the refusal. */
  realtimeError(): number {
    return this.#addon.realtime(this.#h);
  }

  /** 0 when the relay threads' nice was applied (or not asked, or SCHED_RR held), else the errno of the refusal. */
  niceError(): number {
    return this.#addon.nice(this.#h);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Binds rtpPort and rtpPort+1 on ip, or takes the pair a closed leg left bound on them (emptied
   * of what arrived meanwhile). rtpPort must be even, 2..65534 (RangeError ERR_MEDIA_ARG).
   * Throws an Error with code 'EADDRINUSE' when taken.
   */
  openLeg(ip: string, rtpPort: number): number {
    return this.#addon.openLeg(this.#h, ip, rtpPort);
  }

  /** Stops the leg; its socket pair stays bound (parked) for the next openLeg on that port. */
  closeLeg(id: number): void {
    this.#addon.closeLeg(this.#h, id);
  }

  setRemote(id: number, r: RemoteConfig): void {
    this.#addon.setRemote(this.#h, id, r.ip, r.rtpPort, r.rtcpPort, r.canSend ? 1 : 0, r.dtmfPt, r.clockRate);
  }

  setRoute(id: number, mode: RouteMode, peer: number | null): void {
    this.#addon.setRoute(this.#h, id, MODE_CODE[mode], peer ?? -1);
  }

  /** Sends from the leg's own socket to its (latched) remote; false when no remote is known or the send failed. */
  send(id: number, kind: 'rtp' | 'rtcp', data: Uint8Array): boolean {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.#addon.send(this.#h, id, kind === 'rtcp' ? 1 : 0, buf);
  }

  stats(id: number): NativeLegStats {
    return this.#addon.stats(this.#h, id);
  }

  pool(): PoolStats {
    return this.#addon.pool(this.#h);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.close(this.#h);
  }
}
