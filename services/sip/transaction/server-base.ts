/** What the INVITE and non-INVITE server transactions share: the TU-facing surface of §17.2. */
import { createResponse } from '../build.js';
import { tagOf, type SipRequest, type SipResponse } from '../message.js';
import type { Endpoint, ResponseOptions, ServerTransaction } from '../types.js';
import { safeCall, type TransactionContext } from './context.js';

export abstract class ServerTransactionBase implements ServerTransaction {
  readonly id: string;
  readonly request: SipRequest;
  readonly source: Endpoint;
  protected readonly ctx: TransactionContext;
  /** Where responses go (§18.2.2); null when the Via names no acceptable destination. */
  protected readonly destination: Endpoint | null;
  protected readonly reliable: boolean;
  /** The last response sent, serialized, for retransmissions (§17.2.1, §17.2.2). */
  protected lastBytes: Buffer | null = null;
  #toTag: string | null = null;
  #terminatedListeners: Array<() => void> = [];
  #done = false;
  #settled = false;
  /** performance.now() at creation and at the TU's last provisional (the watchdog's clocks). */
  readonly createdAt = performance.now();
  lastProvisionalAt = 0;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Endpoint, destination: Endpoint | null) {
    this.ctx = ctx;
    this.id = key;
    this.request = request;
    this.source = source;
    this.destination = destination;
    this.reliable = source.transport !== 'UDP';
  }

  respond(status: number, options?: ResponseOptions): SipResponse {
    // One transaction, one To tag: later responses reuse the tag of the first one (§8.2.6.2, §9.2).
    const toTag = options?.toTag ?? this.#toTag;
    const response = createResponse(this.request, status, toTag === null ? options : { ...options, toTag });
    this.sendResponse(response);
    return response;
  }

  abstract sendResponse(response: SipResponse): void;
  /** The same request arrived again (§17.2.1 / §17.2.2 retransmission). */
  abstract receiveRetransmission(): void;

  onCancel(_listener: () => void): void {
    // Only INVITE server transactions can be cancelled (§9.2); overridden there.
  }

  onTerminated(listener: () => void): void {
    if (this.#done) queueMicrotask(listener);
    else this.#terminatedListeners.push(listener);
  }

  /** The To tag of the last non-100 response sent, if any (§9.2: the 200 to CANCEL reuses it). */
  toTag(): string | null {
    return this.#toTag;
  }

  get terminated(): boolean {
    return this.#done;
  }

  /** A final response was sent, or the transaction ended without one: nothing is owed any more. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Sends and remembers a response; a transport failure terminates the transaction (§17.2.4). */
  protected transmit(response: SipResponse): void {
    if (response.status > 100) {
      this.#toTag = tagOf(response.to);
      if (response.status < 200) this.lastProvisionalAt = performance.now();
    }
    if (response.status >= 200) this.#settle();
    if (this.destination === null) {
      this.ctx.logger.warn({ event: 'drop', reason: 'no acceptable response destination', callId: this.request.callId, status: response.status }, 'response not sent');
      this.lastBytes = null;
      return;
    }
    this.lastBytes = this.ctx.send(response, this.destination, (error) => this.transportError(error));
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.ctx.settled();
  }

  protected retransmitLast(): void {
    if (this.lastBytes !== null && this.destination !== null) {
      this.ctx.sendBytes(this.lastBytes, this.destination, (error) => this.transportError(error));
    }
  }

  protected transportError(error: Error): void {
    if (this.#done) return;
    this.ctx.logger.debug({ event: 'transport-error', callId: this.request.callId, method: this.request.method, err: error.message }, 'response could not be sent');
    this.terminate();
  }

  protected checkResponse(response: SipResponse): boolean {
    if (response.cseq.seq !== this.request.cseq.seq || response.callId !== this.request.callId) {
      this.ctx.logger.error({ event: 'bad-response', callId: this.request.callId, status: response.status }, 'response does not belong to this transaction');
      return false;
    }
    return true;
  }

  protected terminate(): void {
    if (this.#done) return;
    this.#done = true;
    this.stopTimers();
    this.#settle();
    this.ctx.remove(this.id, 'server');
    for (const listener of this.#terminatedListeners.splice(0)) safeCall(this.ctx.logger, 'onTerminated', this.request.callId, listener);
  }

  protected abstract stopTimers(): void;

  /** Layer shutdown. */
  dispose(): void {
    this.terminate();
  }
}
