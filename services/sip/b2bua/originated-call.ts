/**
 * A call the PBX places itself (the fax line sending a document): we are the UAC of one dialog
 * (RFC 3261 §13.2) toward the first contact of a route decision (a trunk, or a phone), on behalf of
 * a user (their caller ID and permissions went into the decision). The application behind it makes
 * the offer, takes the answer, answers the far end's re-INVITEs (T.38) and hangs up.
 *
 * Phases: calling → answered → ended. Ringing is bounded by `ringMs` (CANCEL, §9.1); a challenge
 * (401/407) is answered once with the contact's credentials (§22.2), as for a bridged call.
 */
import { authorizationHeader, readChallenge } from '../auth/digest-client.js';
import { newBranch, newCallId, newRequest, newTag } from '../build.js';
import { uacDialogFor, type Dialog } from '../dialog.js';
import { tagOf, type NameAddr, type SipRequest, type SipResponse, type SipUri } from '../message.js';
import { formatUri } from '../uri.js';
import type { ClientTransaction, ServerTransaction } from '../types.js';
import type { Logger } from '../../log.js';
import { AckWait } from './ack-wait.js';
import { ALLOW, type CallContext, type DialogOwner } from './call.js';
import type { CallFacts, CallPhase, CallSide, CallSummary, Caller, RingDecision } from './types.js';

/** What the PBX runs on a call it placed. */
export interface OriginatingApplication {
  /** Our SDP offer for the INVITE. */
  offer(): Buffer;
  /** The far end's answer (2xx body). Throws when unusable: the call is hung up. */
  accept(answer: Buffer): void;
  /** A re-INVITE from the far end (T.38): our answer. Throws → 488, the session stays as it was. */
  answer(offer: Buffer): Buffer;
  /** The call is up: media flows; `hangUp` sends BYE. */
  start(hangUp: (reason: string) => void): void;
  /** The call is over (answered or not). Called exactly once. */
  stop(): void;
}

export type OriginateOutcome =
  | { kind: 'answered'; at: number }
  | { kind: 'failed'; status: number; reason: string };

type Phase =
  | { kind: 'calling'; transaction: ClientTransaction | null; timer: NodeJS.Timeout }
  | { kind: 'answered'; dialog: Dialog; at: number }
  | { kind: 'ended'; reason: string };

export class OriginatedCall implements DialogOwner {
  readonly callId: string;
  readonly startedAt = Date.now();
  #ctx: CallContext;
  #log: Logger;
  #caller: Caller;
  #decision: RingDecision;
  #app: OriginatingApplication;
  #request: SipRequest;
  #phase: Phase;
  #authAttempts = 0;
  #pendingAck: AckWait | null = null;
  #onOutcome: (outcome: OriginateOutcome) => void;
  #outcomeSent = false;

  constructor(ctx: CallContext, caller: Caller, decision: RingDecision, app: OriginatingApplication, ringMs: number, onOutcome: (o: OriginateOutcome) => void, callId?: string) {
    this.#ctx = ctx;
    this.#caller = caller;
    this.#decision = decision;
    this.#app = app;
    this.#onOutcome = onOutcome;
    const contact = decision.contacts[0];
    if (contact === undefined) throw new Error('originate: no contact to call');
    const { addressing, realm } = ctx.options;
    const transport = contact.destination.transport;
    const via = addressing.via(transport);
    this.callId = callId ?? newCallId(via.host);
    this.#log = ctx.logger.child({ callId: this.callId, caller: caller.extension, callee: decision.target, originated: true });
    const callerId = decision.from ?? { user: caller.extension, displayName: caller.displayName, host: realm };
    const from: NameAddr = { displayName: callerId.displayName || null, uri: sipUri(callerId.user, callerId.host), params: new Map([['tag', newTag()]]) };
    const toUri = decision.trunk !== undefined && contact.uri.kind === 'sip' ? sipUri(contact.uri.user ?? decision.target, contact.uri.host) : sipUri(decision.target, realm);
    const offer = app.offer();
    this.#request = newRequest({
      method: 'INVITE',
      uri: contact.uri,
      via: [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from,
      to: { displayName: null, uri: toUri, params: new Map() },
      callId: this.callId,
      cseq: { seq: 1, method: 'INVITE' },
      contact: [addressing.contact(transport, caller.extension)],
      contentType: 'application/sdp',
      headers: [ALLOW],
      body: offer,
    });
    const timer = setTimeout(() => this.#noAnswer(), ringMs);
    this.#phase = { kind: 'calling', transaction: null, timer };
    ctx.registry.bind(this.callId, tagOf(from) ?? '', this, 'callee');
    this.#send();
  }

  get phase(): CallPhase {
    return this.#phase.kind === 'calling' ? 'ringing' : this.#phase.kind;
  }

  summary(): CallSummary {
    return {
      callId: this.callId,
      caller: this.#caller.extension,
      callee: this.#decision.target,
      phase: this.phase,
      trunk: this.#decision.trunk ?? null,
      startedAt: this.startedAt,
      answeredAt: this.#phase.kind === 'answered' ? this.#phase.at : null,
      contacts: 1,
    };
  }

  #facts(): CallFacts {
    return { callId: this.callId, caller: this.#caller.extension, callee: this.#decision.target, startedAt: this.startedAt, answeredAt: this.#phase.kind === 'answered' ? this.#phase.at : null };
  }

  #send(): void {
    const phase = this.#phase;
    if (phase.kind !== 'calling') return;
    const contact = this.#decision.contacts[0];
    if (contact === undefined) return;
    try {
      phase.transaction = this.#ctx.transactions.sendRequest(this.#request, contact.destination, {
        onFinal: (response) => this.#final(response),
        onAdditional2xx: (response) => this.#ackStray(response),
        onTimeout: (kind) => this.#fail(kind === 'timeout' ? 408 : 503, kind === 'timeout' ? 'Request Timeout' : 'Transport Error'),
      });
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not send INVITE');
      this.#fail(503, 'Service Unavailable');
    }
  }

  #final(response: SipResponse): void {
    if (this.#phase.kind !== 'calling') {
      if (response.status >= 200 && response.status < 300) this.#ackStray(response);
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      this.#answered(response);
      return;
    }
    if ((response.status === 401 || response.status === 407) && this.#retryWithCredentials(response)) return;
    this.#fail(response.status, response.reason);
  }

  /** §22.2: once, with the contact's credentials, CSeq + 1 and a new branch (§8.1.3.5). */
  #retryWithCredentials(response: SipResponse): boolean {
    const credentials = this.#decision.contacts[0]?.credentials;
    const challenge = readChallenge(response);
    if (credentials === undefined || challenge === null || this.#authAttempts > 0) return false;
    this.#authAttempts++;
    const previous = this.#request;
    const [firstVia, ...otherVias] = previous.via;
    if (firstVia === undefined) return false;
    this.#request = {
      ...previous,
      via: [{ ...firstVia, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }, ...otherVias],
      cseq: { seq: previous.cseq.seq + 1, method: 'INVITE' },
      headers: [...previous.headers.filter((h) => h.name !== challenge.header), authorizationHeader(challenge, credentials, 'INVITE', formatUri(previous.uri))],
    };
    this.#send();
    return true;
  }

  #dialogFor(response: SipResponse): Dialog {
    const destination = this.#decision.contacts[0]?.destination;
    if (destination === undefined) throw new Error('originate: no contact');
    return uacDialogFor(this.#request, response, destination, this.#ctx.options.addressing.contact(destination.transport, this.#caller.extension));
  }


  #answered(response: SipResponse): void {
    const phase = this.#phase;
    if (phase.kind !== 'calling') return;
    clearTimeout(phase.timer);
    const dialog = this.#dialogFor(response);
    const via = this.#ctx.options.addressing.via(dialog.destination.transport);
    this.#ctx.transactions.sendStateless(dialog.createRequest('ACK', via, { cseq: this.#request.cseq.seq }), dialog.destination);
    this.#phase = { kind: 'answered', dialog, at: Date.now() };
    try {
      this.#app.accept(response.body);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'unusable SDP answer: hanging up');
      this.#outcome({ kind: 'failed', status: 488, reason: 'Not Acceptable Here' });
      this.hangUp('answer not acceptable');
      return;
    }
    this.#ctx.options.events?.answered(this.#facts(), [{ side: 'callee', dialog }]);
    this.#log.info('originated call answered');
    this.#outcome({ kind: 'answered', at: this.#phase.at });
    this.#safely(() => this.#app.start((reason) => this.hangUp(reason)));
  }

  /** A 2xx we do not want (after CANCEL or a second fork): ACK and BYE it (§13.2.2.4). */
  #ackStray(response: SipResponse): void {
    const phase = this.#phase;
    if (phase.kind === 'answered' && phase.dialog.remoteTag === tagOf(response.to)) {
      const via = this.#ctx.options.addressing.via(phase.dialog.destination.transport);
      this.#ctx.transactions.sendStateless(phase.dialog.createRequest('ACK', via, { cseq: response.cseq.seq }), phase.dialog.destination);
      return;
    }
    const dialog = this.#dialogFor(response);
    const via = this.#ctx.options.addressing.via(dialog.destination.transport);
    this.#ctx.transactions.sendStateless(dialog.createRequest('ACK', via, { cseq: response.cseq.seq }), dialog.destination);
    try {
      this.#ctx.transactions.sendRequest(dialog.createRequest('BYE', via), dialog.destination, { onFinal: () => undefined });
    } catch {
      // nothing more to do for a call we never wanted
    }
  }

  #noAnswer(): void {
    const phase = this.#phase;
    if (phase.kind !== 'calling') return;
    this.#log.info('no answer: CANCEL');
    phase.transaction?.cancel();
    this.#fail(480, 'No Answer');
  }

  #fail(status: number, reason: string): void {
    const phase = this.#phase;
    if (phase.kind !== 'calling') return;
    clearTimeout(phase.timer);
    this.#log.info({ status }, 'originated call failed');
    this.#outcome({ kind: 'failed', status, reason });
    this.#end(`failed ${status}`, status);
  }

  #outcome(outcome: OriginateOutcome): void {
    if (this.#outcomeSent) return;
    this.#outcomeSent = true;
    this.#onOutcome(outcome);
  }

  onRequest(_side: CallSide, transaction: ServerTransaction): void {
    const request = transaction.request;
    const phase = this.#phase;
    if (phase.kind !== 'answered') {
      transaction.respond(481);
      return;
    }
    if (!phase.dialog.acceptRemoteSequence(request)) {
      transaction.respond(500, { reason: 'CSeq Out of Order' });
      return;
    }
    switch (request.method) {
      case 'BYE':
        transaction.respond(200);
        this.#end('far end hung up', null);
        return;
      case 'INVITE': {
        if (this.#pendingAck !== null) {
          transaction.respond(491);
          return;
        }
        phase.dialog.refreshTarget(request);
        let answer: Buffer;
        try {
          if (request.body.length === 0) throw new Error('re-INVITE without SDP offer');
          answer = this.#app.answer(request.body);
        } catch (error) {
          this.#log.info({ err: String(error) }, 're-INVITE refused (488)');
          transaction.respond(488);
          return;
        }
        const sent = transaction.respond(200, { contact: [phase.dialog.contact], contentType: 'application/sdp', body: answer, headers: [ALLOW] });
        if (sent !== null) {
          this.#pendingAck = new AckWait(
            { transactions: this.#ctx.transactions, t1Ms: this.#ctx.options.t1Ms, t2Ms: this.#ctx.options.t2Ms },
            sent,
            phase.dialog.destination,
            () => undefined,
            () => {
              this.#pendingAck = null;
            },
          );
        }
        return;
      }
      case 'INFO':
      case 'OPTIONS':
        transaction.respond(200, { headers: [ALLOW] });
        return;
      default:
        transaction.respond(501, { headers: [ALLOW] });
    }
  }

  onAck(_side: CallSide, ack: SipRequest): void {
    if (this.#pendingAck?.acknowledge(ack)) this.#pendingAck = null;
  }

  hangUp(reason: string): void {
    const phase = this.#phase;
    if (phase.kind === 'ended') return;
    if (phase.kind === 'calling') {
      phase.transaction?.cancel();
      this.#fail(487, 'Request Terminated');
      return;
    }
    const via = this.#ctx.options.addressing.via(phase.dialog.destination.transport);
    try {
      this.#ctx.transactions.sendRequest(phase.dialog.createRequest('BYE', via), phase.dialog.destination, { onFinal: () => undefined });
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not send BYE');
    }
    this.#end(reason, null);
  }

  #end(reason: string, status: number | null): void {
    const phase = this.#phase;
    if (phase.kind === 'ended') return;
    const answered = phase.kind === 'answered';
    this.#pendingAck?.cancel();
    this.#phase = { kind: 'ended', reason };
    this.#ctx.registry.unbind(this.callId, tagOf(this.#request.from) ?? '');
    this.#ctx.registry.ended(this);
    this.#safely(() => this.#app.stop());
    this.#ctx.options.events?.ended(
      { callId: this.callId, caller: this.#caller.extension, callee: this.#decision.target, startedAt: this.startedAt, answeredAt: answered ? phase.at : null },
      { answered, status: answered ? null : status, reason },
    );
    this.#log.info({ reason }, 'originated call ended');
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error instanceof Error ? error.stack : String(error) }, 'originating application failed');
    }
  }
}

function sipUri(user: string, host: string): SipUri {
  return { kind: 'sip', secure: false, user, password: null, host, port: null, params: new Map(), headers: new Map() };
}
