/**
 * Our outbound registration to a carrier (RFC 3261 §10.2): REGISTER with digest auth (§22.2) on our
 * own transaction layer, refreshed before the binding expires, retried with exponential backoff
 * when the carrier refuses or does not answer. Its state is what `pbxctl status` shows.
 *
 * States: registering → registered (refresh timer) | failing (retry timer) → registering ...; stopped.
 */
import type { Logger } from '../../log.js';
import { authorizationHeader, readChallenge, type ClientCredentials } from '../../sip/auth/digest-client.js';
import { newBranch, newCallId, newRequest, newTag } from '../../sip/build.js';
import type { LocalAddressing } from '../../sip/b2bua/types.js';
import type { RawHeader, SipRequest, SipResponse, SipUri } from '../../sip/message.js';
import type { Endpoint, TransactionLayer } from '../../sip/types.js';
import { formatUri } from '../../sip/uri.js';

export type RegistrationState = 'registering' | 'registered' | 'failing' | 'stopped';

export interface RegistrationStatus {
  state: RegistrationState;
  lastError: string | null;
  /** Epoch ms when the current binding expires; null when not registered. */
  expiresAt: number | null;
  /** Successful REGISTERs so far (the first one and each refresh). */
  registrations: number;
}

export interface RegistrationClientOptions {
  trunk: string;
  /** Registrar host as configured (Request-URI and AOR domain). */
  host: string;
  port: number | null;
  destination: Endpoint;
  credentials: ClientCredentials;
  transactions: TransactionLayer;
  addressing: LocalAddressing;
  logger: Logger;
  /** Expires we ask for (seconds); the carrier may grant less. */
  expiresSeconds?: number;
  /** Backoff bounds after a failure (default 5 s doubling to 5 min). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class RegistrationClient {
  readonly #o: Required<Pick<RegistrationClientOptions, 'expiresSeconds' | 'retryMinMs' | 'retryMaxMs'>> & RegistrationClientOptions;
  readonly #callId: string;
  readonly #fromTag = newTag();
  #cseq = 0;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #status: RegistrationStatus = { state: 'registering', lastError: null, expiresAt: null, registrations: 0 };

  constructor(options: RegistrationClientOptions) {
    this.#o = { expiresSeconds: 600, retryMinMs: 5000, retryMaxMs: 300_000, ...options };
    this.#callId = newCallId(options.addressing.via(options.destination.transport).host);
  }

  status(): RegistrationStatus {
    return { ...this.#status };
  }

  start(): void {
    this.#send(this.#o.expiresSeconds, null);
  }

  /** Stops refreshing and removes the binding at the carrier (Expires: 0), best effort. */
  stop(): void {
    if (this.#status.state === 'stopped') return;
    const wasRegistered = this.#status.state === 'registered';
    this.#clearTimer();
    this.#status = { ...this.#status, state: 'stopped', expiresAt: null };
    if (wasRegistered) this.#send(0, null);
  }

  #send(expires: number, challenge: { header: RawHeader } | null): void {
    const o = this.#o;
    const transport = o.destination.transport;
    const via = o.addressing.via(transport);
    const aor: SipUri = { kind: 'sip', secure: false, user: o.credentials.username, password: null, host: o.host, port: null, params: new Map(), headers: new Map() };
    const registrar: SipUri = { ...aor, user: null, port: o.port, params: transport === 'UDP' ? new Map() : new Map([['transport', transport.toLowerCase()]]) };
    const request: SipRequest = newRequest({
      method: 'REGISTER',
      uri: registrar,
      via: [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from: { displayName: null, uri: aor, params: new Map([['tag', this.#fromTag]]) },
      to: { displayName: null, uri: aor, params: new Map() },
      callId: this.#callId,
      cseq: { seq: ++this.#cseq, method: 'REGISTER' },
      contact: [o.addressing.contact(transport, o.credentials.username)],
      expires,
      headers: challenge === null ? [] : [challenge.header],
    });
    if (expires > 0) this.#status = { ...this.#status, state: this.#status.state === 'registered' ? 'registered' : 'registering' };
    try {
      o.transactions.sendRequest(request, o.destination, {
        onFinal: (response) => this.#onFinal(request, response, challenge !== null),
        onTimeout: (kind) => this.#failed(kind === 'timeout' ? 'no answer from the carrier (timeout)' : 'transport error toward the carrier'),
      });
    } catch (error) {
      this.#failed(`could not send REGISTER: ${(error as Error).message}`);
    }
  }

  #onFinal(request: SipRequest, response: SipResponse, authenticated: boolean): void {
    const expires = request.expires ?? this.#o.expiresSeconds;
    // Once stopped, only the removal of the binding (Expires: 0) goes on, through its challenge.
    if (this.#status.state === 'stopped' && expires !== 0) return;
    if (response.status >= 200 && response.status < 300) {
      if (expires === 0) return;
      this.#registered(grantedExpires(response, request) ?? expires);
      return;
    }
    if (response.status === 401 || response.status === 407) {
      const challenge = readChallenge(response);
      // A second challenge after our answer means the credentials are wrong, unless the nonce was stale.
      if (challenge !== null && (!authenticated || challenge.stale)) {
        this.#send(expires, { header: authorizationHeader(challenge, this.#o.credentials, 'REGISTER', formatUri(request.uri)) });
        return;
      }
      this.#failed(challenge === null ? `${response.status} with no usable digest challenge` : `credentials refused (${response.status} ${response.reason})`);
      return;
    }
    if (response.status === 423) {
      // §10.2.8: ask again with at least Min-Expires.
      const min = Number(response.headers.find((h) => h.name.toLowerCase() === 'min-expires')?.value);
      if (Number.isInteger(min) && min > expires && min <= 86400) {
        this.#send(min, null);
        return;
      }
    }
    this.#failed(`${response.status} ${response.reason}`);
  }

  #registered(expires: number): void {
    this.#failures = 0;
    const first = this.#status.state !== 'registered';
    this.#status = { state: 'registered', lastError: this.#status.lastError, expiresAt: Date.now() + expires * 1000, registrations: this.#status.registrations + 1 };
    if (first) this.#o.logger.info({ trunk: this.#o.trunk, expires }, 'trunk registered');
    // Refresh before expiry: 10 s early as Asterisk does, or at 80 % of a short binding's life.
    const refreshMs = Math.max(1000, expires > 50 ? (expires - 10) * 1000 : expires * 800);
    this.#schedule(refreshMs, () => this.#send(this.#o.expiresSeconds, null));
  }

  #failed(reason: string): void {
    if (this.#status.state === 'stopped') return;
    this.#failures++;
    const delay = Math.min(this.#o.retryMaxMs, this.#o.retryMinMs * 2 ** Math.min(this.#failures - 1, 16));
    this.#status = { ...this.#status, state: 'failing', lastError: reason, expiresAt: null };
    this.#o.logger.warn({ trunk: this.#o.trunk, reason, retryInMs: delay, failures: this.#failures }, 'trunk registration failed');
    this.#schedule(delay, () => this.#send(this.#o.expiresSeconds, null));
  }

  #schedule(ms: number, fn: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#status.state !== 'stopped') fn();
    }, ms);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** §10.3 step 8: the expiry the registrar granted to our contact (its `expires` param, else Expires). */
function grantedExpires(response: SipResponse, request: SipRequest): number | null {
  const ours = request.contact === '*' ? undefined : request.contact[0];
  if (response.contact !== '*' && ours !== undefined && ours.uri.kind === 'sip') {
    for (const c of response.contact) {
      if (c.uri.kind === 'sip' && c.uri.user === ours.uri.user && c.uri.host === ours.uri.host && c.uri.port === ours.uri.port) {
        const value = Number(c.params.get('expires'));
        if (Number.isInteger(value) && value >= 0) return value;
      }
    }
  }
  return response.expires;
}
