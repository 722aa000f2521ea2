/**
 * The analog gateway: the board's ports as SIP user agents of the pbx, in their own process.
 *
 * - FXS ports register as their assigned extension (its credentials), like an ATA; their Contact is
 *   `sip:fxs1@<loopback>:<port>` on one shared SIP listener.
 * - The FXO port is a trunk of the pbx: an IP peer on its own loopback address (so the pbx tells it
 *   from the phones by source address), written to the store as trunk `fxo1` (tried after every
 *   carrier trunk: landline failover).
 * - One 20 ms clock feeds every port's audio toward the board; the board's frames feed RTP.
 * - The store is re-read every second (port assignments, countries, the FXO number, extensions'
 *   secrets); the state of each port is written back every 2 s for `pbxctl port list` and `status`.
 * - After a board reset or a replugged cable the ports re-apply their state (ringing, seized); the
 *   SIP registrations never depend on the link.
 */
import type { Logger } from '../../services/log.js';
import { parseCountry, type Country } from '../../services/media/tones/table.js';
import { RegistrationClient } from '../../services/pbx/routing/register-client.js';
import type { LocalAddressing } from '../../services/sip/b2bua/types.js';
import { createSipStack, type SipStack } from '../../services/sip/stack.js';
import type { TimerSettings } from '../../services/sip/transaction/timers.js';
import type { Store } from '../../services/store/types.js';
import { portName, type AnalogBoard, type BoardHello, type LinkState, type PortEvent, type PortId } from '../board.js';
import { DEFAULT_FXO_TIMING, FxoPort, type FxoTiming } from './fxo-port.js';
import { DEFAULT_FXS_TIMING, FxsPort, type FxsTiming } from './fxs-port.js';
import { ourContact, type SipContext } from './sip-call.js';
import { SipEndpoint } from './sip-endpoint.js';
import { ANALOG_T38_SETTING } from '../../services/store/fax-schema.js';

export interface GatewayOptions {
  board: AnalogBoard;
  store: Store;
  logger: Logger;
  /** The pbx's SIP UDP listener. */
  pbx: { address: string; port: number };
  /** Loopback address of the FXS user agents and of every RTP socket. */
  bind: string;
  /** UDP port of the FXS user agents (0: any). */
  sipPort?: number;
  /** The FXO trunk's own address and port (the pbx's trunk row points here). */
  trunk: { address: string; port: number };
  /** The box's country (config.json): ports without their own use it. */
  country: string;
  fxsTiming?: Partial<FxsTiming>;
  fxoTiming?: Partial<FxoTiming>;
  pollMs?: number;
  reportMs?: number;
  registration?: { expiresSeconds?: number; retryMinMs?: number; retryMaxMs?: number };
  timers?: Partial<TimerSettings>;
  /**
   * FXS 1's registration failing this long (the pbx is down) engages the power-fail relay: the phone
   * on FXS 1 is wired straight to the landline, as on an unpowered box (default 30 s).
   */
  relayAfterMs?: number;
  /** T.38 fax relay on the FXS ports; default: the `analog.t38` setting (`pbxctl fax analog-t38`, off). */
  t38?: boolean;
}

interface FxsEntry {
  port: FxsPort;
  client: RegistrationClient | null;
  /** extension:secret the client registers with (a change re-registers). */
  registeredAs: string | null;
}

const VALIDATE = {
  supportedExtensions: [],
  acceptedContentTypes: ['application/sdp', 'application/simple-message-summary', 'message/sipfrag', 'application/dtmf-relay', 'application/dtmf'],
  isProxyOrB2bua: false,
};

export class AnalogGateway {
  readonly #o: GatewayOptions;
  readonly #log: Logger;
  readonly #stack: SipStack;
  readonly #trunkStack: SipStack;
  readonly #endpoint: SipEndpoint;
  readonly #trunkEndpoint: SipEndpoint;
  readonly #fxs = new Map<string, FxsEntry>();
  readonly #fxo = new Map<string, FxoPort>();
  #internal: string[] = [];
  #clock: NodeJS.Timeout | null = null;
  #poll: NodeJS.Timeout | null = null;
  #report: NodeJS.Timeout | null = null;
  #clockStart = 0;
  #framesDone = 0;
  #unsubscribe: Array<() => void> = [];
  #closed = false;
  /** The bypass relay as last commanded; since when FXS 1 could not register. */
  #relay = false;
  #failingSince: number | null = null;

  private constructor(o: GatewayOptions, stack: SipStack, trunkStack: SipStack) {
    this.#o = o;
    this.#log = o.logger;
    this.#stack = stack;
    this.#trunkStack = trunkStack;
    const pbx = { transport: 'UDP' as const, address: o.pbx.address, port: o.pbx.port, connectionId: null };
    const ctx = (s: SipStack, logger: Logger): SipContext => ({
      transactions: s.transactions,
      local: s.localEndpoint('UDP'),
      pbx,
      pbxHost: o.pbx.address,
      logger,
      ...(o.timers?.T1 !== undefined && { t1Ms: o.timers.T1 }),
      ...(o.timers?.T2 !== undefined && { t2Ms: o.timers.T2 }),
    });
    this.#endpoint = new SipEndpoint(ctx(stack, o.logger.child({ layer: 'fxs-sip' })));
    this.#trunkEndpoint = new SipEndpoint(ctx(trunkStack, o.logger.child({ layer: 'fxo-sip' })));
  }

  static async start(o: GatewayOptions): Promise<AnalogGateway> {
    const stack = await createSipStack({ bind: o.bind, udpPort: o.sipPort ?? 0, logger: o.logger.child({ layer: 'sip' }), validate: VALIDATE, ...(o.timers !== undefined && { timers: o.timers }) });
    let trunkStack: SipStack;
    try {
      trunkStack = await createSipStack({ bind: o.trunk.address, udpPort: o.trunk.port, logger: o.logger.child({ layer: 'trunk-sip' }), validate: VALIDATE, ...(o.timers !== undefined && { timers: o.timers }) });
    } catch (error) {
      await stack.close();
      throw error;
    }
    const gateway = new AnalogGateway(o, stack, trunkStack);
    gateway.#begin();
    return gateway;
  }

  /** Where the FXS user agents and the FXO trunk listen (tests, logs). */
  addresses(): { fxs: { address: string; port: number }; trunk: { address: string; port: number } } {
    return { fxs: this.#stack.localEndpoint('UDP'), trunk: this.#trunkStack.localEndpoint('UDP') };
  }

  fxsPort(name: string): FxsPort | undefined {
    return this.#fxs.get(name)?.port;
  }

  fxoPort(name: string): FxoPort | undefined {
    return this.#fxo.get(name);
  }

  #begin(): void {
    const board = this.#o.board;
    this.#unsubscribe.push(
      board.onLink((state, hello) => this.#onLink(state, hello)),
      board.onEvent((event) => this.#guard('event', () => this.#onEvent(event))),
      board.onAudio((port, frame) => this.#guard('audio', () => this.#onAudio(port, frame))),
    );
    // Until the board says it has an FXO port, a call to the landline is refused.
    this.#trunkEndpoint.addPort('*', { onInvite: (call) => call.reject(503, 'No Landline') });
    if (board.link === 'up' && board.hello !== null) this.#onLink('up', board.hello);
    this.#clockStart = performance.now();
    this.#clock = setInterval(() => this.#guard('clock', () => this.#tick()), 10);
    this.#sync();
    this.#poll = setInterval(() => this.#guard('poll', () => this.#sync()), this.#o.pollMs ?? 1000);
    this.#report = setInterval(() => this.#guard('report', () => {
      this.#watchRelay();
      this.#reportStatus();
    }), this.#o.reportMs ?? 2000);
    this.#reportStatus();
  }

  /** A bug on one event must not take the process (and every port's registration) down. */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error instanceof Error ? error.stack : String(error), what }, 'gateway handler failed');
    }
  }

  #onLink(state: LinkState, hello: BoardHello | null): void {
    this.#log.info({ link: state, firmware: hello?.firmware, ports: hello?.ports.map(portName) }, 'board link');
    if (state !== 'up' || hello === null) return;
    for (const id of hello.ports) {
      const name = portName(id);
      if (id.kind === 'fxs' && !this.#fxs.has(name)) {
        const port = new FxsPort({
          board: this.#o.board,
          port: id,
          endpoint: this.#endpoint,
          logger: this.#log,
          rtpAddress: this.#o.bind,
          timing: { ...DEFAULT_FXS_TIMING, ...this.#o.fxsTiming },
          internalNumbers: () => this.#internal,
          t38: () => this.#o.t38 ?? this.#o.store.settings.get<boolean>(ANALOG_T38_SETTING, false) === true,
        });
        this.#fxs.set(name, { port, client: null, registeredAs: null });
      }
      if (id.kind === 'fxo' && !this.#fxo.has(name)) {
        const port = new FxoPort({
          board: this.#o.board,
          port: id,
          endpoint: this.#trunkEndpoint,
          logger: this.#log,
          rtpAddress: this.#o.bind,
          timing: { ...DEFAULT_FXO_TIMING, ...this.#o.fxoTiming },
        });
        this.#fxo.set(name, port);
        // Any user at the trunk's address is a call out on this line (one FXO: the first free one).
        this.#trunkEndpoint.addPort('*', { onInvite: (call) => void this.#outbound(call) });
      }
    }
    // A reset board forgot what it was doing: ringing and seizure are sent again.
    for (const { port } of this.#fxs.values()) port.reapply();
    for (const port of this.#fxo.values()) port.reapply();
    this.#o.board.send({ kind: 'bypass-relay', engaged: this.#relay });
    this.#sync();
  }

  get relayEngaged(): boolean {
    return this.#relay;
  }

  #setRelay(engaged: boolean, why: string): void {
    if (engaged === this.#relay) return;
    this.#relay = engaged;
    this.#o.board.send({ kind: 'bypass-relay', engaged });
    if (engaged) this.#log.warn({ why }, 'power-fail relay engaged: the phone on FXS 1 is on the landline');
    else this.#log.info({ why }, 'power-fail relay released: FXS 1 back on the gateway');
  }

  /** The pbx unreachable (FXS 1 cannot register) for relayAfterMs: FXS 1 goes to the landline, and back. */
  #watchRelay(): void {
    const entry = this.#fxs.get('fxs1');
    const state = entry?.client?.status().state;
    if (state === 'registered' || state === undefined) {
      this.#failingSince = null;
      const fxs1 = entry?.port;
      if (this.#relay && (fxs1 === undefined || !fxs1.offHook)) this.#setRelay(false, state === undefined ? 'FXS 1 not in service' : 'the pbx answers again');
      return;
    }
    if (state !== 'failing') return;
    this.#failingSince ??= Date.now();
    const fxo = [...this.#fxo.values()];
    if (Date.now() - this.#failingSince >= (this.#o.relayAfterMs ?? 30_000) && fxo.every((p) => !p.inUse) && entry?.port.activity === 'idle') {
      this.#setRelay(true, 'the pbx does not answer FXS 1\'s registration');
    }
  }

  async #outbound(call: import('./sip-call.js').SipCall): Promise<void> {
    const free = [...this.#fxo.values()].find((p) => !p.inUse) ?? [...this.#fxo.values()][0];
    if (free === undefined) {
      call.reject(503, 'No Landline');
      return;
    }
    await free.outbound(call);
  }

  #onEvent(event: PortEvent): void {
    const name = portName(event.port);
    if (event.port.kind === 'fxs') {
      const port = this.#fxs.get(name)?.port;
      if (port === undefined) return;
      if (event.kind === 'hook') port.hook(event.offHook);
      else if (event.kind === 'flash') port.flash();
      else if (event.kind === 'pulse-digit') port.pulseDigit(event.digit);
      return;
    }
    const fxo = this.#fxo.get(name);
    if (fxo === undefined) return;
    if (event.kind === 'ring') fxo.ring(event.on);
    else if (event.kind === 'polarity') fxo.polarity(event.reversed);
    else if (event.kind === 'loop-current') fxo.loopCurrent(event.present);
  }

  #onAudio(id: PortId, frame: Buffer): void {
    if (frame.length !== 160) return;
    const name = portName(id);
    if (id.kind === 'fxs') this.#fxs.get(name)?.port.fromPhone(frame);
    else this.#fxo.get(name)?.fromLine(frame);
  }

  /** Frames due since the start, so a late timer catches up instead of drifting. */
  #tick(): void {
    const due = Math.floor((performance.now() - this.#clockStart) / 20);
    let n = 0;
    while (this.#framesDone < due && n < 5) {
      this.#framesDone++;
      n++;
      const now = this.#clockStart + this.#framesDone * 20;
      if (this.#o.board.link !== 'up') continue;
      for (const { port } of this.#fxs.values()) this.#o.board.sendAudio(this.#idOf(port.name), port.toPhone(now));
      for (const port of this.#fxo.values()) this.#o.board.sendAudio(this.#idOf(port.name), port.toLine(now));
    }
    // Far behind (the process was stopped): skip, do not burst.
    if (due - this.#framesDone > 5) this.#framesDone = due;
  }

  #idOf(name: string): PortId {
    return { kind: name.startsWith('fxs') ? 'fxs' : 'fxo', index: Number(name.slice(3)) };
  }

  #countryOf(configured: string | null): Country {
    return parseCountry(configured ?? this.#o.country) ?? 'US';
  }

  /** Applies the store: identities and registrations of FXS ports, FXO settings, the trunk row. */
  #sync(): void {
    if (this.#closed) return;
    const store = this.#o.store;
    const configs = new Map(store.analog.list().map((c) => [c.port, c]));
    this.#internal = [
      ...store.extensions.list().map((e) => e.number),
      ...store.routing.ringGroups.list().flatMap((g) => (g.extension === null ? [] : [g.extension])),
      ...store.routing.receptionists.list().flatMap((r) => (r.extension === null ? [] : [r.extension])),
    ];
    for (const [name, entry] of this.#fxs) {
      const config = configs.get(name);
      const extension = config?.extension == null ? null : store.extensions.get(config.extension);
      const identity = extension === null ? null : { extension: extension.number, displayName: extension.displayName, secret: extension.secret };
      entry.port.configure(identity, this.#countryOf(config?.country ?? null));
      const key = identity === null ? null : `${identity.extension}:${identity.secret}`;
      if (key === entry.registeredAs) continue;
      entry.client?.stop();
      entry.client = null;
      entry.registeredAs = key;
      if (identity === null) {
        this.#log.info({ port: name }, 'port not assigned: out of service');
        continue;
      }
      this.#log.info({ port: name, extension: identity.extension }, 'port registers as its extension');
      entry.client = new RegistrationClient({
        trunk: name,
        host: this.#o.pbx.address,
        port: this.#o.pbx.port,
        destination: { transport: 'UDP', address: this.#o.pbx.address, port: this.#o.pbx.port, connectionId: null },
        credentials: { username: identity.extension, password: identity.secret },
        transactions: this.#stack.transactions,
        addressing: this.#addressingFor(name),
        logger: this.#log.child({ port: name, extension: identity.extension }),
        expiresSeconds: this.#o.registration?.expiresSeconds ?? 300,
        retryMinMs: this.#o.registration?.retryMinMs ?? 2000,
        retryMaxMs: this.#o.registration?.retryMaxMs ?? 60_000,
      });
      entry.client.start();
    }
    for (const [name, port] of this.#fxo) {
      const config = configs.get(name);
      port.configure(this.#countryOf(config?.country ?? null), config?.number ?? null);
      this.#ensureTrunk(name);
    }
  }

  /** Contact `sip:fxs1@...`: the pbx's INVITE names the port, whatever extension it registered. */
  #addressingFor(name: string): LocalAddressing {
    const local = this.#endpoint.ctx.local;
    return {
      via: () => ({ transport: 'UDP', host: local.address, port: local.port }),
      contact: () => ourContact(this.#endpoint.ctx, name),
    };
  }

  #ensureTrunk(name: string): void {
    const trunks = this.#o.store.trunks;
    const here = this.#trunkStack.localEndpoint('UDP');
    const existing = trunks.get(name);
    if (existing !== null && existing.host === here.address && existing.port === here.port && existing.username === null) return;
    this.#o.store.transaction(() => {
      if (existing !== null) trunks.remove(name);
      trunks.add({ name, host: here.address, port: here.port, transport: 'udp' });
    });
    this.#log.info({ trunk: name, host: here.address, port: here.port }, 'landline trunk written for the pbx');
  }

  /** No port in a call, ringing or off-hook. */
  get quiet(): boolean {
    for (const { port } of this.#fxs.values()) if (!port.idle) return false;
    for (const port of this.#fxo.values()) if (port.state !== 'idle') return false;
    return true;
  }

  #reportStatus(): void {
    if (this.#closed) return;
    const board = this.#o.board;
    const rows: Array<{ name: string; state: string; detail: string | null }> = [
      { name: 'board', state: board.link, detail: board.hello === null ? null : `firmware ${board.hello.firmware}, ${board.hello.ports.map(portName).join(' ')}${this.#relay ? ', POWER-FAIL RELAY ENGAGED (FXS 1 on the landline)' : ''}` },
    ];
    for (const [name, { port, client }] of this.#fxs) {
      const registration = client?.status();
      const state = port.identity === null ? 'unassigned' : (registration?.state ?? 'stopped');
      rows.push({ name, state, detail: `${port.detail()}${registration?.lastError ? `; ${registration.lastError}` : ''}` });
    }
    for (const [name, port] of this.#fxo) rows.push({ name, state: port.state, detail: port.detail() });
    try {
      this.#o.store.analog.report(rows);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'could not write the ports\' status');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [this.#clock, this.#poll, this.#report]) if (t !== null) clearInterval(t);
    for (const u of this.#unsubscribe) u();
    for (const { port, client } of this.#fxs.values()) {
      port.close();
      client?.stop();
    }
    for (const port of this.#fxo.values()) port.close();
    // The gateway going away leaves FXS 1 on the landline, as an unpowered box does.
    if (this.#fxs.has('fxs1') && this.#fxo.size > 0) this.#setRelay(true, 'the analog gateway stops');
    // Let the un-REGISTER and BYEs leave before the sockets close.
    await new Promise((r) => setTimeout(r, 100));
    await this.#stack.close();
    await this.#trunkStack.close();
  }
}
