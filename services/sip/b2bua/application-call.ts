/**
 * A call the PBX answers itself: one dialog with the caller (we are its UAS, RFC 3261 §13.3) whose
 * media belongs to a local application (conference, echo test, later voicemail and the receptionist).
 * Phases: answered (200 sent, waiting for ACK) → running → ended.
 */
import type { Logger } from '../../log.js';
import { uasDialogFor, type Dialog } from '../dialog.js';
import type { SipRequest } from '../message.js';
import type { ServerTransaction } from '../types.js';
import { AckWait } from './ack-wait.js';
import { ALLOW, B2buaCall, type CallContext, type DialogOwner } from './call.js';
import type { ApplicationControl, ReinviteOutcome, CallFacts, CallMedia, CallPhase, CallSide, CallSummary, Caller, LocalApplication, RingDecision, RouteDecision, TransferOutcome } from './types.js';

/** `early`: playing in early media (183), to end with `status` rather than an answer. */
type Phase =
  | { kind: 'early'; status: number; reason: string }
  | { kind: 'answered'; wait: AckWait }
  | { kind: 'running' }
  | { kind: 'ended'; reason: string };

export class ApplicationCall implements DialogOwner {
  readonly callId: string;
  readonly startedAt = Date.now();
  #ctx: CallContext;
  #log: Logger;
  #invite: ServerTransaction;
  #caller: Caller;
  #name: string;
  #app: LocalApplication;
  #dialog: Dialog;
  #phase: Phase | { kind: 'starting' } = { kind: 'starting' };
  #reinvite: AckWait | null = null;
  /** Set when our 200 went out. */
  #answeredAt: number | null = null;
  /** The final status of a call that was never answered (for its record). */
  #failStatus = 488;
  /** our own re-INVITE in progress (§14.1: one at a time; a caller's re-INVITE meanwhile gets 491) */
  #ownReinvite = false;
  /** the ringing call of a transfer the application asked for (the caller stays here until it is answered) */
  #transfer: B2buaCall | null = null;

  /** `dialog`: the caller's dialog when a ringing call hands its INVITE over (a ring group's no-answer destination). */
  constructor(ctx: CallContext, invite: ServerTransaction, caller: Caller, decision: Extract<RouteDecision, { kind: 'application' }>, dialog?: Dialog) {
    this.#ctx = ctx;
    this.#invite = invite;
    this.#caller = caller;
    this.#name = decision.name;
    this.callId = invite.request.callId;
    this.#log = ctx.logger.child({ callId: this.callId, caller: caller.extension, application: decision.name });
    this.#dialog = dialog ?? uasDialogFor(invite.request, invite.source, ctx.options.addressing.contact(invite.source.transport, decision.name));
    this.#app = decision.create(this.callId, caller);

    let answer: Buffer;
    try {
      // A delayed offer (no SDP) would need us to offer; phones calling features always offer.
      if (invite.request.body.length === 0) throw new Error('INVITE without SDP offer');
      answer = this.#app.answer(invite.request.body);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'application cannot answer this offer');
      invite.respond(488, { toTag: this.#dialog.localTag });
      this.#end('offer not acceptable', false);
      return;
    }
    ctx.registry.bind(this.callId, this.#dialog.localTag, this, 'caller');
    if (decision.earlyMedia !== undefined) {
      this.#startEarly(answer, decision.earlyMedia);
      return;
    }
    this.#answeredAt = Date.now();
    const sent = invite.respond(200, {
      toTag: this.#dialog.localTag,
      contact: [this.#dialog.contact],
      contentType: 'application/sdp',
      body: answer,
      headers: [ALLOW],
    });
    const wait = new AckWait(
      this.#ackOptions(),
      sent,
      this.#dialog.destination,
      () => this.#started(),
      () => {
        this.#log.warn('no ACK for our 2xx: hanging up (RFC 3261 §13.3.1.4)');
        this.hangUp('no ACK');
      },
    );
    this.#phase = { kind: 'answered', wait };
    ctx.options.events?.answered(this.#facts(), [{ side: 'caller', dialog: this.#dialog }]);
    this.#log.info('answered by application');
  }

  get phase(): CallPhase {
    return this.#phase.kind === 'ended' ? 'ended' : this.#phase.kind === 'early' ? 'ringing' : 'answered';
  }

  /** RFC 3960 early media: 183 with our SDP, the application runs at once, its hang-up sends the final status. */
  #startEarly(answer: Buffer, final: { status: number; reason: string }): void {
    this.#invite.respond(183, { toTag: this.#dialog.localTag, contact: [this.#dialog.contact], contentType: 'application/sdp', body: answer });
    this.#phase = { kind: 'early', status: final.status, reason: final.reason };
    this.#failStatus = final.status;
    this.#invite.onCancel(() => {
      if (this.#phase.kind !== 'early') return;
      this.#failStatus = 487;
      this.#invite.respond(487, { toTag: this.#dialog.localTag });
      this.#end('cancelled by caller', true);
    });
    this.#log.info({ status: final.status }, 'early media by application');
    this.#safely('start', () => this.#app.start((reason) => this.hangUp(reason)));
  }

  summary(): CallSummary {
    return {
      callId: this.callId,
      caller: this.#caller.extension,
      callee: this.#name,
      phase: this.phase,
      trunk: this.#caller.trunk ?? null,
      startedAt: this.startedAt,
      answeredAt: this.#phase.kind === 'early' ? null : this.startedAt,
      contacts: 0,
    };
  }

  onAck(_side: CallSide, ack: SipRequest): void {
    if (this.#phase.kind === 'answered') {
      this.#phase.wait.acknowledge(ack);
      return;
    }
    if (this.#reinvite?.acknowledge(ack)) this.#reinvite = null;
  }

  onRequest(_side: CallSide, transaction: ServerTransaction): void {
    const request = transaction.request;
    if (this.#phase.kind === 'ended') {
      transaction.respond(481);
      return;
    }
    if (!this.#dialog.acceptRemoteSequence(request)) {
      transaction.respond(500, { reason: 'CSeq Out of Order' });
      return;
    }
    switch (request.method) {
      case 'BYE':
        transaction.respond(200);
        // §15: a BYE on the early dialog ends the INVITE too (487, as for CANCEL).
        if (this.#phase.kind === 'early') {
          this.#failStatus = 487;
          this.#invite.respond(487, { toTag: this.#dialog.localTag });
        }
        this.#end('caller hung up', true);
        return;
      case 'INVITE':
        if (this.#phase.kind === 'early') {
          transaction.respond(491);
          return;
        }
        this.#reanswer(transaction);
        return;
      case 'INFO':
        transaction.respond(200);
        this.#safely('info', () => this.#app.info?.(request.contentType, request.body));
        return;
      case 'OPTIONS':
        transaction.respond(200, { headers: [ALLOW] });
        return;
      default:
        transaction.respond(501, { headers: [ALLOW] });
    }
  }

  hangUp(reason: string): void {
    if (this.#phase.kind === 'ended') return;
    if (this.#phase.kind === 'early') {
      const { status, reason: phrase } = this.#phase;
      try {
        this.#invite.respond(status, { toTag: this.#dialog.localTag, reason: phrase });
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'could not send the final response');
      }
      this.#end(reason, true);
      return;
    }
    const via = this.#ctx.options.addressing.via(this.#dialog.destination.transport);
    const bye = this.#dialog.createRequest('BYE', via);
    try {
      this.#ctx.transactions.sendRequest(bye, this.#dialog.destination, { onFinal: () => undefined });
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not send BYE');
    }
    this.#end(reason, true);
  }

  /** A re-INVITE (hold, codec change): the application answers the new offer (§14.2). */
  #reanswer(transaction: ServerTransaction): void {
    if (this.#reinvite !== null || this.#ownReinvite || this.#phase.kind === 'answered') {
      transaction.respond(491);
      return;
    }
    this.#dialog.refreshTarget(transaction.request);
    this.#ctx.options.events?.dialogChanged(this.callId, 'caller', this.#dialog);
    let answer: Buffer;
    try {
      if (transaction.request.body.length === 0) throw new Error('re-INVITE without SDP offer');
      answer = this.#app.answer(transaction.request.body);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'application cannot answer the re-INVITE');
      transaction.respond(488);
      return;
    }
    const sent = transaction.respond(200, { contact: [this.#dialog.contact], contentType: 'application/sdp', body: answer, headers: [ALLOW] });
    this.#reinvite = new AckWait(this.#ackOptions(), sent, this.#dialog.destination, () => undefined, () => {
      this.#reinvite = null;
    });
  }

  #started(): void {
    if (this.#phase.kind !== 'answered') return;
    this.#phase = { kind: 'running' };
    const control: ApplicationControl = {
      transfer: (decision, media) => this.#startTransfer(decision, media),
      reinvite: (offer) => this.#sendReinvite(offer),
    };
    this.#safely('start', () => this.#app.start((reason) => this.hangUp(reason), control));
  }

  /** §14.1: our re-INVITE inside the caller's dialog; a 2xx is ACKed here (§13.2.2.4). */
  #sendReinvite(offer: Buffer): Promise<ReinviteOutcome> {
    return new Promise((resolve) => {
      if (this.#phase.kind !== 'running' || this.#reinvite !== null || this.#ownReinvite || this.#transfer !== null) {
        resolve({ status: 491, answer: null });
        return;
      }
      this.#ownReinvite = true;
      const via = this.#ctx.options.addressing.via(this.#dialog.destination.transport);
      const request = this.#dialog.createRequest('INVITE', via, { body: offer, contentType: 'application/sdp', headers: [ALLOW] });
      this.#ctx.options.events?.dialogChanged(this.callId, 'caller', this.#dialog);
      const done = (status: number, answer: Buffer | null): void => {
        if (!this.#ownReinvite) return;
        this.#ownReinvite = false;
        resolve({ status, answer });
      };
      try {
        this.#ctx.transactions.sendRequest(request, this.#dialog.destination, {
          onFinal: (response) => {
            if (response.status >= 200 && response.status < 300) {
              const ack = this.#dialog.createRequest('ACK', via, { cseq: request.cseq.seq });
              this.#ctx.transactions.sendStateless(ack, this.#dialog.destination);
              this.#dialog.refreshTarget(response);
            }
            done(response.status, response.status < 300 && response.body.length > 0 ? response.body : null);
          },
          onAdditional2xx: (response) => {
            this.#ctx.transactions.sendStateless(this.#dialog.createRequest('ACK', via, { cseq: response.cseq.seq }), this.#dialog.destination);
          },
          onTimeout: (kind) => done(kind === 'timeout' ? 408 : 503, null),
        });
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'could not send re-INVITE');
        done(503, null);
      }
    });
  }

  /**
   * The application hands the caller on (RFC 3261 has no word for it inside one B2BUA; it is a
   * REFER-like re-route without the REFER): a ringing call on the same caller dialog. Once a
   * contact answers, that call owns the dialog and this one ends without a BYE.
   */
  #startTransfer(decision: RingDecision, media: CallMedia): Promise<TransferOutcome> {
    return new Promise((resolve) => {
      if (this.#phase.kind !== 'running' || this.#transfer !== null) {
        resolve({ kind: 'failed', status: 491 });
        return;
      }
      this.#log.info({ target: decision.target }, 'application transfers the caller');
      let settled = false;
      const call = new B2buaCall(
        this.#ctx,
        {
          kind: 'transfer',
          dialog: this.#dialog,
          media,
          done: (outcome) => {
            if (settled) return;
            settled = true;
            this.#transfer = null;
            if (outcome.kind === 'answered') this.#end('transferred', false);
            resolve(outcome);
          },
        },
        this.#caller,
        decision,
      );
      if (call.phase !== 'ended') {
        this.#transfer = call;
        this.#ctx.registry.started(call);
      }
    });
  }

  #end(reason: string, bound: boolean): void {
    if (this.#phase.kind === 'ended') return;
    if (this.#phase.kind === 'answered') this.#phase.wait.cancel();
    this.#reinvite?.cancel();
    this.#phase = { kind: 'ended', reason };
    // The caller left while a transfer was ringing: stop ringing.
    const transfer = this.#transfer;
    this.#transfer = null;
    transfer?.hangUp(reason);
    if (bound) this.#ctx.registry.unbind(this.callId, this.#dialog.localTag);
    this.#safely('stop', () => this.#app.stop());
    this.#ctx.registry.ended(this);
    // Answered by the application (and, when transferred, handed over to the bridged call's record).
    const answered = this.#answeredAt !== null;
    this.#ctx.options.events?.ended({ ...this.#facts(), answeredAt: answered ? this.#answeredAt : null }, { answered, status: answered ? null : this.#failStatus, reason });
    this.#log.info({ reason, seconds: Math.round((Date.now() - this.startedAt) / 1000) }, 'application call ended');
  }

  #facts(): CallFacts {
    return { callId: this.callId, caller: this.#caller.extension, callee: this.#name, startedAt: this.startedAt, answeredAt: this.#answeredAt };
  }

  #ackOptions(): { transactions: CallContext['transactions']; t1Ms: number; t2Ms: number } {
    return { transactions: this.#ctx.transactions, t1Ms: this.#ctx.options.t1Ms, t2Ms: this.#ctx.options.t2Ms };
  }

  /** An application bug ends its call, never the process. */
  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error instanceof Error ? error.stack : String(error), what }, 'application failed');
      if (what !== 'stop') this.hangUp('application error');
    }
  }
}
