/**
 * The transaction layer (RFC 3261 §17): matches incoming messages to transactions (§17.1.3,
 * §17.2.3), creates server transactions for new requests, handles CANCEL (§9.2) and ACK
 * (§17.2.1, RFC 6026) itself, and runs client transactions for the transaction users.
 */
import type { Logger } from '../../log.js';
import { branchOf, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import { serializeMessage } from '../serializer.js';
import { responseDestination } from '../transport/address.js';
import type { ClientTransaction, ClientTransactionHandlers, Endpoint, ServerTransaction, TransactionLayer } from '../types.js';
import { InviteClientTransaction } from './client-invite.js';
import { NonInviteClientTransaction } from './client-non-invite.js';
import { safeCall, type TransactionContext } from './context.js';
import { clientKeyOf, clientKeyOfResponse, isRfc3261Branch, serverKey } from './key.js';
import { InviteServerTransaction } from './server-invite.js';
import { NonInviteServerTransaction } from './server-non-invite.js';
import { ExpiryQueues, resolveTimers, watchdogLimits, type TimerSettings, type WatchdogLimits } from './timers.js';

/** The part of the transport layer the transaction layer uses. */
export interface MessageSender {
  send(data: Buffer, destination: Endpoint, onError?: (error: Error) => void): void;
}

export interface TransactionLayerOptions {
  transport: MessageSender;
  timers?: Partial<TimerSettings>;
  logger: Logger;
  /**
   * Byte budget of the compact records of completed transactions (default 8 MiB). Past it the
   * oldest records are dropped first: a retransmission of their request is then served as a new
   * one, as a stateless server would, instead of the process growing with the flood.
   */
  lingeringBudgetBytes?: number;
}

/** A completed non-INVITE server transaction (§17.2.2 Completed) reduced to what it still does. */
interface Lingering {
  bytes: Buffer | null;
  destination: Endpoint | null;
  /** performance.now() at which Timer J ends it. */
  due: number;
  /** Its share of the byte budget. */
  size: number;
}

/** Map entry, record, Endpoint and Buffer headers: what a record costs beyond its key and bytes. */
const LINGERING_OVERHEAD = 240;
const DEFAULT_LINGERING_BUDGET = 8 * 1024 * 1024;

/**
 * A flat copy of a string that may be a slice or a concatenation of a larger one (a header of a
 * whole message): a long-lived map key must not keep the message it was cut from alive. Slicing a
 * concatenation makes V8 flatten it into a new string; the result references only that copy.
 */
export function flatCopy(text: string): string {
  return (' ' + text).slice(1);
}

type ServerTxn = InviteServerTransaction | NonInviteServerTransaction;
type ClientTxn = InviteClientTransaction | NonInviteClientTransaction;

function endpointText(endpoint: Endpoint): string {
  return `${endpoint.address}:${endpoint.port}`;
}

export class SipTransactionLayer implements TransactionLayer {
  readonly #servers = new Map<string, ServerTxn>();
  readonly #clients = new Map<string, ClientTxn>();
  readonly #requestHandlers: Array<(transaction: ServerTransaction) => void> = [];
  readonly #ackHandlers: Array<(ack: SipRequest, source: Endpoint) => void> = [];
  readonly #log: Logger;
  readonly #ctx: TransactionContext;
  readonly timers: TimerSettings;
  #closed = false;
  /**
   * Completed non-INVITE server transactions (Timer J running), as compact records in insertion
   * order, which is their expiry order (one duration): expiry and eviction both take from the head.
   */
  readonly #lingering = new Map<string, Lingering>();
  #lingeringBytes = 0;
  readonly #lingeringBudget: number;
  readonly #expiries = new ExpiryQueues();
  /**
   * Server transactions without a final response yet: the load the TU has not caught up with.
   * Recounted from the live transactions at every watchdog sweep, so it can never drift.
   */
  #unanswered = 0;
  readonly #watchdog: WatchdogLimits;
  readonly #sweeper: NodeJS.Timeout;
  /** Transactions the watchdog answered, and request handlers that threw (for status). */
  #watchdogFired = 0;
  #handlerThrew = 0;

  constructor(options: TransactionLayerOptions) {
    this.#log = options.logger;
    this.timers = resolveTimers(options.timers);
    this.#watchdog = watchdogLimits(this.timers);
    this.#lingeringBudget = options.lingeringBudgetBytes ?? DEFAULT_LINGERING_BUDGET;
    this.#sweeper = setInterval(() => this.#sweep(), this.#watchdog.sweepMs);
    this.#sweeper.unref();
    const transport = options.transport;
    this.#ctx = {
      timers: this.timers,
      expiries: this.#expiries,
      logger: this.#log,
      send: (message, destination, onError) => {
        const bytes = serializeMessage(message);
        transport.send(bytes, destination, onError);
        return bytes;
      },
      sendBytes: (bytes, destination, onError) => transport.send(bytes, destination, onError),
      deliverAck: (ack, source) => this.#deliverAck(ack, source),
      settled: () => {
        this.#unanswered--;
      },
      linger: (key, bytes, destination, ms) => this.#linger(key, bytes, destination, ms),
      remove: (key, kind) => {
        if (kind === 'server') this.#servers.delete(key);
        else this.#clients.delete(key);
      },
    };
  }

  onRequest(handler: (transaction: ServerTransaction) => void): void {
    this.#requestHandlers.push(handler);
  }

  onAck(handler: (ack: SipRequest, source: Endpoint) => void): void {
    this.#ackHandlers.push(handler);
  }

  /** Entry point from the transport layer. */
  receive(message: SipMessage, source: Endpoint): void {
    if (this.#closed) return;
    if (message.kind === 'request') this.#receiveRequest(message, source);
    else this.#receiveResponse(message, source);
  }

  /** True when the request is a retransmission or an ACK/CANCEL of a live server transaction. */
  hasServerTransaction(request: SipRequest): boolean {
    const key = serverKey(request);
    return key !== null && (this.#servers.has(key) || this.#lingering.has(key));
  }

  #linger(key: string, bytes: Buffer | null, destination: Endpoint | null, ms: number): void {
    const flatKey = flatCopy(key);
    const size = flatKey.length * 2 + (bytes?.length ?? 0) + LINGERING_OVERHEAD;
    const previous = this.#lingering.get(flatKey);
    if (previous !== undefined) {
      this.#lingering.delete(flatKey);
      this.#lingeringBytes -= previous.size;
    }
    this.#lingering.set(flatKey, { bytes, destination, due: performance.now() + ms, size });
    this.#lingeringBytes += size;
    // Over budget: the oldest go first (they are the nearest to their end anyway).
    for (const [oldKey, old] of this.#lingering) {
      if (this.#lingeringBytes <= this.#lingeringBudget) break;
      this.#lingering.delete(oldKey);
      this.#lingeringBytes -= old.size;
    }
  }

  /**
   * Runs every `sweepMs`: ends the records whose Timer J has run (never early, at most one sweep
   * late), recounts the unanswered transactions, and answers 500 for the TU where it is overdue
   * (a handler that never answers must not hold its transaction, or the overload signal, forever).
   */
  #sweep(): void {
    const now = performance.now();
    for (const [key, record] of this.#lingering) {
      if (record.due > now) break;
      this.#lingering.delete(key);
      this.#lingeringBytes -= record.size;
    }
    let unanswered = 0;
    let overdue: ServerTxn[] | null = null;
    for (const transaction of this.#servers.values()) {
      if (transaction.settled) continue;
      unanswered++;
      if (this.#isOverdue(transaction, now)) (overdue ??= []).push(transaction);
    }
    this.#unanswered = unanswered;
    if (overdue === null) return;
    this.#watchdogFired += overdue.length;
    const first = overdue[0]!;
    this.#log.warn(
      { event: 'watchdog', count: overdue.length, total: this.#watchdogFired, method: first.request.method, callId: first.request.callId },
      'requests left unanswered by their handler: answered 500',
    );
    for (const transaction of overdue) this.#answerForTu(transaction, 500);
  }

  #isOverdue(transaction: ServerTxn, now: number): boolean {
    const limits = this.#watchdog;
    if (!(transaction instanceof InviteServerTransaction)) return now - transaction.createdAt >= limits.nonInviteMs;
    if (transaction.lastProvisionalAt === 0) return now - transaction.createdAt >= limits.inviteNoAnswerMs;
    return now - transaction.lastProvisionalAt >= limits.inviteProvisionalMs;
  }

  /** The layer answers in the TU's place (it threw or never answered); never throws itself. */
  #answerForTu(transaction: ServerTxn, status: number): void {
    if (transaction.settled) return;
    try {
      transaction.respond(status);
    } catch (error) {
      this.#log.error({ event: 'watchdog-failed', callId: transaction.request.callId, err: error }, 'could not answer for the handler');
      transaction.dispose();
    }
  }

  /** In-flight transactions (for overload control and diagnostics). */
  counts(): { server: number; client: number; unanswered: number; completed: number; completedBytes: number; watchdog: number; handlerThrew: number } {
    return {
      server: this.#servers.size,
      client: this.#clients.size,
      unanswered: this.#unanswered,
      completed: this.#lingering.size,
      completedBytes: this.#lingeringBytes,
      watchdog: this.#watchdogFired,
      handlerThrew: this.#handlerThrew,
    };
  }

  /**
   * Answers `status` (500) for a transaction whose handler failed, unless a final response was
   * already sent. For the stack, whose handlers run inside the layer's own handler.
   */
  answerIfUnanswered(transaction: ServerTransaction, status = 500): void {
    const own = this.#servers.get(transaction.id);
    if (own === transaction) this.#answerForTu(own, status);
  }

  #receiveRequest(request: SipRequest, source: Endpoint): void {
    const key = serverKey(request);
    if (key === null) return; // the parser rejects Via-less requests; belt and braces
    if (request.method === 'ACK') {
      const invite = this.#servers.get(key);
      // §17.2.1: ACK for a non-2xx belongs to the INVITE server transaction; ACK for a 2xx is the TU's.
      if (invite instanceof InviteServerTransaction) invite.receiveAck(request, source);
      else this.#deliverAck(request, source);
      return;
    }
    const existing = this.#servers.get(key);
    if (existing !== undefined) {
      existing.receiveRetransmission();
      return;
    }
    const lingering = this.#lingering.size === 0 ? undefined : this.#lingering.get(key);
    if (lingering !== undefined) {
      // §17.2.2 Completed: a retransmitted request gets the final response again.
      if (lingering.bytes !== null && lingering.destination !== null) this.#ctx.sendBytes(lingering.bytes, lingering.destination);
      return;
    }
    const topVia = request.via[0];
    const destination = topVia === undefined ? null : responseDestination(topVia, source);
    if (request.method === 'CANCEL') {
      this.#receiveCancel(request, key, source, destination);
      return;
    }
    const transaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(this.#ctx, key, request, source, destination)
        : new NonInviteServerTransaction(this.#ctx, key, request, source, destination);
    this.#servers.set(key, transaction);
    this.#unanswered++;
    this.#log.debug({ event: 'request', method: request.method, callId: request.callId, transport: source.transport, source: endpointText(source) }, 'new server transaction');
    if (this.#requestHandlers.length === 0) {
      transaction.respond(503, { headers: [{ name: 'Retry-After', value: '5' }] });
      return;
    }
    for (const handler of this.#requestHandlers) {
      try {
        handler(transaction);
      } catch (error) {
        // A bug for one request: logged, answered 500 and freed, never left holding the transaction.
        this.#handlerThrew++;
        this.#log.error({ event: 'handler-threw', method: request.method, callId: request.callId, err: error }, 'request handler threw: answered 500');
        this.#answerForTu(transaction, 500);
      }
    }
  }

  /** §9.2: CANCEL gets its own non-INVITE server transaction; it is answered here, never by the TU. */
  #receiveCancel(cancel: SipRequest, key: string, source: Endpoint, destination: Endpoint | null): void {
    const transaction = new NonInviteServerTransaction(this.#ctx, key, cancel, source, destination);
    this.#servers.set(key, transaction);
    this.#unanswered++;
    const inviteKey = serverKey(cancel, 'INVITE');
    const invite = inviteKey === null ? undefined : this.#servers.get(inviteKey);
    if (invite instanceof InviteServerTransaction && !invite.terminated) {
      // §9.2: a CANCEL that matches a transaction is answered 200 whatever the INVITE's state, with
      // the To tag of the INVITE's responses; it only has an effect before the final response.
      const toTag = invite.toTag();
      transaction.respond(200, toTag === null ? undefined : { toTag });
      if (invite.cancellable) {
        this.#log.info({ event: 'cancel', callId: cancel.callId, transport: source.transport, source: endpointText(source) }, 'INVITE cancelled');
        invite.cancel();
      }
    } else {
      transaction.respond(481);
    }
  }

  #receiveResponse(response: SipResponse, source: Endpoint): void {
    const key = clientKeyOfResponse(response);
    const transaction = key === null ? undefined : this.#clients.get(key);
    if (transaction === undefined) {
      // §17.1.3: no match → the response is for no one (a late 2xx after Timer M, or a stray).
      this.#log.debug({ event: 'stray-response', status: response.status, callId: response.callId, transport: source.transport, source: endpointText(source) }, 'response matches no transaction');
      return;
    }
    transaction.receiveResponse(response);
  }

  #deliverAck(ack: SipRequest, source: Endpoint): void {
    for (const handler of this.#ackHandlers) safeCall(this.#log, 'onAck', ack.callId, () => handler(ack, source));
  }

  sendRequest(request: SipRequest, destination: Endpoint, handlers: ClientTransactionHandlers): ClientTransaction {
    if (this.#closed) throw new Error('transaction layer closed');
    if (request.method === 'ACK') throw new TypeError('ACK has no client transaction: use sendStateless (§17.1.1.3)');
    const branch = branchOf(request.via[0]);
    if (!isRfc3261Branch(branch)) throw new TypeError('the top Via of a request we send needs a z9hG4bK branch (§8.1.1.7)');
    const key = clientKeyOf(branch, request.method);
    if (this.#clients.has(key)) throw new Error(`a client transaction with branch ${branch} already exists`);
    const transaction =
      request.method === 'INVITE'
        ? new InviteClientTransaction(this.#ctx, key, request, destination, handlers, (cancel, to) => {
            this.sendRequest(cancel, to, { onFinal: () => undefined });
          })
        : new NonInviteClientTransaction(this.#ctx, key, request, destination, handlers);
    this.#clients.set(key, transaction);
    transaction.start();
    return transaction;
  }

  sendStateless(message: SipRequest | SipResponse, destination: Endpoint): void {
    this.#ctx.send(message, destination, (error) => {
      this.#log.debug({ event: 'transport-error', callId: message.callId, destination: endpointText(destination), err: error.message }, 'stateless send failed');
    });
  }

  /** Stops every timer and forgets every transaction (shutdown). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const transaction of [...this.#servers.values()]) transaction.dispose();
    for (const transaction of [...this.#clients.values()]) transaction.dispose();
    this.#servers.clear();
    this.#clients.clear();
    this.#expiries.clear();
    this.#lingering.clear();
    this.#lingeringBytes = 0;
  }
}
