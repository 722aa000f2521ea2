/**
 * OPTIONS keepalive of every registered contact ("qualify", Asterisk / Kamailio `nathelper`):
 * every `intervalSeconds` (default 30 s, shorter than the UDP timeouts of most NAT routers) each
 * contact gets an out-of-dialog OPTIONS (RFC 3261 §11) sent where its REGISTER came from, through
 * the transaction layer (so UDP retransmissions and Timer F apply). Any response, even 4xx/5xx,
 * proves the phone is there and keeps the NAT binding open; `maxFailures` timeouts in a row mark
 * the contact unreachable. The binding is kept (the phone may come back before it expires), and
 * the first response marks it reachable again.
 */
import type { Logger } from '../../log.js';
import { newBranch, newCallId, newRequest, newTag } from '../build.js';
import type { SipRequest, SipUri } from '../message.js';
import type { TransactionLayer, TransportKind } from '../types.js';
import type { Binding } from './location.js';
import type { Registrar } from './registrar.js';

export interface KeepaliveOptions {
  registrar: Registrar;
  transactions: Pick<TransactionLayer, 'sendRequest'>;
  /** The address and port this box listens on for a transport (goes into Via). */
  localEndpoint(transport: TransportKind): { address: string; port: number };
  /** Host part of the From URI (the realm / box name). */
  domain: string;
  /** Default 30. */
  intervalSeconds?: number;
  /** Consecutive timeouts before a contact is unreachable (default 3). */
  maxFailures?: number;
  logger: Logger;
}

interface ProbeState {
  failures: number;
  inFlight: boolean;
  /** performance.now() of the next scheduled probe. */
  nextAt: number;
}

export class Keepalive {
  readonly #options: KeepaliveOptions;
  readonly #intervalMs: number;
  readonly #maxFailures: number;
  readonly #state = new Map<string, ProbeState>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #sent = 0;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
    this.#intervalMs = (options.intervalSeconds ?? 30) * 1000;
    this.#maxFailures = options.maxFailures ?? 3;
    if (!(this.#intervalMs > 0) || !(this.#maxFailures >= 1)) throw new TypeError('keepalive: interval and maxFailures must be positive');
    const forget = (binding: Binding): void => {
      this.#state.delete(keyOf(binding));
    };
    options.registrar.on('contact-removed', forget);
    options.registrar.on('contact-expired', forget);
  }

  /**
   * Ticks every second (or every interval, if shorter) and probes the contacts that are due; a new
   * contact's first probe falls at a random point of the interval, so probes spread evenly instead
   * of leaving in one burst.
   */
  start(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), Math.min(1000, this.#intervalMs));
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** OPTIONS sent so far (status, tests). */
  get sent(): number {
    return this.#sent;
  }

  /** Probes every current contact now (diagnostics, tests). */
  probeAll(): void {
    if (this.#closed) return;
    for (const binding of this.#options.registrar.location.all()) this.probe(binding);
  }

  #tick(): void {
    if (this.#closed) return;
    const now = performance.now();
    for (const binding of this.#options.registrar.location.all()) {
      const state = this.#stateOf(binding, now);
      if (state.nextAt <= now) this.probe(binding);
    }
  }

  #stateOf(binding: Binding, now: number): ProbeState {
    const key = keyOf(binding);
    let state = this.#state.get(key);
    if (state === undefined) {
      state = { failures: 0, inFlight: false, nextAt: now + Math.random() * this.#intervalMs };
      this.#state.set(key, state);
    }
    return state;
  }

  probe(binding: Binding): void {
    const state = this.#stateOf(binding, performance.now());
    if (state.inFlight) return;
    state.nextAt = performance.now() + this.#intervalMs;
    const probeState = state;
    let request: SipRequest;
    try {
      request = this.#buildOptions(binding);
    } catch (error) {
      this.#options.logger.warn({ err: error, extension: binding.aor }, 'cannot build keepalive OPTIONS');
      return;
    }
    probeState.inFlight = true;
    this.#sent++;
    const done = (reachable: boolean): void => {
      probeState.inFlight = false;
      if (reachable) probeState.failures = 0;
      else probeState.failures++;
      if (reachable) this.#options.registrar.setReachable(binding.aor, binding.contactText, true);
      else if (probeState.failures >= this.#maxFailures) this.#options.registrar.setReachable(binding.aor, binding.contactText, false);
    };
    try {
      this.#options.transactions.sendRequest(request, binding.endpoint, {
        onFinal: () => done(true),
        onTimeout: () => done(false),
      });
    } catch (error) {
      probeState.inFlight = false;
      this.#options.logger.warn({ err: error, extension: binding.aor }, 'keepalive OPTIONS not sent');
    }
  }

  #buildOptions(binding: Binding): SipRequest {
    const local = this.#options.localEndpoint(binding.endpoint.transport);
    const host = local.address.includes(':') ? `[${local.address}]` : local.address;
    const from: SipUri = { kind: 'sip', secure: false, user: 'pbx', password: null, host: this.#options.domain, port: null, params: new Map(), headers: new Map() };
    const to: SipUri = { ...binding.contact, params: new Map(binding.contact.params), headers: new Map() };
    return newRequest({
      method: 'OPTIONS',
      uri: binding.contact,
      via: [{ transport: binding.endpoint.transport, host, port: local.port, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from: { displayName: null, uri: from, params: new Map([['tag', newTag()]]) },
      to: { displayName: null, uri: to, params: new Map() },
      callId: newCallId(host),
      cseq: { seq: 1, method: 'OPTIONS' },
      headers: [{ name: 'Accept', value: 'application/sdp' }],
    });
  }
}

function keyOf(binding: Binding): string {
  return `${binding.aor}\n${binding.contactText}`;
}
