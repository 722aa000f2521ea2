/**
 * The location service (RFC 3261 §10.2 "location service", Kamailio `usrloc`): contact bindings
 * per address of record, in memory, written through to a `BindingStore` so they survive a
 * restart. SIP knows nothing here; the registrar (`registrar.ts`) decides, this only keeps.
 *
 * Writes are coalesced (Kamailio usrloc write-through / write-back, chosen per change): a new
 * binding, a removal, or a binding that moved (new source address, port or transport) is flushed
 * on the next turn of the event loop (`setImmediate`), together with everything else pending, in one
 * SQLite transaction. A plain refresh (same contact from the same place, new expiry / CSeq) is
 * written back within `refreshWriteDelayMs` (default 2 s): losing it in a crash only leaves the
 * previous expiry on disk, which the phone's next refresh fixes. `flush()` forces it (close()).
 */
import type { Logger } from '../../log.js';
import type { Params, SipUri } from '../message.js';
import type { BindingStore, StoredBinding } from '../stores.js';
import type { Endpoint, TransportKind } from '../types.js';

/** One contact bound to an extension, as the B2BUA and status see it. */
export interface Binding {
  /** The extension number (address of record). */
  readonly aor: string;
  /** The Contact URI as registered: the Request-URI of requests to this phone. */
  readonly contact: SipUri;
  /** `contact` formatted; the binding's key within the AOR. */
  readonly contactText: string;
  /** Contact header parameters the phone sent (without `expires`), echoed in the 200 OK. */
  readonly params: Params;
  /** Where to send requests for this contact: where the REGISTER came from (RFC 3581). */
  readonly endpoint: Endpoint;
  readonly instanceId: string | null;
  readonly callId: string;
  readonly cseq: number;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly q: number | null;
  readonly userAgent: string | null;
  /** Epoch ms of the first registration of this contact. */
  readonly registeredAt: number;
  /** False after the OPTIONS keepalive failed repeatedly; the binding is kept (Asterisk qualify). */
  readonly reachable: boolean;
}

export type BindingInput = Omit<Binding, 'reachable' | 'registeredAt'>;

export interface LocationStore {
  get(aor: string, contactText: string): Binding | undefined;
  byAor(aor: string): Binding[];
  all(): Binding[];
  put(input: BindingInput): { binding: Binding; created: boolean };
  remove(aor: string, contactText: string): Binding | undefined;
  setReachable(aor: string, contactText: string, reachable: boolean): Binding | undefined;
  /** Removes bindings with expiresAt <= nowMs and returns them. */
  expire(nowMs: number): Binding[];
  /** Number of unexpired bindings whose REGISTER came from this IP address. */
  countFromAddress(address: string, nowMs: number): number;
  flush(): void;
  /** Loads persisted bindings at start; returns how many. */
  load(nowMs: number, parseContact: (text: string) => SipUri | null): number;
}

export interface LocationOptions {
  store: BindingStore;
  logger: Logger;
  /** How long a pure refresh may wait before it is persisted (default 2000 ms; 0 = at once). */
  refreshWriteDelayMs?: number;
}

const TRANSPORTS: ReadonlySet<string> = new Set<TransportKind>(['UDP', 'TCP', 'TLS', 'WS', 'WSS']);

export class MemoryLocation implements LocationStore {
  readonly #byAor = new Map<string, Map<string, Binding>>();
  /** Pending writes: key → binding to upsert, or null to delete. */
  readonly #dirty = new Map<string, { aor: string; contactText: string; binding: Binding | null }>();
  #flushScheduled: NodeJS.Immediate | null = null;
  #writeBackTimer: NodeJS.Timeout | null = null;
  readonly #store: LocationOptions['store'];
  readonly #logger: Logger;
  readonly #refreshWriteDelayMs: number;

  constructor(options: LocationOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#refreshWriteDelayMs = options.refreshWriteDelayMs ?? 2000;
  }

  /**
   * Loads the unexpired bindings persisted by a previous run; purges the rest. `parseContact`
   * turns a persisted contact back into a URI (null when it no longer parses).
   */
  load(nowMs: number, parseContact: (text: string) => SipUri | null): number {
    this.#store.registrations.purgeExpired(nowMs);
    let loaded = 0;
    for (const row of this.#store.registrations.all()) {
      const contact = parseContact(row.contactUri);
      if (contact === null || !TRANSPORTS.has(row.transport)) {
        this.#logger.warn({ aor: row.aor, contact: row.contactUri }, 'dropping a persisted binding that no longer parses');
        this.#store.registrations.remove(row.aor, row.contactUri);
        continue;
      }
      const params: Params = new Map();
      if (row.q !== null) params.set('q', String(row.q));
      if (row.instanceId !== null) params.set('+sip.instance', row.instanceId);
      this.#insert({
        aor: row.aor,
        contact,
        contactText: row.contactUri,
        params,
        // The connection a stream REGISTER came on died with the old process.
        endpoint: { transport: row.transport, address: row.sourceAddress, port: row.sourcePort, connectionId: null },
        instanceId: row.instanceId,
        callId: row.callId,
        cseq: row.cseq,
        expiresAt: row.expiresAt,
        q: row.q,
        userAgent: row.userAgent,
        registeredAt: row.registeredAt,
        reachable: true,
      });
      loaded++;
    }
    return loaded;
  }

  get(aor: string, contactText: string): Binding | undefined {
    return this.#byAor.get(aor)?.get(contactText);
  }

  byAor(aor: string): Binding[] {
    const map = this.#byAor.get(aor);
    return map === undefined ? [] : [...map.values()];
  }

  all(): Binding[] {
    const out: Binding[] = [];
    for (const map of this.#byAor.values()) out.push(...map.values());
    return out;
  }

  put(input: BindingInput): { binding: Binding; created: boolean } {
    const previous = this.get(input.aor, input.contactText);
    const binding: Binding = {
      ...input,
      registeredAt: previous?.registeredAt ?? Date.now(),
      reachable: previous?.reachable ?? true,
    };
    this.#insert(binding);
    const moved =
      previous === undefined ||
      previous.endpoint.address !== binding.endpoint.address ||
      previous.endpoint.port !== binding.endpoint.port ||
      previous.endpoint.transport !== binding.endpoint.transport;
    this.#markDirty(binding.aor, binding.contactText, binding, moved);
    return { binding, created: previous === undefined };
  }

  remove(aor: string, contactText: string): Binding | undefined {
    const map = this.#byAor.get(aor);
    const binding = map?.get(contactText);
    if (map === undefined || binding === undefined) return undefined;
    map.delete(contactText);
    if (map.size === 0) this.#byAor.delete(aor);
    this.#markDirty(aor, contactText, null, true);
    return binding;
  }

  setReachable(aor: string, contactText: string, reachable: boolean): Binding | undefined {
    const binding = this.get(aor, contactText);
    if (binding === undefined) return undefined;
    if (binding.reachable === reachable) return binding;
    const next = { ...binding, reachable };
    this.#insert(next);
    return next;
  }

  expire(nowMs: number): Binding[] {
    const gone: Binding[] = [];
    for (const [aor, map] of this.#byAor) {
      for (const [key, binding] of map) {
        if (binding.expiresAt > nowMs) continue;
        map.delete(key);
        gone.push(binding);
        // The repository purges by time itself; no per-row delete needed.
        this.#dirty.delete(`${aor}\n${key}`);
      }
      if (map.size === 0) this.#byAor.delete(aor);
    }
    if (gone.length > 0) this.#store.registrations.purgeExpired(nowMs);
    return gone;
  }

  countFromAddress(address: string, nowMs: number): number {
    let count = 0;
    for (const map of this.#byAor.values()) {
      for (const binding of map.values()) {
        if (binding.endpoint.address === address && binding.expiresAt > nowMs) count++;
      }
    }
    return count;
  }

  flush(): void {
    if (this.#flushScheduled !== null) {
      clearImmediate(this.#flushScheduled);
      this.#flushScheduled = null;
    }
    if (this.#writeBackTimer !== null) {
      clearTimeout(this.#writeBackTimer);
      this.#writeBackTimer = null;
    }
    if (this.#dirty.size === 0) return;
    const pending = [...this.#dirty.values()];
    this.#dirty.clear();
    try {
      this.#store.transaction(() => {
        for (const change of pending) {
          // One bad row (e.g. its extension was deleted meanwhile) must not lose the others:
          // SQLite undoes only the failing statement.
          try {
            if (change.binding === null) this.#store.registrations.remove(change.aor, change.contactText);
            else this.#store.registrations.upsert(toRegistration(change.binding));
          } catch (error) {
            this.#logger.warn({ err: error, extension: change.aor, contact: change.contactText }, 'binding not persisted');
          }
        }
      });
    } catch (error) {
      // Memory stays authoritative; the phone's next refresh writes it again.
      this.#logger.error({ err: error, count: pending.length }, 'could not persist registrations');
    }
  }

  #insert(binding: Binding): void {
    let map = this.#byAor.get(binding.aor);
    if (map === undefined) {
      map = new Map();
      this.#byAor.set(binding.aor, map);
    }
    map.set(binding.contactText, binding);
  }

  #markDirty(aor: string, contactText: string, binding: Binding | null, urgent: boolean): void {
    this.#dirty.set(`${aor}\n${contactText}`, { aor, contactText, binding });
    if (urgent || this.#refreshWriteDelayMs <= 0) {
      if (this.#flushScheduled === null) this.#flushScheduled = setImmediate(() => this.flush());
    } else if (this.#writeBackTimer === null && this.#flushScheduled === null) {
      this.#writeBackTimer = setTimeout(() => this.flush(), this.#refreshWriteDelayMs);
      this.#writeBackTimer.unref();
    }
  }
}

function toRegistration(binding: Binding): StoredBinding {
  return {
    aor: binding.aor,
    contactUri: binding.contactText,
    instanceId: binding.instanceId,
    callId: binding.callId,
    cseq: binding.cseq,
    expiresAt: binding.expiresAt,
    q: binding.q,
    transport: binding.endpoint.transport,
    sourceAddress: binding.endpoint.address,
    sourcePort: binding.endpoint.port,
    userAgent: binding.userAgent,
    registeredAt: binding.registeredAt,
  };
}
