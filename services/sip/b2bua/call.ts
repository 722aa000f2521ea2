/**
 * One call through the B2BUA: the caller's leg (we are its UAS) and, until someone answers, one
 * outgoing INVITE per registered contact of the callee (we are their UAC; they ring in parallel).
 * The first 2xx wins; the other contacts get CANCEL (or ACK + BYE when their 2xx crosses ours).
 *
 * Phases (RFC 3261 §13, §15): ringing → answered → ended. Requests inside the dialog are relayed
 * from one leg to the other: BYE ends both (§15.1), re-INVITE and INFO are relayed with their
 * answers (§14), and the media policy rewrites every SDP on the way.
 */
import type { Logger } from '../../log.js';
import { authorizationHeader, readChallenge } from '../auth/digest-client.js';
import { AckWait } from './ack-wait.js';
import { createResponse, newBranch, newCallId, newTag } from '../build.js';
import { uacDialogFor, uasDialogFor, type Dialog } from '../dialog.js';
import { formatUri } from '../uri.js';
import { tagOf, type NameAddr, type RawHeader, type SipRequest, type SipResponse, type SipUri } from '../message.js';
import type { ClientTransaction, ClientTransactionHandlers, Endpoint, ServerTransaction, TransactionLayer } from '../types.js';
import type { B2buaOptions, CallFacts, CallMedia, CallPhase, CallSide, CallSummary, CalleeContact, Caller, InCallHandle, RingDecision, RingStage, TransferOutcome } from './types.js';
import { ApplicationCall } from './application-call.js';

/** The methods a dialog of ours accepts (RFC 3261 §20.5). */
export const ALLOW: RawHeader = { name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE' };

/** The index the B2BUA keeps of which dialog belongs to which call. */
export interface CallRegistry {
  bind(callId: string, localTag: string, call: DialogOwner, side: CallSide): void;
  unbind(callId: string, localTag: string): void;
  /** A call that did not come from a new INVITE (a transfer) joins the B2BUA's list. */
  started(call: DialogOwner): void;
  ended(call: DialogOwner): void;
  /** The call and side a dialog of ours (Call-ID, our tag) belongs to. */
  find(callId: string, localTag: string): { call: DialogOwner; side: CallSide } | undefined;
}

/**
 * Who the caller is to this call: a new INVITE we answer when someone picks up, or a caller an
 * application already answered and hands on (transfer): its dialog continues, and the outcome is
 * reported to the application instead of a response.
 */
export type CallerLeg =
  | { kind: 'invite'; transaction: ServerTransaction }
  | { kind: 'transfer'; dialog: Dialog; media: CallMedia; done(outcome: TransferOutcome): void };

/** Fallbacks followed at most this many times per call (a ring group's no-answer may point to another). */
const MAX_FALLBACKS = 5;

/** What the B2BUA routes requests and ACKs of a dialog to: a relayed call or a local application. */
export interface DialogOwner {
  readonly phase: CallPhase;
  onRequest(side: CallSide, transaction: ServerTransaction): void;
  onAck(side: CallSide, ack: SipRequest): void;
  summary(): CallSummary;
  hangUp(reason: string): void;
}

type ForkState = 'calling' | 'ringing' | 'answered' | 'failed';

interface Fork {
  contact: CalleeContact;
  request: SipRequest;
  transaction: ClientTransaction | null;
  state: ForkState;
  finalStatus: number | null;
  /** Digest answers sent (one per challenge: a second challenge means the credentials are wrong). */
  authAttempts: number;
}

/**
 * What a fork's INVITE client transaction holds. The transaction outlives the call: it stays 32 s in
 * Accepted (RFC 6026 Timer M) or Completed (Timer D) to absorb retransmissions, and handlers that
 * closed over the call kept all of it (media, dialogs, forks, logger) that long. When the call ends
 * the link lets go of the call and keeps only what a late 2xx needs (RFC 3261 §13.2.2.4: ACK every
 * 2xx; a dialog nobody wants is hung up): the fork, the shared context, and the answered dialog's
 * identity.
 */
interface ForkLink {
  call: B2buaCall | null;
  readonly fork: Fork;
  ended: EndedFork | null;
}

interface EndedFork {
  readonly ctx: CallContext;
  /** Our Contact, should the fork's INVITE carry none (it always does). */
  readonly contact: NameAddr;
  /** The dialog the call was answered on, when it was this fork: its 2xx is only ACKed again. */
  readonly answered: { callId: string; remoteTag: string | null; ack: boolean } | null;
}

/** Counts B2buaCall objects until the garbage collector frees them (`callObjectsInMemory`). */
const liveCalls = new FinalizationRegistry<null>(() => {
  liveCallObjects--;
});
let liveCallObjects = 0;

/**
 * B2BUA call objects not yet garbage-collected (for `pbxctl status` and the memory test): it falls
 * back to the calls in progress after the next collection, not 32 s after each call.
 */
export function callObjectsInMemory(): number {
  return liveCallObjects;
}

interface PendingReinvite {
  from: CallSide;
  transaction: ServerTransaction;
}

type Phase =
  | { kind: 'ringing'; noAnswer: NodeJS.Timeout; provisionalSent: boolean; earlyMediaFork: Fork | null; earlyAnswer?: { from: Buffer; sent: Buffer } }
  | { kind: 'answered'; at: number; callee: Dialog }
  | { kind: 'ended'; reason: string };

export interface CallContext {
  options: B2buaOptions;
  transactions: TransactionLayer;
  registry: CallRegistry;
  logger: Logger;
}

export class B2buaCall implements DialogOwner {
  readonly callId: string;
  readonly caller: Caller;
  readonly target: string;
  /** The trunk the call came in on or goes out through (a forward to the carrier after no answer changes it). */
  trunk: string | null;
  readonly startedAt = Date.now();
  #ctx: CallContext;
  /** Built on first use: a pino child per call costs more than the call's logging at warn level. */
  #logger: Logger | null = null;
  #leg: CallerLeg;
  #callerDialog: Dialog;
  /** our dialog with the caller is in the registry under this call (a transfer's only once answered) */
  #callerBound = false;
  #forks: Fork[] = [];
  /** one per fork transaction sent: cut when the call ends (ForkLink) */
  #links: ForkLink[] = [];
  /** what is being rung: its rounds, the current one and its forks */
  #decision: RingDecision;
  #stages: RingStage[] = [];
  #stage = -1;
  #stageForks: Fork[] = [];
  #offer: Buffer = Buffer.alloc(0);
  #fallbacks = 0;
  #media: CallMedia;
  #phase: Phase;
  #pendingAck = new Map<CallSide, AckWait>();
  #reinvite: PendingReinvite | null = null;
  /** The caller sent no SDP: the callee's 2xx carries the offer and the caller's ACK the answer (§13.2.1). */
  #delayedOffer: boolean;
  /** The final failure status the caller got, for the call's record. */
  #finalStatus: number | null = null;
  /** sides whose dialog left this call (transferred, replaced away, hung up during a transfer) */
  #released = new Set<CallSide>();
  #inCall: InCallHandle | null = null;
  #parties: Partial<Record<CallSide, Caller>> = {};

  constructor(ctx: CallContext, leg: CallerLeg, caller: Caller, decision: RingDecision) {
    liveCallObjects++;
    liveCalls.register(this, null);
    this.#ctx = ctx;
    this.#leg = leg;
    this.caller = caller;
    this.target = decision.target;
    this.#decision = decision;
    this.trunk = decision.trunk ?? caller.trunk ?? null;
    if (leg.kind === 'invite') {
      const invite = leg.transaction;
      this.callId = invite.request.callId;
      this.#media = ctx.options.media.create(this.callId);
      this.#delayedOffer = invite.request.body.length === 0;
      this.#callerDialog = uasDialogFor(invite.request, invite.source, ctx.options.addressing.contact(invite.source.transport, decision.target));
      ctx.registry.bind(this.callId, this.#callerDialog.localTag, this, 'caller');
      this.#callerBound = true;
      invite.onCancel(() => this.#cancelledByCaller());
    } else {
      this.callId = leg.dialog.callId;
      this.#media = leg.media;
      this.#delayedOffer = false;
      this.#callerDialog = leg.dialog;
    }
    const noAnswer = setTimeout(() => this.#noAnswer(), ctx.options.noAnswerMs);
    this.#phase = { kind: 'ringing', noAnswer, provisionalSent: leg.kind === 'transfer', earlyMediaFork: null };
    this.#ring(decision);
  }

  /** Our Allow, with what the in-call features add (REFER). */
  get #allow(): typeof ALLOW {
    const extra = this.#ctx.options.inCall?.methods ?? [];
    return extra.length === 0 ? ALLOW : { name: ALLOW.name, value: `${ALLOW.value}, ${extra.join(', ')}` };
  }

  get #log(): Logger {
    this.#logger ??= this.#ctx.logger.child({ callId: this.callId, caller: this.caller.extension, callee: this.target });
    return this.#logger;
  }

  get phase(): CallPhase {
    return this.#phase.kind;
  }

  summary(): CallSummary {
    return {
      callId: this.callId,
      caller: this.caller.extension,
      callee: this.target,
      phase: this.#phase.kind,
      trunk: this.trunk,
      startedAt: this.startedAt,
      answeredAt: this.#phase.kind === 'answered' ? this.#phase.at : null,
      contacts: this.#forks.length,
    };
  }

  #facts(): CallFacts {
    const phase = this.#phase;
    return { callId: this.callId, caller: this.caller.extension, callee: this.target, startedAt: this.startedAt, answeredAt: phase.kind === 'answered' ? phase.at : null };
  }

  /** The media of this call, for features that take over a leg. */
  get media(): CallMedia {
    return this.#media;
  }

  // ---- ringing: one INVITE per contact (parallel forking) -------------------------------------

  #ring(decision: RingDecision): void {
    const body = this.#leg.kind === 'invite' ? this.#leg.transaction.request.body : Buffer.alloc(0);
    try {
      this.#offer = this.#delayedOffer ? Buffer.alloc(0) : this.#media.offerToCallee(body);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'unusable SDP offer from caller');
      this.#fail(488, 'Not Acceptable Here');
      return;
    }
    this.#startRounds(decision);
  }

  #startRounds(decision: RingDecision): void {
    this.#decision = decision;
    if (decision.trunk !== undefined) this.trunk = decision.trunk;
    this.#stages = decision.stages ?? [{ contacts: decision.contacts, ringMs: this.#ctx.options.noAnswerMs }];
    this.#stage = -1;
    this.#nextStage();
  }

  /** The next round with someone to ring (rounds without a contact are skipped at once), or what follows the last. */
  #nextStage(): void {
    const phase = this.#phase;
    if (phase.kind !== 'ringing') return;
    this.#cancelForks();
    clearTimeout(phase.noAnswer);
    while (++this.#stage < this.#stages.length) {
      const stage = this.#stages[this.#stage] as RingStage;
      if (stage.contacts.length === 0) continue;
      if (stage.onlyIf !== undefined && !stage.onlyIf(this.#forks.map((f) => f.finalStatus ?? 480))) continue;
      phase.noAnswer = setTimeout(() => this.#noAnswer(), stage.ringMs);
      const request = this.#leg.kind === 'invite' ? this.#leg.transaction.request : null;
      const maxForwards = Math.min((request?.maxForwards ?? 70) - 1, 70);
      const forks = stage.contacts.map((contact) => this.#createFork(contact, this.#decision, this.#offer, maxForwards));
      this.#forks.push(...forks);
      this.#stageForks = forks;
      if (this.#stages.length > 1) this.#log.info({ round: this.#stage + 1, contacts: forks.length, ringMs: stage.ringMs }, 'ringing round');
      // Sent after every fork exists, so a synchronous failure of the first cannot end the round early.
      for (const fork of forks) this.#sendFork(fork);
      return;
    }
    this.#exhausted();
  }

  /** Nobody answered in any round: the fallback if there is one, else the most useful failure. */
  #exhausted(): void {
    const [status, reason] = bestFailure(this.#forks.map((f) => f.finalStatus ?? 480));
    const fallback = this.#decision.fallback;
    if (fallback === undefined || this.#leg.kind !== 'invite' || this.#fallbacks >= MAX_FALLBACKS) {
      this.#fail(status, reason);
      return;
    }
    this.#fallbacks++;
    const next = fallback({ status });
    this.#log.info({ next: next.kind, ...(next.kind === 'ring' ? { target: next.target } : next.kind === 'application' ? { application: next.name } : { status: next.status }) }, 'no answer: fallback');
    switch (next.kind) {
      case 'ring':
        this.#startRounds(next);
        return;
      case 'reject':
        this.#fail(next.status, next.reason);
        return;
      case 'application': {
        // The caller's INVITE is still pending: the application answers it, in the dialog we began.
        const invite = this.#leg.transaction;
        const dialog = this.#callerDialog;
        this.#end('no answer: handed to an application');
        try {
          const call = new ApplicationCall(this.#ctx, invite, this.caller, next, dialog);
          if (call.phase !== 'ended') this.#ctx.registry.started(call);
        } catch (error) {
          this.#log.error({ err: String(error) }, 'fallback application could not start');
          invite.respond(503, { toTag: dialog.localTag });
        }
        return;
      }
    }
  }

  #createFork(contact: CalleeContact, decision: RingDecision, offer: Buffer, maxForwards: number): Fork {
    const { addressing, realm } = this.#ctx.options;
    const transport = contact.destination.transport;
    const via = addressing.via(transport);
    const fromTag = newTag();
    const callId = newCallId(via.host);
    // Toward a carrier the caller ID is the user's number at the carrier's host, and To names the
    // dialled number as the Request-URI does; between phones both are extensions at our realm.
    const callerId = decision.from ?? { user: this.caller.extension, displayName: this.caller.displayName, host: realm };
    const from: NameAddr = {
      displayName: callerId.displayName || null,
      uri: sipUri(callerId.user, callerId.host),
      params: new Map([['tag', fromTag]]),
    };
    const toUri = decision.trunk !== undefined && contact.uri.kind === 'sip' ? sipUri(contact.uri.user ?? decision.target, contact.uri.host) : sipUri(decision.target, realm);
    const to: NameAddr = { displayName: decision.displayName || null, uri: toUri, params: new Map() };
    const request: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: contact.uri,
      via: [{ ...via, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }],
      from,
      to,
      callId,
      cseq: { seq: 1, method: 'INVITE' },
      maxForwards,
      contact: [addressing.contact(transport, this.caller.extension)],
      route: [],
      recordRoute: [],
      expires: null,
      contentType: offer.length > 0 ? 'application/sdp' : null,
      headers: decision.headers === undefined ? [this.#allow] : [this.#allow, ...decision.headers],
      body: offer,
    };
    return { contact, request, transaction: null, state: 'calling', finalStatus: null, authAttempts: 0 };
  }

  #sendFork(fork: Fork): void {
    if (this.#phase.kind !== 'ringing' || fork.state !== 'calling' || fork.transaction !== null) return;
    this.#ctx.registry.bind(fork.request.callId, tagOf(fork.request.from) ?? '', this, 'callee');
    try {
      const link: ForkLink = { call: this, fork, ended: null };
      this.#links.push(link);
      fork.transaction = this.#ctx.transactions.sendRequest(fork.request, fork.contact.destination, B2buaCall.#forkHandlers(link));
    } catch (error) {
      this.#log.warn({ err: String(error), destination: fork.contact.destination }, 'could not send INVITE to contact');
      this.#forkFailed(fork, 503);
    }
  }

  /**
   * Static so that the closures hold the link, never the call (ForkLink). After the call ended, a
   * 2xx (a final crossing our CANCEL, another branch's, a retransmission) is still ACKed, and hung
   * up unless it is the dialog the call had (§13.2.2.4); anything else is absorbed.
   */
  static #forkHandlers(link: ForkLink): ClientTransactionHandlers {
    const late = (response: SipResponse): void => {
      if (link.ended !== null && response.status >= 200 && response.status < 300) endedFork2xx(link.ended, link.fork, response);
    };
    return {
      onProvisional: (response) => {
        if (link.call !== null) link.call.#forkProvisional(link.fork, response);
      },
      onFinal: (response) => (link.call !== null ? link.call.#forkFinal(link.fork, response) : late(response)),
      onAdditional2xx: (response) => (link.call !== null ? link.call.#ackFork(link.fork, response) : late(response)),
      onTimeout: (kind) => {
        if (link.call !== null) link.call.#forkFailed(link.fork, kind === 'timeout' ? 408 : 503);
      },
    };
  }

  #forkProvisional(fork: Fork, response: SipResponse): void {
    if (response.status === 100 || this.#phase.kind !== 'ringing') return;
    if (fork.state === 'calling') fork.state = 'ringing';
    const phase = this.#phase;
    // A transferred caller hears what the application plays while it rings, not early media.
    if (response.body.length > 0 && phase.earlyMediaFork === null && !this.#delayedOffer && this.#leg.kind === 'invite') {
      // Early media (RFC 3960): only the first contact that sends SDP is heard.
      let answer: Buffer;
      try {
        answer = this.#media.answerToCaller(response.body);
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'unusable early-media SDP ignored');
        return;
      }
      phase.earlyMediaFork = fork;
      phase.earlyAnswer = { from: response.body, sent: answer };
      phase.provisionalSent = true;
      this.#respondCaller(response.status, { body: answer, contentType: 'application/sdp' });
      return;
    }
    if (!phase.provisionalSent) {
      phase.provisionalSent = true;
      this.#respondCaller(180);
    }
  }

  #forkFinal(fork: Fork, response: SipResponse): void {
    if (response.status >= 200 && response.status < 300) {
      this.#forkAnswered(fork, response);
      return;
    }
    if ((response.status === 401 || response.status === 407) && this.#retryWithCredentials(fork, response)) return;
    this.#forkFailed(fork, response.status);
  }

  /**
   * RFC 3261 §22.2: the carrier challenged our INVITE; the same INVITE goes again with the trunk's
   * credentials, CSeq + 1 and a new branch (§8.1.3.5). Once only: a second challenge is a failure.
   */
  #retryWithCredentials(fork: Fork, response: SipResponse): boolean {
    const credentials = fork.contact.credentials;
    if (credentials === undefined || fork.authAttempts > 0 || this.#phase.kind !== 'ringing' || fork.state === 'failed') return false;
    const challenge = readChallenge(response);
    if (challenge === null) return false;
    fork.authAttempts++;
    const previous = fork.request;
    const uri = formatUri(previous.uri);
    const [firstVia, ...otherVias] = previous.via;
    if (firstVia === undefined) return false;
    fork.request = {
      ...previous,
      via: [{ ...firstVia, params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]) }, ...otherVias],
      cseq: { seq: previous.cseq.seq + 1, method: 'INVITE' },
      headers: [...previous.headers.filter((h) => h.name !== challenge.header), authorizationHeader(challenge, credentials, 'INVITE', uri)],
    };
    fork.state = 'calling';
    // The challenged transaction is over (the layer ACKed the 407); the retry is a new one.
    fork.transaction = null;
    this.#sendFork(fork);
    return true;
  }

  #forkFailed(fork: Fork, status: number): void {
    if (fork.state === 'failed' || fork.state === 'answered') return;
    fork.state = 'failed';
    fork.finalStatus = status;
    this.#ctx.registry.unbind(fork.request.callId, tagOf(fork.request.from) ?? '');
    this.#log.info({ contact: fork.contact.destination, status }, 'contact did not answer');
    if (this.#phase.kind !== 'ringing') return;
    // Everyone of this round refused (busy, unavailable): the next round at once, not at the timer.
    if (this.#stageForks.includes(fork) && this.#stageForks.every((f) => f.state === 'failed')) this.#nextStage();
  }

  #forkAnswered(fork: Fork, response: SipResponse): void {
    const dialog = this.#forkDialog(fork, response);
    if (this.#phase.kind !== 'ringing') {
      // Another contact answered first, or the caller hung up: this one is not wanted (§13.2.2.4).
      this.#sendInDialog(dialog, 'ACK', { cseq: fork.request.cseq.seq });
      this.#sendInDialog(dialog, 'BYE');
      fork.state = 'failed';
      this.#ctx.registry.unbind(fork.request.callId, dialog.localTag);
      return;
    }
    clearTimeout(this.#phase.noAnswer);
    // RFC 3261 §13.2.1: the SDP answer of an unreliable 183 is repeated in the 2xx; that offer/answer
    // exchange is already done, so the caller gets the same answer again (a changed one is ignored).
    const early = this.#phase.earlyMediaFork === fork ? this.#phase.earlyAnswer : undefined;
    fork.state = 'answered';
    for (const other of this.#forks) {
      if (other !== fork && other.state !== 'failed') {
        other.state = 'failed';
        other.finalStatus = 487;
        other.transaction?.cancel();
        this.#ctx.registry.unbind(other.request.callId, tagOf(other.request.from) ?? '');
      }
    }
    this.#phase = { kind: 'answered', at: Date.now(), callee: dialog };
    if (this.#ctx.logger.isLevelEnabled('info')) this.#log.info({ contact: fork.contact.destination }, 'call answered');

    let body: Buffer;
    try {
      if (early !== undefined && response.body.length > 0 && !response.body.equals(early.from)) this.#log.warn('callee changed its SDP answer between the 183 and the 200: the first one stays');
      body = early !== undefined ? early.sent : this.#delayedOffer ? this.#media.reoffer('callee', response.body) : this.#media.answerToCaller(response.body);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'unusable SDP answer from callee');
      this.#sendInDialog(dialog, 'ACK', { cseq: fork.request.cseq.seq });
      this.#sendInDialog(dialog, 'BYE');
      this.#respondCaller(488);
      this.#end('callee SDP not acceptable');
      return;
    }
    if (!this.#delayedOffer) this.#sendInDialog(dialog, 'ACK', { cseq: fork.request.cseq.seq });
    this.#media.connected();
    if (this.#leg.kind === 'transfer') {
      // The caller was answered long ago: from now on its dialog is this call's.
      this.#ctx.registry.bind(this.callId, this.#callerDialog.localTag, this, 'caller');
      this.#callerBound = true;
      // The application's part of the call ends (its record closes) before this part's record opens.
      this.#leg.done({ kind: 'answered' });
      this.#ctx.options.events?.answered(this.#facts(), [
        { side: 'caller', dialog: this.#callerDialog },
        { side: 'callee', dialog },
      ]);
      return;
    }
    const sent = this.#respondCaller(200, { body, contentType: body.length > 0 ? 'application/sdp' : undefined, contact: [this.#callerDialog.contact] });
    this.#ctx.options.events?.answered(this.#facts(), [
      { side: 'caller', dialog: this.#callerDialog },
      { side: 'callee', dialog },
    ]);
    if (sent) {
      this.#expectAck('caller', sent, this.#callerDialog.destination, (ack) => {
        if (!this.#delayedOffer) return;
        // The caller's answer travels in its ACK; the callee has waited for it in ours.
        let answer: Buffer = Buffer.alloc(0);
        try {
          answer = this.#media.reanswer('caller', ack.body);
        } catch (error) {
          this.#log.warn({ err: String(error) }, 'unusable SDP answer in ACK');
        }
        this.#sendInDialog(dialog, 'ACK', { cseq: fork.request.cseq.seq, body: answer });
      });
    }
  }

  #ackFork(fork: Fork, response: SipResponse): void {
    const tag = tagOf(response.to);
    const phase = this.#phase;
    if (phase.kind === 'answered' && phase.callee.remoteTag === tag && phase.callee.callId === response.callId) {
      if (!this.#delayedOffer) this.#sendInDialog(phase.callee, 'ACK', { cseq: fork.request.cseq.seq });
      return;
    }
    // A 2xx from a second branch of the same contact: accept and hang it up.
    const dialog = this.#forkDialog(fork, response);
    this.#sendInDialog(dialog, 'ACK', { cseq: fork.request.cseq.seq });
    this.#sendInDialog(dialog, 'BYE');
  }

  #forkDialog(fork: Fork, response: SipResponse): Dialog {
    return forkDialog(fork, response, this.#callerDialog.contact);
  }

  #noAnswer(): void {
    if (this.#phase.kind !== 'ringing') return;
    this.#log.info({ round: this.#stage + 1 }, 'no answer before the timeout');
    this.#nextStage();
  }

  #cancelledByCaller(): void {
    if (this.#phase.kind !== 'ringing') return;
    this.#log.info('caller cancelled');
    this.#cancelForks();
    this.#respondCaller(487);
    this.#end('cancelled by caller');
  }

  #cancelForks(): void {
    for (const fork of this.#forks) {
      if (fork.state === 'calling' || fork.state === 'ringing') {
        fork.state = 'failed';
        fork.finalStatus = 487;
        fork.transaction?.cancel();
        this.#ctx.registry.unbind(fork.request.callId, tagOf(fork.request.from) ?? '');
      }
    }
  }

  #fail(status: number, reason?: string, why = `failed ${status}`): void {
    if (this.#phase.kind !== 'ringing') return;
    this.#respondCaller(status, reason === undefined ? {} : { reason });
    this.#end(why);
  }

  // ---- requests inside the dialog ---------------------------------------------------------------

  /** A request from one leg with our tag in its To: the B2BUA looked the dialog up by it. */
  onRequest(side: CallSide, transaction: ServerTransaction): void {
    const request = transaction.request;
    const phase = this.#phase;
    if (phase.kind !== 'answered') {
      transaction.respond(request.method === 'BYE' && side === 'caller' ? 200 : 481);
      if (request.method === 'BYE' && side === 'caller' && phase.kind === 'ringing') {
        this.#cancelForks();
        this.#respondCaller(487);
        this.#end('caller hung up while ringing');
      }
      return;
    }
    const [own, other] = side === 'caller' ? [this.#callerDialog, phase.callee] : [phase.callee, this.#callerDialog];
    if (this.#released.has(side)) {
      transaction.respond(481);
      return;
    }
    if (!own.acceptRemoteSequence(request)) {
      transaction.respond(500, { reason: 'CSeq Out of Order' });
      return;
    }
    // Hold, transfer: the in-call features (services/pbx/features/in-call/) answer what they own.
    if (this.#ctx.options.inCall?.request(this.inCall, side, transaction)) return;
    switch (request.method) {
      case 'BYE':
        transaction.respond(200);
        if (!this.#released.has(side === 'caller' ? 'callee' : 'caller')) this.#sendInDialog(other, 'BYE');
        this.#end(`${side} hung up`);
        return;
      case 'INVITE':
        this.#relayReinvite(side, transaction, own, other);
        return;
      case 'INFO':
      case 'UPDATE':
        if (request.method === 'INFO') this.#inCallInfo(side, request);
        this.#relayRequest(side, transaction, other);
        return;
      case 'OPTIONS':
        transaction.respond(200, { headers: [this.#allow] });
        return;
      default:
        transaction.respond(501, { headers: [this.#allow] });
    }
  }

  /** In-call features see the key presses sent as INFO (services/pbx/user-calls/three-way.ts); their failure is theirs. */
  #inCallInfo(side: CallSide, request: SipRequest): void {
    try {
      this.#ctx.options.infoHooks?.info(this, side, request.contentType, request.body);
    } catch (error) {
      this.#log.error({ err: String(error) }, 'in-call feature failed');
    }
  }

  /**
   * Our own re-INVITE toward one side (RFC 3261 §14.1): a feature changes that side's media (a
   * three-way call resumes a held party). Resolves with the answer SDP, null when refused.
   */
  reinvite(side: CallSide, offer: Buffer): Promise<Buffer | null> {
    const phase = this.#phase;
    if (phase.kind !== 'answered' || this.#reinvite !== null || this.#pendingAck.size > 0) return Promise.resolve(null);
    const dialog = side === 'caller' ? this.#callerDialog : phase.callee;
    const request = dialog.createRequest('INVITE', this.#ctx.options.addressing.via(dialog.destination.transport), { body: offer, headers: [this.#allow] });
    return new Promise((resolve) => {
      this.#send(request, dialog.destination, (response) => {
        if (this.#phase.kind === 'ended' || response.status < 200 || response.status >= 300) {
          resolve(null);
          return;
        }
        dialog.refreshTarget(response);
        this.#ctx.options.events?.dialogChanged(this.callId, side, dialog);
        this.#sendInDialog(dialog, 'ACK', { cseq: request.cseq.seq });
        resolve(response.body.length > 0 ? response.body : null);
      });
    });
  }

  onAck(side: CallSide, ack: SipRequest): void {
    if (this.#pendingAck.get(side)?.acknowledge(ack)) this.#pendingAck.delete(side);
  }

  #relayReinvite(from: CallSide, transaction: ServerTransaction, own: Dialog, other: Dialog): void {
    if (this.#reinvite !== null || this.#pendingAck.size > 0) {
      // §14.2: an INVITE is already in progress on this call.
      transaction.respond(491);
      return;
    }
    own.refreshTarget(transaction.request);
    let offer: Buffer = Buffer.alloc(0);
    try {
      offer = transaction.request.body.length > 0 ? this.#media.reoffer(from, transaction.request.body) : offer;
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'unusable SDP in re-INVITE');
      transaction.respond(488);
      return;
    }
    this.#reinvite = { from, transaction };
    const to: CallSide = from === 'caller' ? 'callee' : 'caller';
    const request = other.createRequest('INVITE', this.#ctx.options.addressing.via(other.destination.transport), {
      body: offer,
      headers: [this.#allow],
    });
    this.#send(request, other.destination, (response) => {
      this.#reinvite = null;
      if (this.#phase.kind === 'ended') return;
      if (response.status < 200 || response.status >= 300) {
        transaction.respond(response.status, { reason: response.reason });
        return;
      }
      other.refreshTarget(response);
      this.#ctx.options.events?.dialogChanged(this.callId, to, other);
      let answer: Buffer = Buffer.alloc(0);
      try {
        answer = response.body.length > 0 ? this.#media.reanswer(to, response.body) : answer;
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'unusable SDP answer to re-INVITE');
      }
      if (offer.length > 0) this.#sendInDialog(other, 'ACK', { cseq: request.cseq.seq });
      const sent = transaction.respond(200, {
        body: answer,
        contentType: answer.length > 0 ? 'application/sdp' : undefined,
        contact: [own.contact],
        headers: [this.#allow],
      });
      this.#expectAck(from, sent, own.destination, (ack) => {
        if (offer.length > 0) return;
        // The re-INVITE had no offer: the other side's answer is in this ACK.
        let late: Buffer = Buffer.alloc(0);
        try {
          late = ack.body.length > 0 ? this.#media.reanswer(from, ack.body) : late;
        } catch (error) {
          this.#log.warn({ err: String(error) }, 'unusable SDP in ACK');
        }
        this.#sendInDialog(other, 'ACK', { cseq: request.cseq.seq, body: late });
      });
    });
  }

  #relayRequest(from: CallSide, transaction: ServerTransaction, other: Dialog): void {
    const request = transaction.request;
    let body = request.body;
    if (request.method === 'UPDATE' && body.length > 0) {
      transaction.respond(488, { reason: 'Offer in UPDATE not supported' });
      return;
    }
    const relayed = other.createRequest(request.method, this.#ctx.options.addressing.via(other.destination.transport), {
      body,
      contentType: request.contentType,
    });
    this.#send(relayed, other.destination, (response) => {
      body = response.body;
      transaction.respond(response.status, {
        reason: response.reason,
        ...(body.length > 0 ? { body, contentType: response.contentType ?? 'application/octet-stream' } : {}),
      });
    });
    if (this.#ctx.logger.isLevelEnabled('debug')) this.#log.debug({ method: request.method, from }, 'relayed request');
  }

  // ---- sending ----------------------------------------------------------------------------------

  #respondCaller(status: number, options: { body?: Buffer; contentType?: string | undefined; contact?: NameAddr[]; reason?: string } = {}): SipResponse | null {
    if (status >= 300) this.#finalStatus = status;
    if (this.#leg.kind === 'transfer') {
      // Nothing to answer: the application holds the caller; a failure goes back to it.
      if (status >= 300) this.#leg.done({ kind: 'failed', status });
      return null;
    }
    try {
      return this.#leg.transaction.respond(status, {
        toTag: this.#callerDialog.localTag,
        headers: status >= 200 && status < 300 ? [this.#allow] : [],
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        ...(options.contact !== undefined ? { contact: options.contact } : {}),
        ...(options.body !== undefined && options.body.length > 0
          ? { body: options.body, contentType: options.contentType ?? 'application/sdp' }
          : {}),
      });
    } catch (error) {
      this.#log.warn({ err: String(error), status }, 'could not answer the caller');
      return null;
    }
  }

  #sendInDialog(dialog: Dialog, method: 'ACK' | 'BYE', options: { cseq?: number; body?: Buffer } = {}): void {
    const request = inDialogRequest(this.#ctx, dialog, method, options);
    if (method === 'ACK') {
      this.#ctx.transactions.sendStateless(request, dialog.destination);
      return;
    }
    this.#send(request, dialog.destination, () => undefined);
  }

  #send(request: SipRequest, destination: Endpoint, onFinal: (response: SipResponse) => void): void {
    const phase = this.#phase;
    if (phase.kind === 'answered' && request.method !== 'BYE') {
      // A request inside the dialog took a CSeq (and a re-INVITE may have refreshed a target): a BYE
      // after a crash must come after it (RFC 3261 §12.2.1.1).
      const events = this.#ctx.options.events;
      events?.dialogChanged(this.callId, 'caller', this.#callerDialog);
      events?.dialogChanged(this.callId, 'callee', phase.callee);
    }
    // The transaction lingers after its final (an INVITE's 32 s, Timer M): once the final is handed
    // on, it must not keep the handler, which holds the call.
    let handler: ((response: SipResponse) => void) | null = onFinal;
    const deliver = (response: SipResponse): void => {
      const h = handler;
      handler = null;
      h?.(response);
    };
    try {
      this.#ctx.transactions.sendRequest(request, destination, {
        onFinal: deliver,
        onTimeout: (kind) => deliver(syntheticFailure(request, kind === 'timeout' ? 408 : 503)),
      });
    } catch (error) {
      this.#log.warn({ err: String(error), method: request.method }, 'could not send request');
      onFinal(syntheticFailure(request, 503));
    }
  }

  /** §13.3.1.4: our 2xx is retransmitted until the ACK comes; without one we hang up. */
  #expectAck(side: CallSide, response: SipResponse | null, destination: Endpoint, onAck: (ack: SipRequest) => void): void {
    if (response === null) return;
    const { t1Ms, t2Ms } = this.#ctx.options;
    const wait = new AckWait({ transactions: this.#ctx.transactions, t1Ms, t2Ms }, response, destination, onAck, () => {
      this.#pendingAck.delete(side);
      this.#log.warn({ side }, 'no ACK for our 2xx: hanging up (RFC 3261 §13.3.1.4)');
      this.#hangUpBoth('no ACK');
    });
    this.#pendingAck.get(side)?.cancel();
    this.#pendingAck.set(side, wait);
  }

  /** This call as the in-call features (hold, transfer) see it; see `InCallHandle`. */
  get inCall(): InCallHandle {
    if (this.#inCall !== null) return this.#inCall;
    const dialogOf = (side: CallSide): Dialog => {
      const phase = this.#phase;
      if (side === 'caller') return this.#callerDialog;
      if (phase.kind !== 'answered') throw new Error('call not answered');
      return phase.callee;
    };
    const call = this;
    this.#inCall = {
      callId: this.callId,
      get answered() {
        return call.#phase.kind === 'answered';
      },
      get ended() {
        return call.#phase.kind === 'ended';
      },
      get log() {
        return call.#log;
      },
      party: (side) => (this.#parties[side] ??= side === 'caller' ? this.caller : { extension: this.target, displayName: this.#decision.displayName }),
      dialog: dialogOf,
      respond: (side, transaction, status, options = {}) => {
        const own = dialogOf(side);
        const sent = transaction.respond(status, {
          toTag: own.localTag,
          ...(options.reason !== undefined && { reason: options.reason }),
          ...(options.body !== undefined && options.body.length > 0 && { body: options.body, contentType: 'application/sdp' }),
          ...(status < 300 && transaction.request.method === 'INVITE' && { contact: [own.contact] }),
          headers: [...(status < 300 ? [this.#allow] : []), ...(options.headers ?? [])],
        });
        if (transaction.request.method === 'INVITE' && status >= 200 && status < 300) this.#expectAck(side, sent, own.destination, () => undefined);
      },
      send: (dialog, method, options = {}, onFinal) => {
        const request = dialog.createRequest(method, this.#ctx.options.addressing.via(dialog.destination.transport), {
          ...(options.body !== undefined && { body: options.body, contentType: options.contentType ?? null }),
          headers: options.headers ?? [],
        });
        this.#send(request, dialog.destination, (response) => onFinal?.(response.status));
      },
      route: (request, caller) => this.#ctx.options.route(request, caller),
      transfer: (side, caller, decision, media) => {
        let settle: (outcome: TransferOutcome) => void = () => undefined;
        const done = new Promise<TransferOutcome>((resolve) => (settle = resolve));
        let settled = false;
        const ringing = new B2buaCall(this.#ctx, { kind: 'transfer', dialog: dialogOf(side), media, done: (outcome) => {
          if (settled) return;
          settled = true;
          settle(outcome);
        } }, caller, decision);
        if (ringing.phase !== 'ended') this.#ctx.registry.started(ringing);
        return { done, cancel: () => ringing.hangUp('transfer cancelled') };
      },
      release: (side) => {
        this.#released.add(side);
        this.#pendingAck.get(side)?.cancel();
        this.#pendingAck.delete(side);
      },
      find: (callId, localTag) => {
        const leg = this.#ctx.registry.find(callId, localTag);
        return leg !== undefined && leg.call instanceof B2buaCall ? { call: leg.call.inCall, side: leg.side } : null;
      },
      newDialog: (invite) => uasDialogFor(invite.request, invite.source, this.#ctx.options.addressing.contact(invite.source.transport, this.target)),
      adopt: (side, dialog, party) => {
        const phase = this.#phase;
        if (phase.kind !== 'answered') throw new Error('call not answered');
        const old = dialogOf(side);
        if (!this.#released.has(side)) this.#ctx.registry.unbind(old.callId, old.localTag);
        this.#pendingAck.get(side)?.cancel();
        this.#pendingAck.delete(side);
        if (side === 'caller') this.#callerDialog = dialog;
        else phase.callee = dialog;
        this.#parties[side] = party;
        this.#released.delete(side);
        this.#ctx.registry.bind(dialog.callId, dialog.localTag, this, side);
        this.#callerBound ||= side === 'caller';
        this.#ctx.options.events?.dialogChanged(this.callId, side, dialog);
      },
      hangUp: (reason) => this.hangUp(reason),
    };
    return this.#inCall;
  }

  /** Hang up an answered call from our side (BYE to both legs). */
  hangUp(reason: string): void {
    if (this.#phase.kind === 'ringing') {
      this.#cancelForks();
      this.#fail(480, 'Temporarily Unavailable');
      return;
    }
    this.#hangUpBoth(reason);
  }

  #hangUpBoth(reason: string): void {
    const phase = this.#phase;
    if (phase.kind !== 'answered') return;
    if (!this.#released.has('caller')) this.#sendInDialog(this.#callerDialog, 'BYE');
    if (!this.#released.has('callee')) this.#sendInDialog(phase.callee, 'BYE');
    this.#end(reason);
  }

  /** The call ended: its fork transactions keep a compact record instead of the call (ForkLink). */
  #releaseForks(answered: Dialog | null): void {
    const ended: EndedFork = {
      ctx: this.#ctx,
      contact: this.#callerDialog.contact,
      answered: answered === null ? null : { callId: answered.callId, remoteTag: answered.remoteTag, ack: !this.#delayedOffer },
    };
    for (const link of this.#links) {
      link.call = null;
      link.ended = ended;
    }
    this.#links = [];
  }

  #end(reason: string): void {
    const phase = this.#phase;
    if (phase.kind === 'ended') return;
    if (phase.kind === 'ringing') clearTimeout(phase.noAnswer);
    const answeredAt = phase.kind === 'answered' ? phase.at : null;
    if (phase.kind === 'answered' && !this.#released.has('callee')) this.#ctx.registry.unbind(phase.callee.callId, phase.callee.localTag);
    for (const pending of this.#pendingAck.values()) pending.cancel();
    this.#pendingAck.clear();
    this.#phase = { kind: 'ended', reason };
    this.#releaseForks(phase.kind === 'answered' ? phase.callee : null);
    if (this.#callerBound && !this.#released.has('caller')) this.#ctx.registry.unbind(this.#callerDialog.callId, this.#callerDialog.localTag);
    for (const fork of this.#forks) {
      // The answered fork's dialog went on to another call (attended transfer): its key is that call's.
      if (fork.state === 'answered' && this.#released.has('callee')) continue;
      this.#ctx.registry.unbind(fork.request.callId, tagOf(fork.request.from) ?? '');
    }
    try {
      this.#media.close();
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'media close failed');
    }
    this.#ctx.registry.ended(this);
    if (this.#inCall !== null) this.#ctx.options.inCall?.ended(this.#inCall);
    this.#ctx.options.events?.ended({ ...this.#facts(), answeredAt }, { answered: answeredAt !== null, status: this.#finalStatus, reason });
    if (this.#ctx.logger.isLevelEnabled('info')) this.#log.info({ reason, talkSeconds: answeredAt === null ? 0 : Math.round((Date.now() - answeredAt) / 1000) }, 'call ended');
  }
}

/** The UAC dialog a fork's 2xx creates (§12.1.2). */
function forkDialog(fork: Fork, response: SipResponse, fallbackContact: NameAddr): Dialog {
  return uacDialogFor(fork.request, response, fork.contact.destination, fallbackContact);
}

function inDialogRequest(ctx: CallContext, dialog: Dialog, method: 'ACK' | 'BYE', options: { cseq?: number; body?: Buffer }): SipRequest {
  const via = ctx.options.addressing.via(dialog.destination.transport);
  return dialog.createRequest(method, via, {
    ...(options.cseq !== undefined ? { cseq: options.cseq } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
}

/**
 * A 2xx on a fork of a call that has ended (§13.2.2.4): the answered dialog's retransmitted 2xx is
 * ACKed again (its BYE went when the call ended); any other dialog is ACKed and hung up at once.
 */
function endedFork2xx(ended: EndedFork, fork: Fork, response: SipResponse): void {
  const dialog = forkDialog(fork, response, ended.contact);
  const cseq = fork.request.cseq.seq;
  const answered = ended.answered;
  try {
    if (answered !== null && answered.callId === response.callId && answered.remoteTag === tagOf(response.to)) {
      if (answered.ack) ended.ctx.transactions.sendStateless(inDialogRequest(ended.ctx, dialog, 'ACK', { cseq }), dialog.destination);
      return;
    }
    ended.ctx.transactions.sendStateless(inDialogRequest(ended.ctx, dialog, 'ACK', { cseq }), dialog.destination);
    const bye = inDialogRequest(ended.ctx, dialog, 'BYE', {});
    ended.ctx.transactions.sendRequest(bye, dialog.destination, { onFinal: () => undefined, onTimeout: () => undefined });
  } catch (error) {
    ended.ctx.logger.warn({ err: String(error), callId: response.callId }, 'could not answer a 2xx after the call ended');
  }
}

function sipUri(user: string, host: string): SipUri {
  return { kind: 'sip', secure: false, user, password: null, host, port: null, params: new Map(), headers: new Map() };
}

/** A final response standing for a timeout or transport failure (§8.1.3.1). */
function syntheticFailure(request: SipRequest, status: number): SipResponse {
  return createResponse(request, status, { toTag: tagOf(request.to) ?? undefined });
}

/**
 * The caller hears the most useful failure among the contacts (RFC 3261 §16.7 step 6, simplified the
 * way Asterisk's Dial does): a decline (6xx) wins, then busy, then "unavailable" for timeouts.
 */
export function bestFailure(statuses: number[]): [number, string | undefined] {
  const global = statuses.find((s) => s >= 600);
  if (global !== undefined) return [global, undefined];
  if (statuses.some((s) => s === 486 || s === 600)) return [486, 'Busy Here'];
  const other = statuses.find((s) => s >= 400 && s < 500 && s !== 408 && s !== 480 && s !== 487);
  if (other !== undefined) return [other, undefined];
  return [480, 'Temporarily Unavailable'];
}

