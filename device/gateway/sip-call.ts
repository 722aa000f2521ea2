/**
 * One INVITE dialog of the gateway, as a user agent (RFC 3261 §13–15) on our own transaction layer:
 * the analog ports call and are called through the pbx exactly as a desk phone or an ATA would.
 *
 * States: calling (UAC) | incoming (UAS) → early → confirmed → ended. The UAS retransmits its 2xx
 * until the ACK (§13.3.1.4); the UAC ACKs every 2xx (§13.2.2.4) and answers a 401/407 once with the
 * port's credentials (§22.2). In the dialog: BYE, re-INVITE both ways (hold, fax), REFER (transfer,
 * RFC 3515), INFO and NOTIFY answered.
 */
import type { Logger } from '../../services/log.js';
import { authorizationHeader, readChallenge, type ClientCredentials } from '../../services/sip/auth/digest-client.js';
import { newBranch, newCallId, newTag } from '../../services/sip/build.js';
import { Dialog, withoutTag } from '../../services/sip/dialog.js';
import { getHeader, tagOf, type NameAddr, type RawHeader, type SipRequest, type SipResponse, type SipUri } from '../../services/sip/message.js';
import type { Endpoint, ServerTransaction, TransactionLayer } from '../../services/sip/types.js';
import { formatUri } from '../../services/sip/uri.js';

export interface SipContext {
  transactions: TransactionLayer;
  /** Our UDP listener (Via, Contact). */
  local: { address: string; port: number };
  /** Every request goes to the pbx. */
  pbx: Endpoint;
  /** Host of the pbx's URIs (its address). */
  pbxHost: string;
  logger: Logger;
  t1Ms?: number;
  t2Ms?: number;
}

export interface CallHandlers {
  /** 1xx with or without SDP (early media). */
  onProgress?(status: number, sdp: Buffer | null): void;
  onAnswered?(sdp: Buffer | null): void;
  onFailed?(status: number, reason: string): void;
  /** The far end hung up (BYE), or the dialog died (no ACK, transport failure). */
  onEnded?(reason: string): void;
  /** UAS: the caller gave up before we answered. */
  onCancelled?(): void;
  /** A re-INVITE's offer → our answer; null refuses it (488). */
  onReinvite?(offer: Buffer | null): Buffer | null;
}

export type CallState = 'calling' | 'incoming' | 'early' | 'confirmed' | 'ended';

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER';

export function ourVia(ctx: SipContext): { transport: string; host: string; port: number } {
  return { transport: 'UDP', host: ctx.local.address, port: ctx.local.port };
}

export function ourContact(ctx: SipContext, user: string): NameAddr {
  return { displayName: null, uri: sipUri(user, ctx.local.address, ctx.local.port), params: new Map() };
}

export function sipUri(user: string | null, host: string, port: number | null): SipUri {
  return { kind: 'sip', secure: false, user, password: null, host, port, params: new Map(), headers: new Map() };
}

export class SipCall {
  readonly callId: string;
  readonly direction: 'outgoing' | 'incoming';
  state: CallState;
  handlers: CallHandlers = {};
  /** UAS: the caller's INVITE (From: number and name for caller ID). */
  readonly request: SipRequest;
  readonly #ctx: SipContext;
  readonly #log: Logger;
  readonly #contactUser: string;
  readonly #credentials: ClientCredentials | null;
  #dialog: Dialog | null = null;
  #invite: { request: SipRequest; cancel(): void } | null = null;
  #server: ServerTransaction | null = null;
  readonly #localTag: string;
  #authTried = false;
  #retransmit: NodeJS.Timeout | null = null;
  #final2xx: SipResponse | null = null;
  #cancelWanted = false;
  #provisional = false;

  private constructor(ctx: SipContext, init: { request: SipRequest; direction: 'outgoing' | 'incoming'; contactUser: string; credentials: ClientCredentials | null; localTag: string }) {
    this.#ctx = ctx;
    this.request = init.request;
    this.callId = init.request.callId;
    this.direction = init.direction;
    this.state = init.direction === 'outgoing' ? 'calling' : 'incoming';
    this.#contactUser = init.contactUser;
    this.#credentials = init.credentials;
    this.#localTag = init.localTag;
    this.#log = ctx.logger.child({ callId: this.callId });
  }

  /** A new call to `toUser` at the pbx. `register` files it with the endpoint for in-dialog requests. */
  static dial(
    ctx: SipContext,
    o: { contactUser: string; fromUser: string; fromName: string | null; toUser: string; credentials: ClientCredentials | null; sdp: Buffer; headers?: RawHeader[] },
    register: (call: SipCall) => void,
    handlers: CallHandlers,
  ): SipCall {
    const localTag = newTag();
    const request: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: sipUri(o.toUser, ctx.pbxHost, ctx.pbx.port),
      via: [{ ...ourVia(ctx), params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from: { displayName: o.fromName, uri: sipUri(o.fromUser, ctx.pbxHost, null), params: new Map([['tag', localTag]]) },
      to: { displayName: null, uri: sipUri(o.toUser, ctx.pbxHost, null), params: new Map() },
      callId: newCallId(ctx.local.address),
      cseq: { seq: 1, method: 'INVITE' },
      maxForwards: 70,
      contact: [ourContact(ctx, o.contactUser)],
      route: [],
      recordRoute: [],
      expires: null,
      contentType: 'application/sdp',
      headers: [{ name: 'Allow', value: ALLOW }, { name: 'User-Agent', value: 'pbx-analog-gateway' }, ...(o.headers ?? [])],
      body: o.sdp,
    };
    const call = new SipCall(ctx, { request, direction: 'outgoing', contactUser: o.contactUser, credentials: o.credentials, localTag });
    call.handlers = handlers;
    register(call);
    call.#sendInvite(request);
    return call;
  }

  /** An INVITE from the pbx for this port. */
  static incoming(ctx: SipContext, txn: ServerTransaction, contactUser: string): SipCall {
    const request = txn.request;
    const call = new SipCall(ctx, { request, direction: 'incoming', contactUser, credentials: null, localTag: newTag() });
    call.#server = txn;
    call.#dialog = new Dialog({
      role: 'uas',
      callId: request.callId,
      localTag: call.#localTag,
      remoteTag: tagOf(request.from),
      localUri: withoutTag(request.to),
      remoteUri: withoutTag(request.from),
      localSeq: Math.floor(Math.random() * 10000),
      remoteSeq: request.cseq.seq,
      remoteTarget: request.contact !== '*' && request.contact[0] !== undefined ? request.contact[0].uri : request.from.uri,
      routeSet: [...request.recordRoute],
      destination: txn.source,
      contact: ourContact(ctx, contactUser),
    });
    txn.onCancel(() => {
      if (call.state !== 'incoming' && call.state !== 'early') return;
      call.#end('cancelled by the caller');
      call.handlers.onCancelled?.();
    });
    return call;
  }

  get localTag(): string {
    return this.#localTag;
  }

  /** The caller's number and name as the pbx presented them (From). */
  callerId(): { number: string | null; name: string | null } {
    const from = this.request.from;
    let number: string | null = null;
    if (from.uri.kind === 'sip' && from.uri.user !== null) {
      try {
        number = decodeURIComponent(from.uri.user);
      } catch {
        number = from.uri.user;
      }
    }
    if (number === 'anonymous') number = null;
    return { number, name: from.displayName };
  }

  // --- UAS -------------------------------------------------------------------------------------

  ringing(): void {
    if (this.#server === null || this.state !== 'incoming') return;
    this.state = 'early';
    this.#server.respond(180, { toTag: this.#localTag, contact: [ourContact(this.#ctx, this.#contactUser)] });
  }

  /** 183 Session Progress with SDP: early media (RFC 3960 gateway model), e.g. the exchange's ringback. */
  progress(sdp: Buffer): void {
    if (this.#server === null || (this.state !== 'incoming' && this.state !== 'early')) return;
    this.state = 'early';
    this.#server.respond(183, { toTag: this.#localTag, contact: [ourContact(this.#ctx, this.#contactUser)], contentType: 'application/sdp', body: sdp });
  }

  answer(sdp: Buffer): void {
    if (this.#server === null || (this.state !== 'incoming' && this.state !== 'early')) return;
    this.state = 'confirmed';
    const response = this.#server.respond(200, {
      toTag: this.#localTag,
      contact: [ourContact(this.#ctx, this.#contactUser)],
      contentType: 'application/sdp',
      body: sdp,
      headers: [{ name: 'Allow', value: ALLOW }],
    });
    this.#retransmit2xx(response, this.#server.source);
  }

  reject(status: number, reason?: string): void {
    if (this.#server === null || (this.state !== 'incoming' && this.state !== 'early')) return;
    this.#server.respond(status, { toTag: this.#localTag, ...(reason !== undefined && { reason }) });
    this.#end(`rejected ${status}`);
  }

  /** ACK for our 2xx (the endpoint routes it here). */
  acknowledged(ack: SipRequest): void {
    if (this.#final2xx !== null && ack.cseq.seq === this.#final2xx.cseq.seq) this.#stopRetransmit();
  }

  #retransmit2xx(response: SipResponse, destination: Endpoint): void {
    this.#final2xx = response;
    const t1 = this.#ctx.t1Ms ?? 500;
    const t2 = this.#ctx.t2Ms ?? 4000;
    let interval = t1;
    let elapsed = 0;
    const tick = (): void => {
      elapsed += interval;
      if (elapsed >= 64 * t1) {
        this.#retransmit = null;
        if (this.state === 'ended') return;
        this.#log.warn('no ACK for our 200 OK: the call is dropped');
        this.#sendBye();
        this.#end('no ACK');
        this.handlers.onEnded?.('no ACK');
        return;
      }
      this.#ctx.transactions.sendStateless(response, destination);
      interval = Math.min(interval * 2, t2);
      this.#retransmit = setTimeout(tick, interval);
    };
    this.#retransmit = setTimeout(tick, interval);
  }

  #stopRetransmit(): void {
    if (this.#retransmit !== null) clearTimeout(this.#retransmit);
    this.#retransmit = null;
  }

  // --- UAC -------------------------------------------------------------------------------------

  #sendInvite(request: SipRequest): void {
    this.#invite = { request, cancel: () => undefined };
    const transaction = this.#ctx.transactions.sendRequest(request, this.#ctx.pbx, {
      onProvisional: (response) => {
        if (response.status === 100 || this.state === 'ended') return;
        this.#provisional = true;
        if (this.#cancelWanted) {
          transaction.cancel();
          return;
        }
        this.state = 'early';
        this.handlers.onProgress?.(response.status, response.body.length > 0 ? response.body : null);
      },
      onFinal: (response) => this.#onInviteFinal(request, response),
      onAdditional2xx: (response) => this.#ack(response),
      onTimeout: (kind) => {
        if (this.state === 'ended') return;
        this.#end(kind);
        this.handlers.onFailed?.(kind === 'timeout' ? 408 : 503, kind === 'timeout' ? 'Request Timeout' : 'Service Unavailable');
      },
    });
    this.#invite = { request, cancel: () => transaction.cancel() };
  }

  #onInviteFinal(request: SipRequest, response: SipResponse): void {
    if (response.status >= 200 && response.status < 300) {
      this.#dialog = new Dialog({
        role: 'uac',
        callId: request.callId,
        localTag: this.#localTag,
        remoteTag: tagOf(response.to),
        localUri: withoutTag(request.from),
        remoteUri: withoutTag(request.to),
        localSeq: request.cseq.seq,
        remoteSeq: 0,
        remoteTarget: response.contact !== '*' && response.contact[0] !== undefined ? response.contact[0].uri : request.uri,
        routeSet: [...response.recordRoute].reverse(),
        destination: this.#ctx.pbx,
        contact: ourContact(this.#ctx, this.#contactUser),
      });
      this.#ack(response);
      if (this.state === 'ended' || this.#cancelWanted) {
        // We gave up meanwhile: the 2xx crossed our CANCEL (§9.1): end it with a BYE.
        this.#sendBye();
        this.#end('cancelled');
        return;
      }
      this.state = 'confirmed';
      this.handlers.onAnswered?.(response.body.length > 0 ? response.body : null);
      return;
    }
    if ((response.status === 401 || response.status === 407) && !this.#authTried && this.#credentials !== null && !this.#cancelWanted) {
      const challenge = readChallenge(response);
      if (challenge !== null) {
        this.#authTried = true;
        const [via] = request.via;
        const retry: SipRequest = {
          ...request,
          via: via === undefined ? [] : [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
          cseq: { seq: request.cseq.seq + 1, method: 'INVITE' },
          headers: [...request.headers.filter((h) => h.name !== challenge.header), authorizationHeader(challenge, this.#credentials, 'INVITE', formatUri(request.uri))],
        };
        this.#sendInvite(retry);
        return;
      }
    }
    if (this.state === 'ended') return;
    this.#end(`failed ${response.status}`);
    this.handlers.onFailed?.(response.status, response.reason);
  }

  #ack(response: SipResponse): void {
    const dialog = this.#dialog;
    if (dialog === null) return;
    const ack = dialog.createRequest('ACK', ourVia(this.#ctx), { cseq: response.cseq.seq });
    this.#ctx.transactions.sendStateless(ack, dialog.destination);
  }

  // --- either side -----------------------------------------------------------------------------

  /** Ends the call whatever its state: CANCEL, 480/486, or BYE. */
  hangUp(status = 486): void {
    switch (this.state) {
      case 'calling':
      case 'early':
        if (this.direction === 'outgoing') {
          this.#cancelWanted = true;
          // §9.1: CANCEL only once a provisional arrived; else it goes when one does.
          if (this.#provisional) this.#invite?.cancel();
          this.#end('cancelled');
          return;
        }
        this.reject(status);
        return;
      case 'incoming':
        this.reject(status);
        return;
      case 'confirmed':
        this.#sendBye();
        this.#end('hung up');
        return;
      case 'ended':
        return;
    }
  }

  #sendBye(): void {
    const dialog = this.#dialog;
    if (dialog === null) return;
    this.#request(dialog.createRequest('BYE', ourVia(this.#ctx)), () => undefined);
  }

  /** A re-INVITE with `sdp` (hold, resume, fax); resolves with the far end's answer, or null when refused. */
  reinvite(sdp: Buffer): Promise<Buffer | null> {
    const dialog = this.#dialog;
    if (dialog === null || this.state !== 'confirmed') return Promise.resolve(null);
    return new Promise((resolve) => {
      const request = dialog.createRequest('INVITE', ourVia(this.#ctx), { body: sdp, contentType: 'application/sdp' });
      this.#ctx.transactions.sendRequest(request, dialog.destination, {
        onFinal: (response) => {
          if (response.status >= 200 && response.status < 300) {
            this.#ack(response);
            dialog.refreshTarget(response);
            resolve(response.body.length > 0 ? response.body : null);
          } else resolve(null);
        },
        onAdditional2xx: (response) => this.#ack(response),
        onTimeout: () => resolve(null),
      });
    });
  }

  /**
   * This dialog as a Replaces value (RFC 3891 §6.1) for an attended transfer's Refer-To (RFC 5589
   * §7): to-tag the pbx's, from-tag ours, as the far end sees the dialog. Null before it is confirmed.
   */
  replaces(): string | null {
    const dialog = this.#dialog;
    if (dialog === null || dialog.remoteTag === null || this.state !== 'confirmed') return null;
    return `${dialog.callId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`;
  }

  /** REFER (RFC 3515): asks the far end to call `target`; resolves with the final status of the REFER. */
  refer(target: SipUri): Promise<number> {
    const dialog = this.#dialog;
    if (dialog === null || this.state !== 'confirmed') return Promise.resolve(481);
    this.#referFinal = null;
    return new Promise((resolve) => {
      const request = dialog.createRequest('REFER', ourVia(this.#ctx), {
        headers: [
          { name: 'Refer-To', value: `<${formatUri(target)}>` },
          { name: 'Referred-By', value: `<${formatUri(dialog.localUri.uri)}>` },
        ],
      });
      this.#request(request, (status) => resolve(status));
    });
  }

  /**
   * The final status the far end reported for our REFER (the sipfrag of its NOTIFYs, RFC 3515 §2.4.5),
   * once one came; null if none within `ms`.
   */
  referOutcome(ms: number): Promise<number | null> {
    if (this.#referFinal !== null) return Promise.resolve(this.#referFinal);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#referWaiters = this.#referWaiters.filter((w) => w !== done);
        resolve(null);
      }, ms);
      timer.unref();
      const done = (status: number): void => {
        clearTimeout(timer);
        resolve(status);
      };
      this.#referWaiters.push(done);
    });
  }

  #referFinal: number | null = null;
  #referWaiters: ((status: number) => void)[] = [];

  #referNotify(request: SipRequest): void {
    const event = (getHeader(request, 'event') ?? getHeader(request, 'o') ?? '').trim().toLowerCase();
    if (!event.startsWith('refer')) return;
    const match = /^SIP\/2\.0\s+(\d{3})/.exec(request.body.toString('utf8').trim());
    if (match === null) return;
    const status = Number(match[1]);
    if (status < 200) return;
    this.#referFinal = status;
    for (const w of this.#referWaiters.splice(0)) w(status);
  }

  /** A non-INVITE request in the dialog, answering one challenge with the port's credentials. */
  #request(request: SipRequest, done: (status: number) => void, authenticated = false): void {
    const dialog = this.#dialog;
    if (dialog === null) return;
    try {
      this.#ctx.transactions.sendRequest(request, dialog.destination, {
        onFinal: (response) => {
          if ((response.status === 401 || response.status === 407) && !authenticated && this.#credentials !== null) {
            const challenge = readChallenge(response);
            if (challenge !== null) {
              dialog.localSeq += 1;
              const [via] = request.via;
              this.#request({
                ...request,
                via: via === undefined ? [] : [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
                cseq: { seq: dialog.localSeq, method: request.method },
                headers: [...request.headers, authorizationHeader(challenge, this.#credentials, request.method, formatUri(request.uri))],
              }, done, true);
              return;
            }
          }
          done(response.status);
        },
        onTimeout: () => done(408),
      });
    } catch (error) {
      this.#log.warn({ err: (error as Error).message, method: request.method }, 'could not send');
      done(503);
    }
  }

  /** A request inside this dialog from the pbx. */
  handleInDialog(txn: ServerTransaction): void {
    const request = txn.request;
    const dialog = this.#dialog;
    if (dialog === null || this.state === 'ended') {
      txn.respond(481);
      return;
    }
    if (!dialog.acceptRemoteSequence(request)) {
      txn.respond(500);
      return;
    }
    switch (request.method) {
      case 'BYE':
        txn.respond(200);
        this.#end('remote hung up');
        this.handlers.onEnded?.('remote hung up');
        return;
      case 'INVITE': {
        dialog.refreshTarget(request);
        const answer = this.handlers.onReinvite?.(request.body.length > 0 ? request.body : null) ?? null;
        if (answer === null) {
          txn.respond(488);
          return;
        }
        const response = txn.respond(200, { contact: [dialog.contact], contentType: 'application/sdp', body: answer, headers: [{ name: 'Allow', value: ALLOW }] });
        this.#retransmit2xx(response, txn.source);
        return;
      }
      case 'ACK':
        return;
      case 'NOTIFY':
        txn.respond(200);
        this.#referNotify(request);
        return;
      default:
        // INFO, OPTIONS, UPDATE without SDP: accepted.
        txn.respond(200);
    }
  }

  #end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    // A 2xx still unacknowledged keeps being retransmitted until its ACK or 64·T1 (§13.3.1.4).
    this.#log.debug({ reason }, 'call ended');
  }

  /** After the call ended: timers off. */
  dispose(): void {
    this.#stopRetransmit();
  }

  /** Header of the initial request (e.g. Alert-Info). */
  header(name: string): string | undefined {
    return getHeader(this.request, name);
  }
}
