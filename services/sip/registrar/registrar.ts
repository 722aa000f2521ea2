/**
 * The registrar (RFC 3261 §10.3). Processing order follows the RFC's steps; `location.ts` keeps
 * the bindings, `authenticator.ts` decides who is asking. Kamailio's lesson applied: every way a
 * REGISTER can fail is one `RegError` with its status in one table the compiler checks.
 *
 * Choices where the RFC leaves room (see docs/registrar.md):
 * - The Request-URI domain is not checked (step 1): the box is the registrar of every name it is
 *   reached by (IP, host name, mDNS).
 * - AOR = the user part of To; it must be the authenticated extension (step 4), else 403.
 * - Step 7, same Call-ID and a CSeq not above the stored one: the request is aborted, bindings
 *   unchanged, answered 400 "Invalid CSeq" (Kamailio's code for it).
 * - More than `maxContactsPerAor` contacts: 503 "Too Many Registered Contacts" (Kamailio).
 * - A Contact that is not a sip:/sips: URI: 400 (calls are routed to SIP URIs only).
 */
import type { Logger } from '../../log.js';
import { getHeader, type NameAddr, type Params, type RawHeader, type SipUri } from '../message.js';
import type { ServerTransaction } from '../types.js';
import { formatUri, parseUri } from '../uri.js';
import type { Authenticator } from '../auth/authenticator.js';
import { MemoryLocation, type Binding, type LocationStore } from './location.js';
import { TypedEmitter } from './events.js';

export type { Binding } from './location.js';

export interface RegistrarOptions {
  /** The location service (bindings in memory, written through to storage), injected. */
  location: LocationStore;
  authenticator: Authenticator;
  /** RFC 3261 §10.3 step 7 bounds, seconds. */
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /** Default 10. */
  maxContactsPerAor?: number;
  /** How often expired bindings are purged (default 5000 ms). */
  purgeIntervalMs?: number;
  logger: Logger;
  now?: () => number;
}

/** usrloc-style callbacks (Kamailio UL_CONTACT_*): MWI and cloud sync hang off these. */
export interface RegistrarEvents {
  'contact-added': [Binding];
  'contact-refreshed': [Binding];
  'contact-removed': [Binding];
  'contact-expired': [Binding];
  /** The keepalive changed the binding's `reachable`. */
  'contact-reachability': [Binding];
}

export interface RegistrationStatus {
  aor: string;
  contact: string;
  /** `address:port` the REGISTER came from (IPv6 in brackets). */
  source: string;
  transport: string;
  /** Seconds left, rounded down. */
  expiresIn: number;
  userAgent: string | null;
  reachable: boolean;
}

type RegError = 'forbidden' | 'star-with-expires' | 'star-with-contacts' | 'bad-contact' | 'too-brief' | 'stale-cseq' | 'too-many';

const REG_ERRORS: Record<RegError, { status: number; reason: string }> = {
  forbidden: { status: 403, reason: 'Forbidden' },
  'star-with-expires': { status: 400, reason: 'Contact * Requires Expires 0' },
  'star-with-contacts': { status: 400, reason: 'Contact * Must Be Alone' },
  'bad-contact': { status: 400, reason: 'Unsupported Contact URI' },
  'too-brief': { status: 423, reason: 'Interval Too Brief' },
  'stale-cseq': { status: 400, reason: 'Invalid CSeq' },
  'too-many': { status: 503, reason: 'Too Many Registered Contacts' },
};

interface Change {
  contact: SipUri;
  contactText: string;
  params: Params;
  expires: number;
}

export class Registrar {
  readonly #options: Required<Omit<RegistrarOptions, 'now'>> & { now: () => number };
  readonly #location: LocationStore;
  readonly #events = new TypedEmitter<RegistrarEvents>();
  readonly #logger: Logger;
  #purgeTimer: NodeJS.Timeout | null = null;

  constructor(options: RegistrarOptions) {
    if (!(options.minExpires > 0 && options.minExpires <= options.maxExpires)) {
      throw new TypeError('registrar: need 0 < minExpires <= maxExpires');
    }
    this.#options = {
      maxContactsPerAor: 10,
      purgeIntervalMs: 5000,
      now: Date.now,
      ...options,
    };
    this.#logger = options.logger;
    this.#location = options.location;
    this.#events.onListenerError = (error, event) => this.#logger.error({ err: error, event }, 'registrar listener threw');
  }

  /** Loads persisted bindings and starts the expiry timer. */
  start(): void {
    const loaded = this.#location.load(this.#options.now(), parseSipUri);
    this.#logger.info({ loaded }, 'registrar started');
    if (this.#purgeTimer === null) {
      this.#purgeTimer = setInterval(() => this.purgeExpired(), this.#options.purgeIntervalMs);
      this.#purgeTimer.unref();
    }
  }

  /** Stops the timer and writes pending changes. The store stays open (its owner closes it). */
  close(): void {
    if (this.#purgeTimer !== null) clearInterval(this.#purgeTimer);
    this.#purgeTimer = null;
    this.#location.flush();
  }

  on<K extends keyof RegistrarEvents>(event: K, listener: (...args: RegistrarEvents[K]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  off<K extends keyof RegistrarEvents>(event: K, listener: (...args: RegistrarEvents[K]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  /** The location store, read-only use (keepalive, tests). */
  get location(): LocationStore {
    return this.#location;
  }

  /** Handles one REGISTER server transaction end to end (always answers, unless the source is blocked). */
  handleRegister(txn: ServerTransaction): void {
    try {
      this.#handle(txn);
    } catch (error) {
      this.#logger.error({ err: error, callId: txn.request.callId }, 'REGISTER failed');
      txn.respond(500, { reason: 'Server Internal Error' });
    }
  }

  /** Current, unexpired bindings of an extension; the B2BUA forks to these. */
  lookup(extension: string): Binding[] {
    const now = this.#options.now();
    return this.#location
      .byAor(extension)
      .filter((binding) => binding.expiresAt > now)
      .sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.registeredAt - a.registeredAt);
  }

  /** True when some unexpired binding was registered from this IP (status, diagnostics). */
  hasBindingFrom(address: string): boolean {
    return this.#location.countFromAddress(address, this.#options.now()) > 0;
  }

  /** Marks a contact (un)reachable; fires 'contact-reachability' on a change. */
  setReachable(aor: string, contactText: string, reachable: boolean): void {
    const before = this.#location.get(aor, contactText);
    const after = this.#location.setReachable(aor, contactText, reachable);
    if (before !== undefined && after !== undefined && before.reachable !== after.reachable) {
      this.#logger.info({ extension: aor, contact: contactText, reachable }, 'contact reachability changed');
      this.#events.emit('contact-reachability', after);
    }
  }

  /** For `pbxctl status`. */
  snapshot(): RegistrationStatus[] {
    const now = this.#options.now();
    return this.#location
      .all()
      .filter((binding) => binding.expiresAt > now)
      .sort((a, b) => a.aor.localeCompare(b.aor) || a.registeredAt - b.registeredAt)
      .map((binding) => ({
        aor: binding.aor,
        contact: binding.contactText,
        source: `${binding.endpoint.address.includes(':') ? `[${binding.endpoint.address}]` : binding.endpoint.address}:${binding.endpoint.port}`,
        transport: binding.endpoint.transport,
        expiresIn: Math.max(0, Math.floor((binding.expiresAt - now) / 1000)),
        userAgent: binding.userAgent,
        reachable: binding.reachable,
      }));
  }

  /** Drops expired bindings now (the timer calls this). */
  purgeExpired(): number {
    const gone = this.#location.expire(this.#options.now());
    for (const binding of gone) {
      this.#logger.info({ extension: binding.aor, contact: binding.contactText }, 'registration expired');
      this.#events.emit('contact-expired', binding);
    }
    return gone.length;
  }

  #handle(txn: ServerTransaction): void {
    const request = txn.request;
    // Step 3: authenticate (answers 401 itself, or drops when the source is blocked).
    const auth = this.#options.authenticator.authenticate(txn, 'www');
    if (!auth.ok) return;
    const aor = auth.extension.number;
    // Steps 4–5: the AOR is the To user and only its owner may change it.
    const toUser = request.to.uri.kind === 'sip' ? request.to.uri.user : null;
    if (toUser === null || decodeUser(toUser) !== aor) {
      this.#reject(txn, 'forbidden');
      return;
    }
    const now = this.#options.now();

    // Step 6: Contact: * removes every binding, only with Expires: 0.
    if (request.contact === '*') {
      if (request.expires !== 0) {
        this.#reject(txn, 'star-with-expires');
        return;
      }
      for (const binding of this.#location.byAor(aor)) {
        // §10.3 step 6: same Call-ID with a CSeq not higher leaves the bindings alone.
        if (binding.callId === request.callId && request.cseq.seq <= binding.cseq) {
          this.#reject(txn, 'stale-cseq');
          return;
        }
      }
      for (const binding of this.#location.byAor(aor)) this.#removeBinding(binding);
      this.#ok(txn, aor, now);
      return;
    }

    // Step 7: validate every contact before changing anything (the request is atomic).
    const changes: Change[] = [];
    for (const nameAddr of request.contact) {
      if (nameAddr.uri.kind !== 'sip') {
        this.#reject(txn, 'bad-contact');
        return;
      }
      const expires = this.#expiresOf(nameAddr, request.expires);
      if (expires > 0 && expires < this.#options.minExpires) {
        this.#reject(txn, 'too-brief', [{ name: 'Min-Expires', value: String(this.#options.minExpires) }]);
        return;
      }
      const contactText = formatUri(nameAddr.uri);
      const existing = this.#location.get(aor, contactText);
      if (existing !== undefined && existing.callId === request.callId && request.cseq.seq <= existing.cseq) {
        this.#reject(txn, 'stale-cseq');
        return;
      }
      const params: Params = new Map(nameAddr.params);
      params.delete('expires');
      changes.push({ contact: nameAddr.uri, contactText, params, expires });
    }
    const remaining = new Set(this.#location.byAor(aor).filter((b) => b.expiresAt > now).map((b) => b.contactText));
    for (const change of changes) {
      if (change.expires === 0) remaining.delete(change.contactText);
      else remaining.add(change.contactText);
    }
    if (remaining.size > this.#options.maxContactsPerAor) {
      this.#reject(txn, 'too-many');
      return;
    }

    const userAgent = getHeader(request, 'User-Agent') ?? null;
    for (const change of changes) {
      if (change.expires === 0) {
        const binding = this.#location.get(aor, change.contactText);
        if (binding !== undefined) this.#removeBinding(binding);
        continue;
      }
      const { binding, created } = this.#location.put({
        aor,
        contact: change.contact,
        contactText: change.contactText,
        params: change.params,
        endpoint: txn.source,
        instanceId: change.params.get('+sip.instance') ?? null,
        callId: request.callId,
        cseq: request.cseq.seq,
        expiresAt: now + change.expires * 1000,
        q: parseQ(change.params.get('q')),
        userAgent,
      });
      if (created) {
        this.#logger.info({ extension: aor, contact: binding.contactText, source: txn.source.address, expires: change.expires }, 'contact registered');
        this.#events.emit('contact-added', binding);
      } else {
        this.#events.emit('contact-refreshed', binding);
      }
    }
    this.#ok(txn, aor, now);
  }

  /** Step 7: Contact `expires` param, else the Expires header, else the default; capped at max. */
  #expiresOf(contact: NameAddr, header: number | null): number {
    const param = contact.params.get('expires');
    let expires: number | null = null;
    if (param !== undefined && param !== null && /^\d{1,10}$/.test(param)) expires = Number(param);
    else if (header !== null && Number.isInteger(header) && header >= 0) expires = header;
    if (expires === null) expires = this.#options.defaultExpires;
    return Math.min(expires, this.#options.maxExpires);
  }

  #removeBinding(binding: Binding): void {
    this.#location.remove(binding.aor, binding.contactText);
    this.#logger.info({ extension: binding.aor, contact: binding.contactText }, 'contact removed');
    this.#events.emit('contact-removed', binding);
  }

  /** Step 8: 200 with every current binding and its remaining time, plus Date (§20.17). */
  #ok(txn: ServerTransaction, aor: string, now: number): void {
    const contact: NameAddr[] = this.lookup(aor).map((binding) => {
      const params: Params = new Map(binding.params);
      params.set('expires', String(Math.max(0, Math.round((binding.expiresAt - now) / 1000))));
      return { displayName: null, uri: binding.contact, params };
    });
    txn.respond(200, { contact, headers: [{ name: 'Date', value: new Date(now).toUTCString() }] });
  }

  #reject(txn: ServerTransaction, error: RegError, headers: RawHeader[] = []): void {
    const { status, reason } = REG_ERRORS[error];
    this.#logger.debug({ callId: txn.request.callId, source: txn.source.address, error }, 'REGISTER rejected');
    txn.respond(status, { reason, headers });
  }
}

function parseSipUri(text: string): SipUri | null {
  const uri = parseUri(text);
  return uri !== null && uri.kind === 'sip' ? uri : null;
}

function decodeUser(user: string): string {
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

function parseQ(value: string | null | undefined): number | null {
  if (value === undefined || value === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return null;
  return Number(value);
}

export { MemoryLocation };
