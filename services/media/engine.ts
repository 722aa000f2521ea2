/**
 * The media engine the B2BUA and the features call: sessions (one per call) own legs (one per
 * phone); legs are anchored with SDP offer/answer, bridged by the native relay, or taken over by a
 * JS endpoint. See docs/media-engine.md.
 */
import { isIPv4 } from 'node:net';
import { createLogger, type Logger } from '../log.js';
import { DEFAULT_LEARN_MS, NativeRelay, type InboundPacket } from './native/relay.js';
import { MediaError } from './rtp/errors.js';
import { MediaLeg, type LegContext } from './rtp/leg.js';
import { PortAllocator } from './rtp/ports.js';
import { MediaSession } from './rtp/session.js';

export { MediaError } from './rtp/errors.js';
export type { MediaErrorCode } from './rtp/errors.js';
export { MediaLeg, type AttachOptions, type LegStats } from './rtp/leg.js';
export { MediaSession } from './rtp/session.js';
export type { KeyPress, KeyPressListener } from './rtp/dtmf-watch.js';
export type { MediaEndpoint, MediaOutput, DtmfEvent, EventPacket } from './rtp/endpoint.js';

export interface MediaEngineOptions {
  /** local IPv4 address the RTP sockets bind to */
  bind: string;
  /** address written in our SDP (NAT/public address); default: bind */
  advertise?: string;
  /** RTP port range (inclusive); RTP on even ports, RTCP on the odd one above */
  portMin: number;
  portMax: number;
  logger?: Logger;
  /** RTCP SR interval for legs a JS endpoint feeds (RFC 3550 §6.2: 5 s) */
  rtcpIntervalMs?: number;
  /** period of the relay thread's passes (it pauses for what is left after the work), so one wakeup serves many legs; default 0 (no pause: docs/performance.md) */
  coalesceUs?: number;
  /**
   * RTP Bleed defence: how long after a phone's SDP is known (or our SDP went to it) its leg may
   * latch to where its packets come from; after it, only its SDP address or a NAT rebinding of the
   * same stream moves it. Default 3000 ms (rtpengine's learning period).
   */
  learningMs?: number;
  /** relay threads (legs spread over them, so one descheduled thread does not delay every call); default: one per CPU (at most 4) when the threads get SCHED_RR, else 1 on up to 2 CPUs and CPUs - 1 above (at most 4) */
  relayThreads?: number;
  /** > 0: run the relay thread SCHED_RR at this priority (1-99; needs root/CAP_SYS_NICE, else logged and ignored) */
  realtimePriority?: number;
  /** without SCHED_RR (not asked or refused): the relay threads' own nice, -20..19 (below the process's needs CAP_SYS_NICE or RLIMIT_NICE, else logged and ignored); undefined: the process's */
  relayNice?: number;
}

export interface MediaEngine {
  createSession(opts: { callId: string }): MediaSession;
  readonly sessions: ReadonlyMap<string, MediaSession>;
  readonly portsAvailable: number;
  /** The relay thread's fatal error (errno), undefined while it runs. New sessions are refused then. */
  readonly failure: number | undefined;
  /** Called once if the relay thread dies; the engine has already logged it and closed every session. */
  onFailure(listener: (errno: number) => void): void;
  close(): void;
}

class Engine implements MediaEngine {
  readonly #relay: NativeRelay;
  readonly #ports: PortAllocator;
  readonly #log: Logger;
  readonly #legs = new Map<number, MediaLeg>();
  readonly #sessions = new Map<string, MediaSession>();
  readonly #legCtx: LegContext;
  readonly #bind: string;
  #closed = false;
  #failure: number | undefined;
  readonly #failureListeners: ((errno: number) => void)[] = [];

  constructor(o: MediaEngineOptions) {
    if (!isIPv4(o.bind)) throw new RangeError(`media bind address must be IPv4: ${o.bind}`);
    const advertise = o.advertise ?? o.bind;
    if (!isIPv4(advertise)) throw new RangeError(`media advertise address must be IPv4: ${advertise}`);
    this.#bind = o.bind;
    this.#ports = new PortAllocator(o.portMin, o.portMax);
    this.#log = o.logger ?? createLogger('media');
    this.#relay = new NativeRelay((pkts) => this.#dispatch(pkts), {
      coalesceUs: o.coalesceUs ?? 0,
      rtPriority: o.realtimePriority ?? 0,
      learnMs: o.learningMs ?? DEFAULT_LEARN_MS,
      threads: o.relayThreads ?? 0,
      ...(o.relayNice !== undefined ? { nice: o.relayNice } : {}),
      onFailure: (errno) => this.#failed(errno),
    });
    if (o.realtimePriority || o.relayNice !== undefined) {
      // the threads set their own policy as they start: look a moment later
      setTimeout(() => this.#logScheduling(o.realtimePriority ?? 0, o.relayNice), 50).unref();
    }
    this.#legCtx = {
      relay: this.#relay,
      advertise,
      rtcpIntervalMs: o.rtcpIntervalMs ?? 5000,
      logger: this.#log,
      release: (leg) => {
        this.#legs.delete(leg.nativeId);
        this.#relay.closeLeg(leg.nativeId);
        this.#ports.release(leg.localPort);
      },
    };
  }

  #logScheduling(priority: number, nice: number | undefined): void {
    if (this.#closed) return;
    const rtErr = priority > 0 ? this.#relay.realtimeError() : 0;
    if (priority > 0 && rtErr === 0) {
      this.#log.info({ priority }, 'relay threads run SCHED_RR');
      return;
    }
    const niceErr = nice !== undefined ? this.#relay.niceError() : 0;
    const fallback = nice !== undefined && niceErr === 0 ? `nice ${nice}` : 'the process priority';
    if (priority > 0) this.#log.warn({ errno: rtErr, priority }, `relay threads could not get SCHED_RR; running at ${fallback}`);
    if (nice !== undefined && niceErr !== 0) this.#log.warn({ errno: niceErr, nice }, 'relay threads could not lower their nice (CAP_SYS_NICE or RLIMIT_NICE); running at the process priority');
    else if (nice !== undefined) this.#log.info({ nice }, `relay threads run at nice ${nice}`);
  }

  get failure(): number | undefined {
    return this.#failure;
  }

  onFailure(listener: (errno: number) => void): void {
    this.#failureListeners.push(listener);
  }

  /** @internal tests: the relay thread's epoll_wait fails from now on, as a broken epoll would. */
  breakRelayForTest(): void {
    this.#relay.breakEpollForTest();
  }

  /**
   * The relay thread died (an epoll error): no packet moves any more. The calls end cleanly (their
   * sessions close, so the B2BUA's next media step fails with ERR_CLOSED, new calls get
   * ERR_RELAY_FAILED) instead of staying up silent; the listeners (app: restart) are told.
   */
  #failed(errno: number): void {
    if (this.#failure !== undefined || this.#closed) return;
    this.#failure = errno;
    this.#log.error({ errno, sessions: this.#sessions.size }, 'media relay thread died: calls ended, new calls refused');
    for (const s of [...this.#sessions.values()]) {
      try {
        s.close();
      } catch (e) {
        this.#log.error({ err: e, callId: s.callId }, 'closing a session after the relay died failed');
      }
    }
    for (const l of this.#failureListeners) {
      try {
        l(errno);
      } catch (e) {
        this.#log.error({ err: e }, 'media failure listener threw');
      }
    }
  }

  get sessions(): ReadonlyMap<string, MediaSession> {
    return this.#sessions;
  }

  get portsAvailable(): number {
    return this.#ports.available;
  }

  #dispatch(pkts: InboundPacket[]): void {
    for (const p of pkts) {
      const leg = this.#legs.get(p.legId);
      if (!leg) continue;
      try {
        leg.handlePacket(p);
      } catch (e) {
        this.#log.error({ err: e, leg: leg.name }, 'inbound packet handling failed');
      }
    }
  }

  createSession(opts: { callId: string }): MediaSession {
    if (this.#closed) throw new MediaError('ERR_CLOSED', 'media engine is closed');
    if (this.#failure !== undefined) throw new MediaError('ERR_RELAY_FAILED', `media relay thread died (errno ${this.#failure})`);
    if (this.#sessions.has(opts.callId)) throw new MediaError('ERR_STATE', `session ${opts.callId} exists`);
    const session: MediaSession = new MediaSession(opts.callId, {
      logger: this.#log,
      createLeg: (name, logger) => {
        const { port, value: id } = this.#ports.allocate((p) => this.#relay.openLeg(this.#bind, p));
        const leg = new MediaLeg(name, id, port, this.#legCtx, logger);
        this.#legs.set(id, leg);
        return leg;
      },
      release: (s) => {
        if (this.#sessions.get(s.callId) === s) this.#sessions.delete(s.callId);
      },
    });
    this.#sessions.set(opts.callId, session);
    return session;
  }

  close(): void {
    if (this.#closed) return;
    for (const s of [...this.#sessions.values()]) s.close();
    this.#closed = true;
    this.#relay.close();
  }
}

export async function createMediaEngine(opts: MediaEngineOptions): Promise<MediaEngine> {
  return new Engine(opts);
}
