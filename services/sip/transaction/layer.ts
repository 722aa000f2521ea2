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
import { ExpiryQueues, resolveTimers, type TimerSettings } from './timers.js';

/** The part of the transport layer the transaction layer uses. */
export interface MessageSender {
  send(data: Buffer, destination: Endpoint, onError?: (error: Error) => void): void;
}

export interface TransactionLayerOptions {
  transport: MessageSender;
  timers?: Partial<TimerSettings>;
  logger: Logger;
}

interface Lingering {
  bytes: Buffer | null;
  destination: Endpoint | null;
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
  /** Completed non-INVITE server transactions (Timer J running), as compact records. */
  readonly #lingering = new Map<string, Lingering>();
  readonly #expiries = new ExpiryQueues();
  /** Server transactions without a final response yet: the load the TU has not caught up with. */
  #unanswered = 0;

  constructor(options: TransactionLayerOptions) {
    this.#log = options.logger;
    this.timers = resolveTimers(options.timers);
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
    const record: Lingering = { bytes, destination };
    this.#lingering.set(key, record);
    this.#expiries.schedule(ms, () => {
      if (this.#lingering.get(key) === record) this.#lingering.delete(key);
    });
  }

  /** In-flight transactions (for overload control and diagnostics). */
  counts(): { server: number; client: number; unanswered: number; completed: number } {
    return { server: this.#servers.size, client: this.#clients.size, unanswered: this.#unanswered, completed: this.#lingering.size };
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
    const lingering = this.#lingering.get(key);
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
    for (const handler of this.#requestHandlers) safeCall(this.#log, 'onRequest', request.callId, () => handler(transaction));
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
    for (const transaction of [...this.#servers.values()]) transaction.dispose();
    for (const transaction of [...this.#clients.values()]) transaction.dispose();
    this.#servers.clear();
    this.#clients.clear();
    this.#expiries.clear();
    this.#lingering.clear();
  }
}
