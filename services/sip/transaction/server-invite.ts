/**
 * RFC 3261 §17.2.1 (Figure 7) with RFC 6026 §7.1 (Figure 5): the INVITE server transaction.
 *
 *   Proceeding --1xx from TU--> Proceeding
 *   Proceeding --2xx from TU--> Accepted   (Timer L = 64*T1; 2xx retransmissions from the TU pass,
 *                                           INVITE retransmissions are absorbed, ACK goes to the TU)
 *   Proceeding --300-699 from TU--> Completed (Timer G over UDP: resend T1, 2T1 ... capped at T2;
 *                                              Timer H = 64*T1: give up waiting for the ACK)
 *   Completed --ACK--> Confirmed (Timer I = T4 over UDP, 0 reliable) --> Terminated
 *   Accepted --Timer L--> Terminated
 *
 * 100 Trying (§17.2.1): sent when the TU has not answered within `trying100` ms (200 ms), so a
 * quick final answer needs no 100 at all. CANCEL (§9.2): the layer answers it with 200, tells the
 * TU through `onCancel`, and sends 487 if the TU did not send a final response itself.
 */
import { createResponse } from '../build.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { Endpoint } from '../types.js';
import { safeCall, type TransactionContext } from './context.js';
import { ServerTransactionBase } from './server-base.js';
import { TimerSet } from './timers.js';

type State = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export class InviteServerTransaction extends ServerTransactionBase {
  #state: State = 'proceeding';
  readonly #timers = new TimerSet();
  #cancelListeners: Array<() => void> = [];
  #answered = false;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Endpoint, destination: Endpoint | null) {
    super(ctx, key, request, source, destination);
    this.#timers.start('100', ctx.timers.trying100, () => {
      if (this.#state === 'proceeding' && !this.#answered) this.sendResponse(createResponse(request, 100));
    });
  }

  get state(): State {
    return this.#state;
  }

  sendResponse(response: SipResponse): void {
    if (!this.checkResponse(response)) return;
    const status = response.status;
    switch (this.#state) {
      case 'proceeding':
        this.#answered = true;
        this.#timers.stop('100');
        this.transmit(response);
        if (status < 200) return;
        // A CANCEL can no longer apply (§9.2): its listeners, which hold the TU's call, are let go
        // now rather than at Timer L / H, 32 s later.
        this.#cancelListeners = [];
        if (status < 300) {
          this.#state = 'accepted';
          this.#timers.expire('L', this.ctx.expiries, 64 * this.ctx.timers.T1, () => this.terminate());
          return;
        }
        this.#state = 'completed';
        if (!this.reliable) this.#scheduleG(this.ctx.timers.T1);
        this.#timers.start('H', 64 * this.ctx.timers.T1, () => {
          this.ctx.logger.debug({ event: 'timer-h', callId: this.request.callId, status }, 'no ACK for a final response');
          this.terminate();
        });
        return;
      case 'accepted':
        // RFC 6026 §7.1: the TU retransmits its 2xx itself until the ACK arrives.
        if (status >= 200 && status < 300) this.transmit(response);
        return;
      case 'completed':
      case 'confirmed':
      case 'terminated':
        this.ctx.logger.warn({ event: 'late-response', callId: this.request.callId, status, state: this.#state }, 'response after the final one ignored');
        return;
    }
  }

  /** Timer G: retransmit the final response with doubling intervals capped at T2. */
  #scheduleG(interval: number): void {
    this.#timers.start('G', interval, () => {
      if (this.#state !== 'completed') return;
      this.retransmitLast();
      this.#scheduleG(Math.min(2 * interval, this.ctx.timers.T2));
    });
  }

  receiveRetransmission(): void {
    // Proceeding: resend the last provisional; Completed: the final. Accepted/Confirmed absorb.
    if (this.#state === 'proceeding' || this.#state === 'completed') this.retransmitLast();
  }

  receiveAck(ack: SipRequest, source: Endpoint): void {
    switch (this.#state) {
      case 'completed':
        this.#state = 'confirmed';
        this.#timers.stop('G');
        this.#timers.stop('H');
        if (this.reliable) this.terminate();
        else this.#timers.expire('I', this.ctx.expiries, this.ctx.timers.T4, () => this.terminate());
        return;
      case 'accepted':
        this.ctx.deliverAck(ack, source);
        return;
      default:
        return; // Confirmed absorbs retransmitted ACKs; an ACK before any final is meaningless.
    }
  }

  override onCancel(listener: () => void): void {
    this.#cancelListeners.push(listener);
  }

  /** §9.2: a CANCEL matched this transaction (the layer already answered it with 200). */
  cancel(): void {
    if (this.#state !== 'proceeding') return;
    for (const listener of this.#cancelListeners) safeCall(this.ctx.logger, 'onCancel', this.request.callId, listener);
    if (this.#state === 'proceeding') this.respond(487);
  }

  /** Whether a CANCEL can still have an effect (no final response yet). */
  get cancellable(): boolean {
    return this.#state === 'proceeding';
  }

  protected stopTimers(): void {
    this.#state = 'terminated';
    this.#timers.clear();
  }
}
