/**
 * A small, generic SIP event notifier (RFC 6665): SUBSCRIBE creates or refreshes a subscription
 * dialog, every subscription gets a NOTIFY with the package's current state at once and whenever
 * the owner of the state calls `notify(package, resource)`. Packages (RFC 3842 message-summary
 * today) say who may subscribe to what and what the body is; this module knows no package.
 *
 * States of a subscription (§4.1.2, §4.2.1), one per dialog:
 *   active      after a 2xx to SUBSCRIBE; NOTIFY on every change and every refresh
 *   terminated  Expires: 0, expiry, or the subscriber answered a NOTIFY with 481/4xx or not at
 *               all (§4.2.2): a last NOTIFY (terminated;reason=timeout) where it makes sense, then gone
 * Subscriptions live in memory: after a restart a phone's refresh gets 481 and it subscribes
 * again (§4.1.2.2), as with Asterisk and Kamailio's presence module without a database.
 *
 * Also sends out-of-dialog ("unsolicited") NOTIFYs to phones that do not subscribe, the way
 * Asterisk's `unsolicited_mwi` and Yealink/Polycom expect for message waiting.
 */
import type { Logger } from '../../log.js';
import type { LocalAddressing } from '../b2bua/types.js';
import { newBranch, newCallId, newRequest, newTag } from '../build.js';
import { uasDialogFor, type Dialog } from '../dialog.js';
import { getHeader, tagOf, type NameAddr, type RawHeader, type SipRequest, type SipUri, type Uri } from '../message.js';
import type { Endpoint, ServerTransaction, TransactionLayer } from '../types.js';

export interface EventPackage {
  /** Event header token (`message-summary`). */
  readonly name: string;
  /** Content-Type of the NOTIFY body (`application/simple-message-summary`). */
  readonly contentType: string;
  /** May `subscriber` (an authenticated extension) watch `resource` (the Request-URI user)? */
  authorize(subscriber: string, resource: string): boolean;
  /** The state of `resource` now, as the NOTIFY body. */
  body(resource: string): Buffer;
}

export interface Subscription {
  readonly id: string;
  readonly event: string;
  readonly resource: string;
  readonly subscriber: string;
  /** Where NOTIFYs go (the SUBSCRIBE's source) and the subscriber's Contact. */
  readonly destination: Endpoint;
  readonly contact: Uri;
  expiresAt: number;
}

export interface EventServerOptions {
  transactions: Pick<TransactionLayer, 'sendRequest'>;
  addressing: LocalAddressing;
  /** Host of our From/To URIs in unsolicited NOTIFYs. */
  realm: string;
  logger: Logger;
  /** §4.1.1: 423 below this (default 60 s); longer requests are shortened to maxExpires (default 3600 s). */
  minExpires?: number;
  maxExpires?: number;
  /** When SUBSCRIBE has no Expires (default 3600 s, RFC 3842 §4 suggests an hour). */
  defaultExpires?: number;
  /** Subscriptions at once, all packages (default 10 000): more get 503 (memory is bounded). */
  maxSubscriptions?: number;
  now?: () => number;
}

interface Entry extends Subscription {
  dialog: Dialog;
  /** An `id` parameter of the Event header, echoed in every NOTIFY (§8.2.1). */
  eventId: string | null;
  timer: NodeJS.Timeout | null;
}

/** 4xx/6xx answers to NOTIFY after which the subscription is over (§4.2.2). */
const FATAL_NOTIFY_STATUS = new Set([404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604]);

export class EventServer {
  readonly #options: EventServerOptions;
  readonly #packages = new Map<string, EventPackage>();
  readonly #subscriptions = new Map<string, Entry>();
  readonly #log: Logger;
  #closed = false;

  constructor(options: EventServerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ module: 'events' });
  }

  register(pkg: EventPackage): void {
    this.#packages.set(pkg.name, pkg);
  }

  get packages(): string[] {
    return [...this.#packages.keys()];
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /**
   * A SUBSCRIBE, out of dialog or inside one of ours (a refresh or an unsubscribe, recognised by its
   * dialog identifiers and its source address). `authenticate` is asked only for a new subscription
   * whose event and expiry are acceptable: the subscriber's extension, or null when it answered
   * the request itself (a challenge).
   */
  handleSubscribe(txn: ServerTransaction, authenticate: () => string | null): void {
    const request = txn.request;
    const event = parseEvent(getHeader(request, 'event'));
    const allowEvents: RawHeader = { name: 'Allow-Events', value: this.packages.join(', ') };
    const pkg = event === null ? undefined : this.#packages.get(event.name);
    if (event === null || pkg === undefined) {
      txn.respond(489, { headers: [allowEvents] });
      return;
    }
    const minExpires = this.#options.minExpires ?? 60;
    let expires = request.expires ?? this.#options.defaultExpires ?? 3600;
    if (expires > 0 && expires < minExpires) {
      txn.respond(423, { headers: [{ name: 'Min-Expires', value: String(minExpires) }] });
      return;
    }
    expires = Math.min(expires, this.#options.maxExpires ?? 3600);

    const toTag = tagOf(request.to);
    if (toTag !== null) {
      this.#refresh(txn, event, expires, toTag);
      return;
    }
    const subscriber = authenticate();
    if (subscriber === null) return;
    const resource = resourceOf(request.uri);
    if (resource === null || !pkg.authorize(subscriber, resource)) {
      this.#log.info({ subscriber, resource, event: event.name }, 'SUBSCRIBE refused: not this subscriber\'s resource');
      txn.respond(403);
      return;
    }
    if (expires === 0) {
      // A fetch (§4.4.3): one NOTIFY with the state, no lasting subscription.
      const entry = this.#create(txn, pkg, event, resource, subscriber, 0);
      txn.respond(200, { toTag: entry.dialog.localTag, contact: [entry.dialog.contact], expires: 0 });
      this.#notify(entry, 'terminated;reason=timeout');
      return;
    }
    if (this.#subscriptions.size >= (this.#options.maxSubscriptions ?? 10_000)) {
      txn.respond(503, { headers: [{ name: 'Retry-After', value: '60' }] });
      return;
    }
    const entry = this.#create(txn, pkg, event, resource, subscriber, expires);
    this.#subscriptions.set(entry.id, entry);
    this.#arm(entry, expires);
    txn.respond(200, { toTag: entry.dialog.localTag, contact: [entry.dialog.contact], expires });
    this.#log.info({ subscriber, resource, event: event.name, expires, subscription: entry.id }, 'subscription created');
    this.#notify(entry, `active;expires=${expires}`);
  }

  #create(txn: ServerTransaction, pkg: EventPackage, event: { name: string; id: string | null }, resource: string, subscriber: string, expires: number): Entry {
    const request = txn.request;
    const dialog = uasDialogFor(request, txn.source, this.#options.addressing.contact(txn.source.transport, resource));
    return {
      id: `${request.callId};${dialog.localTag}`,
      event: pkg.name,
      eventId: event.id,
      resource,
      subscriber,
      destination: txn.source,
      contact: dialog.remoteTarget,
      expiresAt: this.#now() + expires * 1000,
      dialog,
      timer: null,
    };
  }

  #refresh(txn: ServerTransaction, event: { name: string; id: string | null }, expires: number, toTag: string): void {
    const request = txn.request;
    const entry = this.#subscriptions.get(`${request.callId};${toTag}`);
    // Not ours (any more): §4.1.2.2, the subscriber creates a new subscription.
    if (entry === undefined || entry.event !== event.name || entry.eventId !== event.id || entry.dialog.remoteTag !== tagOf(request.from)) {
      txn.respond(481);
      return;
    }
    if (entry.destination.address !== txn.source.address) {
      txn.respond(403);
      return;
    }
    if (!entry.dialog.acceptRemoteSequence(request)) {
      txn.respond(500, { headers: [{ name: 'Retry-After', value: '1' }] });
      return;
    }
    entry.dialog.refreshTarget(request);
    entry.dialog.destination = txn.source;
    txn.respond(200, { contact: [entry.dialog.contact], expires });
    if (expires === 0) {
      this.#log.info({ subscription: entry.id, resource: entry.resource }, 'unsubscribed');
      this.#end(entry, 'terminated;reason=timeout');
      return;
    }
    entry.expiresAt = this.#now() + expires * 1000;
    this.#arm(entry, expires);
    // §4.2.1.1: every refresh is followed by a NOTIFY with the current state.
    this.#notify(entry, `active;expires=${expires}`);
  }

  #arm(entry: Entry, expires: number): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      this.#log.info({ subscription: entry.id, resource: entry.resource }, 'subscription expired');
      this.#end(entry, 'terminated;reason=timeout');
    }, expires * 1000);
    entry.timer.unref();
  }

  #end(entry: Entry, state: string | null): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    this.#subscriptions.delete(entry.id);
    if (state !== null) this.#notify(entry, state);
  }

  #notify(entry: Entry, state: string): void {
    if (this.#closed) return;
    const pkg = this.#packages.get(entry.event);
    if (pkg === undefined) return;
    let body: Buffer;
    try {
      body = pkg.body(entry.resource);
    } catch (error) {
      this.#log.error({ err: String(error), resource: entry.resource }, 'event state unavailable');
      return;
    }
    const via = this.#options.addressing.via(entry.dialog.destination.transport);
    const request = entry.dialog.createRequest('NOTIFY', { transport: via.transport, host: via.host, port: via.port }, {
      body,
      contentType: pkg.contentType,
      headers: [
        { name: 'Event', value: entry.eventId === null ? entry.event : `${entry.event};id=${entry.eventId}` },
        { name: 'Subscription-State', value: state },
      ],
    });
    request.contact = [entry.dialog.contact];
    this.#send(request, entry.dialog.destination, (outcome) => {
      if (outcome === 'ok' || !this.#subscriptions.has(entry.id)) return;
      this.#log.info({ subscription: entry.id, resource: entry.resource, outcome }, 'NOTIFY refused or unanswered: subscription ended');
      this.#end(entry, null);
    });
  }

  #send(request: SipRequest, destination: Endpoint, done: (outcome: 'ok' | number | 'timeout') => void): void {
    try {
      this.#options.transactions.sendRequest(request, destination, {
        onFinal: (response) => done(response.status < 300 || !FATAL_NOTIFY_STATUS.has(response.status) ? 'ok' : response.status),
        onTimeout: () => done('timeout'),
      });
    } catch (error) {
      this.#log.warn({ err: String(error), destination }, 'NOTIFY not sent');
      done('timeout');
    }
  }

  /** A NOTIFY with the current state to every subscription of `resource` in `event`. */
  notify(event: string, resource: string): number {
    let n = 0;
    for (const entry of this.#subscriptions.values()) {
      if (entry.event !== event || entry.resource !== resource) continue;
      this.#notify(entry, `active;expires=${Math.max(1, Math.round((entry.expiresAt - this.#now()) / 1000))}`);
      n++;
    }
    return n;
  }

  subscriptions(event?: string, resource?: string): Subscription[] {
    return [...this.#subscriptions.values()].filter((e) => (event === undefined || e.event === event) && (resource === undefined || e.resource === resource));
  }

  /**
   * An out-of-dialog NOTIFY of `event` for `resource` to a phone that did not subscribe (its
   * registered contact), resolving with the phone's answer (or 'timeout').
   */
  unsolicited(event: string, resource: string, target: { uri: Uri; destination: Endpoint }): Promise<number | 'timeout'> {
    const pkg = this.#packages.get(event);
    if (pkg === undefined || this.#closed) return Promise.resolve('timeout');
    const body = pkg.body(resource);
    const via = this.#options.addressing.via(target.destination.transport);
    const ours: SipUri = { kind: 'sip', secure: false, user: resource, password: null, host: this.#options.realm, port: null, params: new Map(), headers: new Map() };
    const to: NameAddr = { displayName: null, uri: ours, params: new Map() };
    const request: SipRequest = newRequest({
      method: 'NOTIFY',
      uri: target.uri,
      via: [{ transport: via.transport, host: via.host, port: via.port, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from: { displayName: null, uri: ours, params: new Map([['tag', newTag()]]) },
      to,
      callId: newCallId(via.host),
      cseq: { seq: 1, method: 'NOTIFY' },
      contact: [this.#options.addressing.contact(target.destination.transport, resource)],
      contentType: pkg.contentType,
      headers: [
        { name: 'Event', value: event },
        { name: 'Subscription-State', value: 'active' },
      ],
      body,
    });
    return new Promise((resolve) => {
      try {
        this.#options.transactions.sendRequest(request, target.destination, {
          onFinal: (response) => resolve(response.status),
          onTimeout: () => resolve('timeout'),
        });
      } catch (error) {
        this.#log.warn({ err: String(error), resource }, 'unsolicited NOTIFY not sent');
        resolve('timeout');
      }
    });
  }

  /** Ends every subscription without a NOTIFY (shutdown: phones re-subscribe after a 481). */
  close(): void {
    this.#closed = true;
    for (const entry of this.#subscriptions.values()) if (entry.timer !== null) clearTimeout(entry.timer);
    this.#subscriptions.clear();
  }
}

/** `Event: message-summary;id=1` → { name, id } (§8.2.1); null when absent or malformed. */
export function parseEvent(value: string | undefined): { name: string; id: string | null } | null {
  if (value === undefined) return null;
  const [head, ...params] = value.split(';').map((s) => s.trim());
  if (head === undefined || !/^[A-Za-z0-9.!%*_+`'~-]+$/.test(head)) return null;
  let id: string | null = null;
  for (const p of params) {
    const m = /^id=(.+)$/i.exec(p);
    if (m) id = m[1] ?? null;
  }
  return { name: head.toLowerCase(), id };
}

function resourceOf(uri: Uri): string | null {
  if (uri.kind !== 'sip' || uri.user === null) return null;
  try {
    return decodeURIComponent(uri.user);
  } catch {
    return null;
  }
}
