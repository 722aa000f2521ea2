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
import type { SipUri } from '../../sip/message.js';
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
  state: RegistrationState | 'ip-peer' | 'unresolved';
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

export interface TrunkDirectory {
  /** The trunk a request from `source` came from (IP peer, or the registrar of a registering trunk). */
  identify(source: Endpoint): string | null;
  /** The first trunk (by name) that can take one more call now. */
  pick(): TrunkPick;
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
  registration?: { expiresSeconds?: number; retryMinMs?: number; retryMaxMs?: number };
}

interface Live {
  trunk: Trunk;
  /** Resolved numeric address, null until resolved (or when resolution failed). */
  address: string | null;
  resolveError: string | null;
  resolving: boolean;
  client: RegistrationClient | null;
}

const TRANSPORT: Record<Trunk['transport'], TransportKind> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

function defaultPort(trunk: Trunk): number {
  return trunk.port ?? (trunk.transport === 'tls' ? 5061 : 5060);
}

export class TrunkManager implements TrunkDirectory {
  readonly #o: TrunkManagerOptions;
  readonly #live = new Map<string, Live>();
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
  }

  close(): void {
    this.#closed = true;
    if (this.#poll !== null) clearInterval(this.#poll);
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
    let reason: 'no trunk' | 'not registered' | 'all busy' = 'no trunk';
    for (const live of this.#live.values()) {
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
    return [...this.#live.values()].map(({ trunk, address, resolveError, client }) => {
      const registration: RegistrationStatus | null = client?.status() ?? null;
      return {
        name: trunk.name,
        kind: trunk.username === null ? 'ip' : 'registration',
        host: trunk.host,
        port: defaultPort(trunk),
        transport: trunk.transport,
        state: address === null ? 'unresolved' : (registration?.state ?? 'ip-peer'),
        lastError: resolveError ?? registration?.lastError ?? null,
        expiresAt: registration?.expiresAt ?? null,
        activeCalls: this.#o.activeCalls(trunk.name),
        maxCalls: trunk.maxCalls,
      };
    });
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
      if (!this.#live.has(trunk.name)) this.#live.set(trunk.name, { trunk, address: null, resolveError: null, resolving: false, client: null });
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
