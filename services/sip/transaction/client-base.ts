/** What the INVITE and non-INVITE client transactions share (§17.1). */
import type { SipRequest, SipResponse } from '../message.js';
import type { ClientTransaction, ClientTransactionHandlers, Endpoint } from '../types.js';
import { safeCall, type TransactionContext } from './context.js';
import { TimerSet } from './timers.js';

/** Client transactions of this process that timed out or could not be sent, since start. */
export const clientFailures = { timeouts: 0, transportErrors: 0 };

export abstract class ClientTransactionBase implements ClientTransaction {
  readonly id: string;
  readonly request: SipRequest;
  protected readonly ctx: TransactionContext;
  protected readonly destination: Endpoint;
  protected readonly handlers: ClientTransactionHandlers;
  protected readonly reliable: boolean;
  protected readonly timers = new TimerSet();
  /** The request as sent, for retransmissions (Timers A and E). */
  protected bytes: Buffer | null = null;
  #done = false;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, destination: Endpoint, handlers: ClientTransactionHandlers) {
    this.ctx = ctx;
    this.id = key;
    this.request = request;
    this.destination = destination;
    this.handlers = handlers;
    this.reliable = destination.transport !== 'UDP';
  }

  abstract start(): void;
  abstract receiveResponse(response: SipResponse): void;
  abstract cancel(): void;

  get terminated(): boolean {
    return this.#done;
  }

  protected sendRequest(): void {
    this.bytes = this.ctx.send(this.request, this.destination, (error) => this.transportError(error));
  }

  protected retransmit(): void {
    if (this.bytes !== null) this.ctx.sendBytes(this.bytes, this.destination, (error) => this.transportError(error));
  }

  /** §17.1.4: a transport failure is reported to the TU like a 503 (§8.1.3.1). */
  protected transportError(error: Error): void {
    if (this.#done) return;
    clientFailures.transportErrors++;
    this.ctx.logger.debug({ event: 'transport-error', callId: this.request.callId, method: this.request.method, destination: `${this.destination.transport}:${this.destination.address}:${this.destination.port}`, err: error.message }, 'request could not be sent');
    this.terminate();
    this.notify('onTimeout', () => this.handlers.onTimeout?.('transport-error'));
  }

  protected timeout(timer: string): void {
    if (this.#done) return;
    // A phone that went away times out every request sent to it: counted (pbxctl status), logged at debug only.
    clientFailures.timeouts++;
    this.ctx.logger.debug({ event: 'transaction-timeout', timer, callId: this.request.callId, method: this.request.method }, 'client transaction timed out');
    this.terminate();
    this.notify('onTimeout', () => this.handlers.onTimeout?.('timeout'));
  }

  protected notify(what: string, fn: () => void): void {
    safeCall(this.ctx.logger, what, this.request.callId, fn);
  }

  protected terminate(): void {
    if (this.#done) return;
    this.#done = true;
    this.timers.clear();
    this.ctx.remove(this.id, 'client');
  }

  dispose(): void {
    this.terminate();
  }
}
