/**
 * The host driver of the analog board (docs/serial-protocol.md): opens the tty with node-serialport,
 * handshakes, keeps the link alive, and turns frames into the typed values of `device/board.ts`.
 *
 * Link state machine (one of three states, `board.link`):
 *   down     the tty is not open     → open it (backoff 200 ms ×2 up to 5 s while it fails)   → syncing
 *   syncing  open, no hello yet      → hello-request every 250 ms; a hello                      → up
 *   up       hello seen              → ping every keepaliveMs; silence for linkTimeoutMs        → syncing
 *                                      an unsolicited hello (the board rebooted)                → syncing → up
 *   any      tty error/close, or still silent after reopenAfterMs of syncing                    → down
 *
 * Nothing here throws to the caller: serial errors, bad frames and listener exceptions are counted
 * and logged. Every pong carries each port's line state; a difference with what the events said
 * (an event frame lost to noise) is healed by emitting the missing event.
 */
import fs from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from '../../services/log.js';
import {
  portName,
  type AnalogBoard,
  type BoardHello,
  type LinkCounters,
  type LinkState,
  type PortCommand,
  type PortEvent,
  type PortId,
} from '../board.js';
import { LinkEndpoint } from '../link/endpoint.js';
import { PROTOCOL_VERSION, type Message, type PortLineState } from '../link/messages.js';

export interface SerialBoardOptions {
  /** 921600 by default: three ports of 20 ms audio both ways need ~52 kB/s (docs/serial-protocol.md). */
  baudRate?: number;
  keepaliveMs?: number;
  /** No valid frame for this long while up: the link is resynced. */
  linkTimeoutMs?: number;
  /** Still no hello after this long of syncing: the tty is closed and reopened. */
  reopenAfterMs?: number;
  reopenMinMs?: number;
  reopenMaxMs?: number;
  log?: Logger;
}

/** LinkCounters plus what only the serial driver counts. */
export interface SerialLinkCounters extends LinkCounters {
  malformedFrames: number;
  commandsDropped: number;
  audioDropped: number;
  /** Events synthesised from a pong's line state because their own frame was lost. */
  eventsRecovered: number;
  reopens: number;
  listenerErrors: number;
  /** Events/audio/line states naming a port the hello did not list. */
  unknownPort: number;
  /** Hellos of another protocol version (ignored: the link stays syncing). */
  protocolMismatches: number;
  /** Pongs that answer none of our last two pings (noise that passed the CRC): not trusted. */
  unmatchedPongs: number;
  /** Answered pongs listing other ports than the hello we hold: the hello was noise, asked again. */
  portListMismatches: number;
}

interface LineState {
  offHook: boolean;
  ringing: boolean;
  polarityReversed: boolean;
  loopCurrent: boolean;
}

/** The AnalogBoard the serial driver gives, with its extra counters. */
export interface SerialAnalogBoard extends AnalogBoard {
  counters(): SerialLinkCounters;
}

/** Opens (and keeps reopening) the board's tty; never throws, even when the tty does not exist yet. */
export function openSerialBoard(path: string, options: SerialBoardOptions = {}): SerialAnalogBoard {
  return new SerialBoard(path, options);
}

class SerialBoard implements SerialAnalogBoard {
  #link: LinkState = 'down';
  #hello: BoardHello | null = null;
  #port: SerialPort | null = null;
  #closed = false;
  #endpoint: LinkEndpoint;
  #lastRx = 0;
  #syncingSince = 0;
  #backoff: number;
  #reopenTimer: NodeJS.Timeout | null = null;
  #tick: NodeJS.Timeout;
  #lastHelloRequest = 0;
  #lastPing = 0;
  #pingToken = 1;
  readonly #lines = new Map<string, LineState>();
  readonly #linkListeners = new Set<(state: LinkState, hello: BoardHello | null) => void>();
  readonly #eventListeners = new Set<(event: PortEvent) => void>();
  readonly #audioListeners = new Set<(port: PortId, frame: Buffer) => void>();
  readonly #extra = { resyncs: 0, boardResets: 0, commandsDropped: 0, audioDropped: 0, eventsRecovered: 0, reopens: 0, listenerErrors: 0, unknownPort: 0, protocolMismatches: 0, unmatchedPongs: 0, portListMismatches: 0 };
  // Counters survive the endpoint being replaced at each reopen.
  readonly #carried = { framesIn: 0, framesOut: 0, checksumErrors: 0, garbageBytes: 0, sequenceGaps: 0, malformed: 0 };
  readonly #opts: Required<Omit<SerialBoardOptions, 'log'>>;
  readonly #log: Logger | undefined;

  constructor(
    private readonly path: string,
    options: SerialBoardOptions,
  ) {
    this.#opts = {
      baudRate: options.baudRate ?? 921600,
      keepaliveMs: options.keepaliveMs ?? 500,
      linkTimeoutMs: options.linkTimeoutMs ?? 1500,
      reopenAfterMs: options.reopenAfterMs ?? 4000,
      reopenMinMs: options.reopenMinMs ?? 200,
      reopenMaxMs: options.reopenMaxMs ?? 5000,
    };
    this.#log = options.log?.child({ component: 'serial-board', tty: path });
    this.#backoff = this.#opts.reopenMinMs;
    this.#endpoint = this.#newEndpoint();
    this.#tick = setInterval(() => this.#onTick(), 50);
    this.#tick.unref?.();
    this.#open();
  }

  get hello(): BoardHello | null {
    return this.#hello;
  }

  get link(): LinkState {
    return this.#link;
  }

  counters(): SerialLinkCounters {
    const s = this.#endpoint.stats();
    const c = this.#carried;
    return {
      framesIn: c.framesIn + s.framesIn,
      framesOut: c.framesOut + s.framesOut,
      checksumErrors: c.checksumErrors + s.checksumErrors,
      garbageBytes: c.garbageBytes + s.garbageBytes,
      sequenceGaps: c.sequenceGaps + s.sequenceGaps,
      malformedFrames: c.malformed + s.malformed,
      ...this.#extra,
    };
  }

  onLink(listener: (state: LinkState, hello: BoardHello | null) => void): () => void {
    this.#linkListeners.add(listener);
    return () => this.#linkListeners.delete(listener);
  }

  onEvent(listener: (event: PortEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  onAudio(listener: (port: PortId, frame: Buffer) => void): () => void {
    this.#audioListeners.add(listener);
    return () => this.#audioListeners.delete(listener);
  }

  send(command: PortCommand): void {
    if (this.#link !== 'up') {
      this.#extra.commandsDropped++;
      this.#log?.debug({ command: command.kind, link: this.#link }, 'command dropped: link not up');
      return;
    }
    this.#send({ t: 'command', command });
  }

  sendAudio(port: PortId, frame: Buffer): void {
    if (this.#link !== 'up') {
      this.#extra.audioDropped++;
      return;
    }
    this.#send({ t: 'audio', port, frame });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    if (this.#reopenTimer !== null) clearTimeout(this.#reopenTimer);
    await this.#closePort();
    this.#setLink('down');
    this.#linkListeners.clear();
    this.#eventListeners.clear();
    this.#audioListeners.clear();
  }

  #newEndpoint(): LinkEndpoint {
    return new LinkEndpoint(
      (bytes) => this.#write(bytes),
      (message) => this.#onMessage(message),
      (frame, reason) => this.#log?.debug({ type: frame.type, reason }, 'malformed frame'),
    );
  }

  #send(message: Message): void {
    try {
      this.#endpoint.send(message);
    } catch (err) {
      this.#log?.warn({ err }, 'encoding a frame failed');
    }
  }

  #write(bytes: Buffer): void {
    const port = this.#port;
    if (port === null || !port.isOpen) return;
    try {
      port.write(bytes);
    } catch (err) {
      this.#log?.debug({ err }, 'serial write failed');
    }
  }

  #open(): void {
    if (this.#closed || this.#port !== null) return;
    if (!fs.existsSync(this.path)) {
      this.#scheduleReopen('tty absent');
      return;
    }
    let port: SerialPort;
    try {
      port = new SerialPort({ path: this.path, baudRate: this.#opts.baudRate, autoOpen: false });
    } catch (err) {
      this.#scheduleReopen((err as Error).message);
      return;
    }
    this.#port = port;
    port.on('data', (chunk: Buffer) => {
      if (this.#port !== port) return;
      this.#endpoint.push(chunk);
    });
    port.on('error', (err: Error) => {
      this.#log?.debug({ err: err.message }, 'serial error');
      if (this.#port === port) this.#lost(`error: ${err.message}`);
    });
    port.on('close', () => {
      if (this.#port === port) this.#lost('closed');
    });
    port.open((err) => {
      if (this.#port !== port) return;
      if (err) {
        this.#port = null;
        this.#scheduleReopen(err.message);
        return;
      }
      this.#log?.info('tty open; handshaking');
      this.#carryCounters();
      this.#endpoint.resetSequence();
      this.#lastRx = Date.now();
      this.#syncingSince = Date.now();
      this.#lastHelloRequest = 0;
      this.#setLink('syncing');
    });
  }

  #carryCounters(): void {
    const s = this.#endpoint.stats();
    const c = this.#carried;
    c.framesIn += s.framesIn;
    c.framesOut += s.framesOut;
    c.checksumErrors += s.checksumErrors;
    c.garbageBytes += s.garbageBytes;
    c.sequenceGaps += s.sequenceGaps;
    c.malformed += s.malformed;
    this.#endpoint = this.#newEndpoint();
  }

  #lost(reason: string): void {
    this.#log?.warn({ reason }, 'serial link lost; reopening');
    void this.#closePort();
    this.#setLink('down');
    this.#scheduleReopen(reason);
  }

  async #closePort(): Promise<void> {
    const port = this.#port;
    this.#port = null;
    if (port === null) return;
    port.removeAllListeners('data');
    port.on('error', () => {});
    if (!port.isOpen) return;
    await new Promise<void>((resolve) => {
      try {
        port.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  #scheduleReopen(reason: string): void {
    if (this.#closed || this.#reopenTimer !== null) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#opts.reopenMaxMs, this.#backoff * 2);
    this.#log?.debug({ reason, delayMs: delay }, 'reopen scheduled');
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      this.#extra.reopens++;
      this.#open();
    }, delay);
  }

  #onTick(): void {
    if (this.#closed || this.#port === null) return;
    const now = Date.now();
    if (this.#link === 'syncing') {
      if (now - this.#lastHelloRequest >= 250) {
        this.#lastHelloRequest = now;
        this.#send({ t: 'hello-request', protocol: PROTOCOL_VERSION });
      }
      if (now - this.#syncingSince >= this.#opts.reopenAfterMs) {
        // A pty whose other end vanished may stay "open" without an error: start over.
        this.#lost('no hello');
      }
      return;
    }
    if (this.#link === 'up') {
      if (now - this.#lastRx >= this.#opts.linkTimeoutMs) {
        this.#log?.warn({ silentMs: now - this.#lastRx }, 'board silent; resyncing');
        this.#resync();
        return;
      }
      if (now - this.#lastPing >= this.#opts.keepaliveMs) this.#ping();
    }
  }

  #resync(): void {
    this.#extra.resyncs++;
    this.#syncingSince = Date.now();
    this.#lastHelloRequest = 0;
    this.#setLink('syncing');
  }

  /** The pong lists exactly the ports of the hello we hold (a real board's pong carries all of them). */
  #samePorts(states: PortLineState[]): boolean {
    const held = this.#hello?.ports ?? [];
    if (held.length !== states.length) return false;
    return states.every((st) => held.some((p) => p.kind === st.port.kind && p.index === st.port.index));
  }

  #ping(): void {
    this.#lastPing = Date.now();
    this.#pingToken = (this.#pingToken + 1) >>> 0;
    this.#send({ t: 'ping', token: this.#pingToken });
  }

  #onMessage(message: Message): void {
    this.#lastRx = Date.now();
    switch (message.t) {
      case 'hello': {
        if (message.protocol !== PROTOCOL_VERSION) {
          // Another protocol version: nothing it says can be trusted to mean the same; stay syncing.
          this.#extra.protocolMismatches++;
          this.#log?.error({ boardProtocol: message.protocol, hostProtocol: PROTOCOL_VERSION, firmware: message.firmware }, 'board speaks another protocol version');
          return;
        }
        const hello: BoardHello = { firmware: message.firmware, protocol: message.protocol, ports: message.ports, capabilities: message.capabilities };
        if (message.unsolicited && this.#hello !== null) {
          // The board rebooted: its sequence restarted and every command it held is gone.
          this.#extra.boardResets++;
          this.#endpoint.resetSequence();
          this.#log?.warn({ firmware: hello.firmware }, 'board reset');
          if (this.#link === 'up') this.#setLink('syncing');
        }
        if (message.mode === 'bootloader') {
          // The firmware tool owns a board in its bootloader; the gateway waits for the application.
          this.#hello = hello;
          if (this.#link === 'up') this.#setLink('syncing');
          return;
        }
        this.#hello = hello;
        if (this.#link !== 'up') {
          this.#backoff = this.#opts.reopenMinMs;
          this.#log?.info({ firmware: hello.firmware, ports: hello.ports.map(portName), capabilities: hello.capabilities }, 'board up');
          this.#setLink('up');
          this.#ping();
        }
        return;
      }
      case 'pong':
        // Only an answer to one of our own last pings is the board speaking: a pong forged by line
        // noise must not invent events (the token is 32 bits, so noise rarely matches it).
        if (message.token !== this.#pingToken && message.token !== (this.#pingToken - 1) >>> 0) {
          this.#extra.unmatchedPongs++;
          return;
        }
        if (this.#link === 'up' && !this.#samePorts(message.states)) {
          // A hello forged by noise replaced the board's port list, and every real event of a port
          // it lacks would be dropped as unknown for good: ask the board again.
          this.#extra.portListMismatches++;
          this.#log?.warn({ held: this.#hello?.ports.map(portName), board: message.states.map((st) => portName(st.port)) }, 'port list differs from the hello; asking again');
          this.#resync();
          return;
        }
        this.#reconcile(message.states);
        return;
      case 'event':
        if (this.#link !== 'up') return;
        if ('port' in message.event && !this.#known(message.event.port)) return;
        this.#noteEvent(message.event);
        this.#emitEvent(message.event);
        return;
      case 'audio':
        if (this.#link !== 'up' || !this.#known(message.port)) return;
        for (const l of this.#audioListeners) this.#call(() => l(message.port, message.frame));
        return;
      case 'nak':
        this.#log?.warn({ refType: message.refType, reason: message.reason }, 'board refused a frame');
        return;
      default:
        // Host-bound types only; anything else from the board is ignored (a looped-back line, noise).
        return;
    }
  }

  /** A port the board announced; anything else (noise that passed the CRC) is counted and dropped. */
  #known(port: PortId): boolean {
    const ok = this.#hello?.ports.some((p) => p.kind === port.kind && p.index === port.index) ?? false;
    if (!ok) this.#extra.unknownPort++;
    return ok;
  }

  #line(port: PortId): LineState {
    const key = portName(port);
    let s = this.#lines.get(key);
    if (s === undefined) {
      s = { offHook: false, ringing: false, polarityReversed: false, loopCurrent: false };
      this.#lines.set(key, s);
    }
    return s;
  }

  #noteEvent(e: PortEvent): void {
    if (!('port' in e)) return;
    const s = this.#line(e.port);
    if (e.kind === 'hook') s.offHook = e.offHook;
    else if (e.kind === 'ring') s.ringing = e.on;
    else if (e.kind === 'polarity') s.polarityReversed = e.reversed;
    else if (e.kind === 'loop-current') s.loopCurrent = e.present;
  }

  #reconcile(states: PortLineState[]): void {
    if (this.#link !== 'up') return;
    for (const st of states) {
      if (!this.#known(st.port)) continue;
      const s = this.#line(st.port);
      const missed: PortEvent[] = [];
      if (st.port.kind === 'fxs') {
        if (st.offHook !== s.offHook) missed.push({ kind: 'hook', port: st.port, offHook: st.offHook });
      } else {
        if (st.ringing !== s.ringing) missed.push({ kind: 'ring', port: st.port, on: st.ringing });
        if (st.polarityReversed !== s.polarityReversed) missed.push({ kind: 'polarity', port: st.port, reversed: st.polarityReversed });
        if (st.loopCurrent !== s.loopCurrent) missed.push({ kind: 'loop-current', port: st.port, present: st.loopCurrent });
      }
      for (const e of missed) {
        this.#extra.eventsRecovered++;
        this.#log?.info({ port: portName(st.port), event: e.kind }, 'event recovered from line state');
        this.#noteEvent(e);
        this.#emitEvent(e);
      }
    }
  }

  #emitEvent(e: PortEvent): void {
    for (const l of this.#eventListeners) this.#call(() => l(e));
  }

  #setLink(state: LinkState): void {
    if (this.#link === state) return;
    this.#link = state;
    for (const l of this.#linkListeners) this.#call(() => l(state, this.#hello));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#extra.listenerErrors++;
      this.#log?.error({ err }, 'board listener threw');
    }
  }
}
