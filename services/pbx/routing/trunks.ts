/**
 * The carrier trunks as the running pbx sees them: read from SQLite (and again whenever `pbxctl
 * trunk add|remove` changes them, checked every second), host names resolved, one registration
 * client per registering trunk. It answers the two questions calls ask: "is this request from a
 * trunk?" (by source address) and "which trunk takes an outside call now?".
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../log.js';
import type { ClientCredentials } from '../../sip/auth/digest-client.js';
import type { LocalAddressing } from '../../sip/b2bua/types.js';
import type { SipRequest, SipUri } from '../../sip/message.js';
import { newBranch, newCallId, newRequest, newTag } from '../../sip/build.js';
import type { Endpoint, TransactionLayer, TransportKind } from '../../sip/types.js';
import type { Trunk, TrunkRepository } from '../../store/types.js';
import { RegistrationClient, type RegistrationState, type RegistrationStatus } from './register-client.js';

/** One trunk as `pbxctl status` shows it. */
export interface TrunkStatus {
  name: string;
  kind: 'registration' | 'ip';
  host: string;
  port: number;
  transport: string;
  /** IP peers are 'ip-peer' once their host resolved; registering trunks show their registration state. */
  state: RegistrationState | 'ip-peer' | 'unresolved' | 'unreachable';
  lastError: string | null;
  expiresAt: number | null;
  activeCalls: number;
  maxCalls: number | null;
}

/** Where an outside call goes through one trunk. */
export interface TrunkRoute {
  name: string;
  destination: Endpoint;
  /** Host and port for the Request-URI (`sip:+E164@host:port`). */
  host: string;
  port: number | null;
  transport: TransportKind;
  credentials?: ClientCredentials;
}

export type TrunkPick = { kind: 'trunk'; route: TrunkRoute } | { kind: 'none'; reason: 'no trunk' | 'not registered' | 'all busy' };

/**
 * Landline trunks are the analog gateway's FXO ports (`fxo1` ...), written to the store by the
 * `analog` process: tried after every carrier trunk (landline failover, docs/analog.md).
 */
export function isLandline(trunk: string): boolean {
  return /^fxo[1-9][0-9]?$/.test(trunk);
}

/** How long a carrier that failed a call (timeout, 5xx, 403) is passed over for the landline. */
export const FAILOVER_HOLD_MS = 60_000;

export interface TrunkDirectory {
  /** The trunk a request from `source` came from (IP peer, or the registrar of a registering trunk). */
  identify(source: Endpoint): string | null;
  /**
   * The first trunk that can take one more call now: carriers by name, then landlines; a carrier that
   * just failed a call is passed over while a landline can take it.
   */
  pick(): TrunkPick;
  /** A landline that can take the call when the carrier `after` fails it (null: none, or `after` is one). */
  landlineAfter?(after: string): TrunkRoute | null;
  /** A call through `trunk` failed as a dead carrier does: landlines take outside calls for a while. */
  carrierFailed?(trunk: string, status: number): void;
  /** The contact of a trunk for a call to `user` there. */
  uriFor(route: TrunkRoute, user: string): SipUri;
}

export interface TrunkManagerOptions {
  trunks: Pick<TrunkRepository, 'list'>;
  transactions: TransactionLayer;
  addressing: LocalAddressing;
  logger: Logger;
  /** Calls up now through `trunk` (for the optional per-trunk limit). */
  activeCalls(trunk: string): number;
  /** How often the store is checked for trunk changes (default 1000 ms). */
  pollMs?: number;
  /** How long a carrier that failed a call is passed over for the landline (default FAILOVER_HOLD_MS). */
  failoverHoldMs?: number;
  /**
   * OPTIONS to every IP-peer trunk this often (Asterisk's qualify): one unanswered for qualifyTimeoutMs
   * marks it unreachable, and outside calls skip it (landline failover) until it answers again. 0: never.
   */
  qualifyMs?: number;
  qualifyTimeoutMs?: number;
  registration?: { expiresSeconds?: number; retryMinMs?: number; retryMaxMs?: number };
  /** Told when a carrier trunk stops carrying calls (outside calls go to the landline) and when it is back. */
  onFailover?(event: FailoverEvent): void;
}

/** A carrier trunk left (`down`) or rejoined (`up`) the outside-call routes. */
export interface FailoverEvent {
  trunk: string;
  state: 'down' | 'up';
  /** What happened: no answer to OPTIONS, or the SIP status of the call it failed. */
  reason: string;
}

interface Live {
  trunk: Trunk;
  /** Resolved numeric address, null until resolved (or when resolution failed). */
  address: string | null;
  resolveError: string | null;
  resolving: boolean;
  client: RegistrationClient | null;
  /** The last OPTIONS went unanswered (qualify). */
  unreachable: boolean;
  qualifying: boolean;
}

const TRANSPORT: Record<Trunk['transport'], TransportKind> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

function defaultPort(trunk: Trunk): number {
  return trunk.port ?? (trunk.transport === 'tls' ? 5061 : 5060);
}

export class TrunkManager implements TrunkDirectory {
  readonly #o: TrunkManagerOptions;
  readonly #live = new Map<string, Live>();
  /** Carrier → until when its calls go to the landline first (it failed a call). */
  readonly #failedUntil = new Map<string, { until: number; status: number }>();
  #poll: NodeJS.Timeout | null = null;
  #seen = '';
  #closed = false;

  constructor(options: TrunkManagerOptions) {
    this.#o = options;
  }

  /** Loads the trunks (awaiting name resolution) and starts watching the store. */
  async start(): Promise<void> {
    await this.#sync();
    this.#poll = setInterval(() => {
      this.#sync().catch((error: unknown) => this.#o.logger.error({ err: String(error) }, 'trunk reload failed'));
    }, this.#o.pollMs ?? 1000);
    this.#poll.unref();
    const qualifyMs = this.#o.qualifyMs ?? 10_000;
    if (qualifyMs > 0) {
      this.#qualify = setInterval(() => {
        for (const live of this.#live.values()) this.#qualifyOne(live);
      }, qualifyMs);
      this.#qualify.unref();
    }
  }

  #qualify: NodeJS.Timeout | null = null;

  /** RFC 3261 §11 OPTIONS as a keepalive toward the trunk; any answer means it is there. */
  #qualifyOne(live: Live): void {
    // A registering trunk's liveness is its registration (refreshed, retried): only IP peers are qualified.
    if (live.address === null || live.qualifying || this.#closed || live.trunk.username !== null) return;
    const { trunk } = live;
    const transport = TRANSPORT[trunk.transport];
    const via = this.#o.addressing.via(transport);
    const uri: SipUri = { kind: 'sip', secure: false, user: null, password: null, host: trunk.host, port: trunk.port, params: transport === 'UDP' ? new Map() : new Map([['transport', transport.toLowerCase()]]), headers: new Map() };
    const from = this.#o.addressing.contact(transport, 'qualify');
    const request: SipRequest = newRequest({
      method: 'OPTIONS',
      uri,
      via: [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from: { displayName: null, uri: from.uri, params: new Map([['tag', newTag()]]) },
      to: { displayName: null, uri, params: new Map() },
      callId: newCallId(via.host),
      cseq: { seq: 1, method: 'OPTIONS' },
    });
    live.qualifying = true;
    let answered = false;
    const timeout = setTimeout(() => {
      live.qualifying = false;
      if (answered || live.unreachable) return;
      live.unreachable = true;
      this.#o.logger.warn({ trunk: trunk.name }, isLandline(trunk.name) ? 'landline gateway does not answer' : 'carrier trunk unreachable: outside calls go out on the landline');
      if (!isLandline(trunk.name)) this.#tell({ trunk: trunk.name, state: 'down', reason: 'no answer to OPTIONS' });
    }, this.#o.qualifyTimeoutMs ?? 2000);
    timeout.unref();
    const reachable = (): void => {
      answered = true;
      live.qualifying = false;
      clearTimeout(timeout);
      if (!live.unreachable) return;
      live.unreachable = false;
      this.#o.logger.info({ trunk: trunk.name }, 'trunk reachable again: outside calls use it again');
      if (!isLandline(trunk.name)) this.#tell({ trunk: trunk.name, state: 'up', reason: 'answers OPTIONS again' });
    };
    try {
      this.#o.transactions.sendRequest(request, { transport, address: live.address, port: defaultPort(trunk), connectionId: null }, { onFinal: reachable, onTimeout: () => undefined });
    } catch {
      // A transport error is the timeout's business.
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#qualify !== null) clearInterval(this.#qualify);
    for (const live of this.#live.values()) live.client?.stop();
    this.#live.clear();
  }

  identify(source: Endpoint): string | null {
    for (const live of this.#live.values()) {
      if (live.address !== null && sameAddress(live.address, source.address)) return live.trunk.name;
    }
    return null;
  }

  pick(): TrunkPick {
    const now = Date.now();
    const ordered = [...this.#live.values()].sort((a, b) => Number(isLandline(a.trunk.name)) - Number(isLandline(b.trunk.name)) || a.trunk.name.localeCompare(b.trunk.name));
    const healthy = ordered.filter((l) => !l.unreachable && (this.#failedUntil.get(l.trunk.name)?.until ?? 0) <= now);
    const first = this.#pickFrom(healthy);
    // Every trunk failed lately: try them anyway rather than refuse the call.
    return first.kind === 'trunk' || healthy.length === ordered.length ? first : this.#pickFrom(ordered);
  }

  landlineAfter(after: string): TrunkRoute | null {
    if (isLandline(after)) return null;
    const landlines = [...this.#live.values()].filter((l) => isLandline(l.trunk.name) && !l.unreachable).sort((a, b) => a.trunk.name.localeCompare(b.trunk.name));
    const picked = this.#pickFrom(landlines);
    return picked.kind === 'trunk' ? picked.route : null;
  }

  carrierFailed(trunk: string, status: number): void {
    if (isLandline(trunk)) return;
    const was = this.#failedUntil.get(trunk);
    const hold = this.#o.failoverHoldMs ?? FAILOVER_HOLD_MS;
    this.#failedUntil.set(trunk, { until: Date.now() + hold, status });
    if (was === undefined || was.until < Date.now()) {
      this.#o.logger.warn({ trunk, status, holdSeconds: hold / 1000 }, 'carrier trunk failed a call: outside calls go out on the landline first');
      this.#tell({ trunk, state: 'down', reason: `failed a call with ${status}` });
    }
  }

  #tell(event: FailoverEvent): void {
    try {
      this.#o.onFailover?.(event);
    } catch (error) {
      this.#o.logger.error({ err: error, trunk: event.trunk }, 'failover listener threw');
    }
  }

  #pickFrom(candidates: Live[]): TrunkPick {
    let reason: 'no trunk' | 'not registered' | 'all busy' = 'no trunk';
    for (const live of candidates) {
      if (live.address === null) continue;
      if (live.client !== null && live.client.status().state !== 'registered') {
        if (reason === 'no trunk') reason = 'not registered';
        continue;
      }
      const { trunk } = live;
      if (trunk.maxCalls !== null && this.#o.activeCalls(trunk.name) >= trunk.maxCalls) {
        reason = 'all busy';
        continue;
      }
      const transport = TRANSPORT[trunk.transport];
      return {
        kind: 'trunk',
        route: {
          name: trunk.name,
          destination: { transport, address: live.address, port: defaultPort(trunk), connectionId: null },
          host: trunk.host,
          port: trunk.port,
          transport,
          ...(trunk.username !== null && trunk.secret !== null && { credentials: { username: trunk.username, password: trunk.secret } }),
        },
      };
    }
    return { kind: 'none', reason };
  }

  uriFor(route: TrunkRoute, user: string): SipUri {
    const params = new Map<string, string | null>();
    if (route.transport !== 'UDP') params.set('transport', route.transport.toLowerCase());
    return { kind: 'sip', secure: false, user, password: null, host: route.host.toLowerCase(), port: route.port, params, headers: new Map() };
  }

  status(): TrunkStatus[] {
    return [...this.#live.values()].map(({ trunk, address, resolveError, client, unreachable }) => {
      const registration: RegistrationStatus | null = client?.status() ?? null;
      return {
        name: trunk.name,
        kind: trunk.username === null ? 'ip' : 'registration',
        host: trunk.host,
        port: defaultPort(trunk),
        transport: trunk.transport,
        state: address === null ? 'unresolved' : unreachable ? 'unreachable' : (registration?.state ?? 'ip-peer'),
        lastError: resolveError ?? registration?.lastError ?? this.#failoverNote(trunk.name),
        expiresAt: registration?.expiresAt ?? null,
        activeCalls: this.#o.activeCalls(trunk.name),
        maxCalls: trunk.maxCalls,
      };
    });
  }

  #failoverNote(trunk: string): string | null {
    const failed = this.#failedUntil.get(trunk);
    if (failed === undefined || failed.until <= Date.now()) return null;
    return `failed a call (${failed.status}): landline first for ${Math.ceil((failed.until - Date.now()) / 1000)} s`;
  }

  /** Applies the store's trunks: new ones start, removed or changed ones stop (and restart). */
  async #sync(): Promise<void> {
    const trunks = this.#o.trunks.list();
    const fingerprint = JSON.stringify(trunks);
    const unresolved = [...this.#live.values()].some((l) => l.address === null && !l.resolving);
    if ((fingerprint === this.#seen && !unresolved) || this.#closed) return;
    this.#seen = fingerprint;
    const wanted = new Map(trunks.map((t) => [t.name, t]));
    for (const [name, live] of this.#live) {
      const next = wanted.get(name);
      if (next === undefined || next.updatedAt !== live.trunk.updatedAt || JSON.stringify(next) !== JSON.stringify(live.trunk)) {
        live.client?.stop();
        this.#live.delete(name);
        this.#o.logger.info({ trunk: name }, next === undefined ? 'trunk removed' : 'trunk changed');
      }
    }
    for (const trunk of trunks) {
      if (!this.#live.has(trunk.name)) this.#live.set(trunk.name, { trunk, address: null, resolveError: null, resolving: false, client: null, unreachable: false, qualifying: false });
    }
    const pending = [...this.#live.values()].filter((l) => l.address === null && !l.resolving);
    await Promise.all(pending.map((live) => this.#bringUp(live)));
  }

  async #bringUp(live: Live): Promise<void> {
    const { trunk } = live;
    const host = trunk.host.replace(/^\[|\]$/g, '');
    live.resolving = true;
    try {
      live.address = isIP(host) !== 0 ? host : (await lookup(host)).address;
      live.resolveError = null;
    } catch (error) {
      // The next sync (every pollMs) tries again; the trunk shows 'unresolved' meanwhile.
      if (live.resolveError === null) this.#o.logger.warn({ trunk: trunk.name, err: (error as Error).message }, 'trunk host does not resolve');
      live.resolveError = `cannot resolve ${trunk.host}: ${(error as Error).message}`;
      return;
    } finally {
      live.resolving = false;
    }
    if (this.#closed || this.#live.get(trunk.name) !== live) return;
    this.#o.logger.info({ trunk: trunk.name, address: live.address, kind: trunk.username === null ? 'ip' : 'registration' }, 'trunk up');
    if (trunk.username === null || trunk.secret === null) return;
    live.client = new RegistrationClient({
      trunk: trunk.name,
      host: trunk.host,
      port: trunk.port,
      destination: { transport: TRANSPORT[trunk.transport], address: live.address, port: defaultPort(trunk), connectionId: null },
      credentials: { username: trunk.username, password: trunk.secret },
      transactions: this.#o.transactions,
      addressing: this.#o.addressing,
      logger: this.#o.logger,
      ...this.#o.registration,
    });
    live.client.start();
  }
}

function sameAddress(a: string, b: string): boolean {
  const strip = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x).toLowerCase();
  return strip(a) === strip(b);
}
