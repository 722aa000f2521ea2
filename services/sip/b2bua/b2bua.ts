/**
 * The B2BUA: new INVITEs become calls (auth → route → ring), and every request or ACK that names
 * one of our dialogs (by Call-ID and our tag, RFC 3261 §12.2.2) is handed to its call.
 */
import type { Logger } from '../../log.js';
import { getHeader, tagOf, type SipRequest } from '../message.js';
import type { Endpoint, ServerTransaction, TransactionLayer } from '../types.js';
import { ApplicationCall } from './application-call.js';
import { B2buaCall, type CallContext, type CallRegistry, type DialogOwner } from './call.js';
import type { B2buaOptions, CallSide, CallSummary } from './types.js';

interface LegRef {
  call: DialogOwner;
  side: CallSide;
}

export class B2bua {
  #options: B2buaOptions;
  #transactions: TransactionLayer;
  #logger: Logger;
  #calls = new Set<DialogOwner>();
  /** `${Call-ID}\n${our tag}` → the call and which of its legs that dialog is. */
  #legs = new Map<string, LegRef>();
  #registry: CallRegistry;

  constructor(options: B2buaOptions, transactions: TransactionLayer, logger: Logger) {
    this.#options = options;
    this.#transactions = transactions;
    this.#logger = logger;
    this.#registry = {
      bind: (callId, localTag, call, side) => this.#legs.set(legKey(callId, localTag), { call, side }),
      unbind: (callId, localTag) => this.#legs.delete(legKey(callId, localTag)),
      started: (call) => this.#calls.add(call),
      ended: (call) => this.#calls.delete(call),
      find: (callId, localTag) => this.#legs.get(legKey(callId, localTag)),
    };
  }

  /** Out-of-dialog INVITE: a new call. */
  async handleInvite(transaction: ServerTransaction): Promise<void> {
    const request = transaction.request;
    if (request.contact === '*' || request.contact.length === 0) {
      transaction.respond(400, { reason: 'Missing Contact' });
      return;
    }
    const caller = await this.#options.authenticate(transaction);
    if (caller === null) return;
    // RFC 3891: an INVITE naming one of our dialogs to replace (transfer completion, pickup).
    const inCall = this.#options.inCall;
    if (inCall !== undefined && getHeader(request, 'replaces') !== undefined && inCall.replaces(transaction, caller, (callId, tag) => this.#inCallLeg(callId, tag))) return;
    const decision = this.#options.route(request, caller);
    if (decision.kind === 'reject') {
      this.#logger.info({ callId: request.callId, caller: caller.extension, status: decision.status }, 'call rejected by dial plan');
      transaction.respond(decision.status, decision.reason === undefined ? {} : { reason: decision.reason });
      this.#refused(request, caller.extension, decision.status, 'rejected by dial plan');
      return;
    }
    const context: CallContext = { options: this.#options, transactions: this.#transactions, registry: this.#registry, logger: this.#logger };
    let call: DialogOwner;
    try {
      call =
        decision.kind === 'application'
          ? new ApplicationCall(context, transaction, caller, decision)
          : new B2buaCall(context, { kind: 'invite', transaction }, caller, decision);
    } catch (error) {
      // Media resources (RTP ports) exhausted, or a bug: this call fails, the others go on.
      this.#logger.error({ err: String(error), callId: request.callId }, 'call could not be set up');
      transaction.respond(503, { headers: [{ name: 'Retry-After', value: '5' }] });
      this.#refused(request, caller.extension, 503, 'call could not be set up');
      return;
    }
    if (call.phase !== 'ended') this.#calls.add(call);
  }

  /** A request with a To tag: it belongs to a dialog of ours, or gets 481 (§12.2.2). */
  handleInDialog(transaction: ServerTransaction): void {
    const leg = this.#lookup(transaction.request);
    if (leg === undefined) {
      transaction.respond(481);
      return;
    }
    leg.call.onRequest(leg.side, transaction);
  }

  /** ACK for a 2xx (no transaction, §17.1.1.3). */
  handleAck(ack: SipRequest, source: Endpoint): void {
    const leg = this.#lookup(ack);
    if (leg === undefined) {
      this.#logger.debug({ callId: ack.callId, source: source.address }, 'ACK for no dialog of ours');
      return;
    }
    leg.call.onAck(leg.side, ack);
  }

  isInDialog(request: SipRequest): boolean {
    return tagOf(request.to) !== null;
  }

  /** Relayed calls answered now, for in-call features. */
  answeredCalls(): B2buaCall[] {
    return [...this.#calls].filter((call): call is B2buaCall => call instanceof B2buaCall && call.phase === 'answered');
  }

  snapshot(): CallSummary[] {
    return [...this.#calls].map((call) => call.summary());
  }

  /** Ends every call (shutdown): BYE to answered legs, 480 to ringing callers, applications stopped. */
  hangUpAll(reason: string): void {
    for (const call of [...this.#calls]) call.hangUp(reason);
  }

  /** A call that never rang still gets its record. */
  #refused(request: SipRequest, caller: string, status: number, reason: string): void {
    const uri = request.uri;
    const callee = (uri.kind === 'sip' ? uri.user : null) || '?';
    const now = Date.now();
    this.#options.events?.ended({ callId: request.callId, caller, callee, startedAt: now, answeredAt: null }, { answered: false, status, reason });
  }

  #inCallLeg(callId: string, localTag: string): { call: import('./types.js').InCallHandle; side: CallSide } | null {
    const leg = this.#legs.get(legKey(callId, localTag));
    return leg !== undefined && leg.call instanceof B2buaCall ? { call: leg.call.inCall, side: leg.side } : null;
  }

  #lookup(request: SipRequest): LegRef | undefined {
    const tag = tagOf(request.to);
    if (tag === null) return undefined;
    return this.#legs.get(legKey(request.callId, tag));
  }
}

function legKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}
