/**
 * RFC 3261 §17.1.2 (Figure 6): the non-INVITE client transaction.
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer K--> Terminated
 *   Trying --final--> Completed
 *   Trying/Proceeding --Timer F (64*T1)--> Terminated, reported to the TU as a timeout
 * Timer E (UDP only) retransmits at T1, 2T1, 4T1 ... capped at T2; in Proceeding always at T2.
 * Timer K is T4 over UDP (absorbs response retransmissions) and zero over reliable transports.
 */
import type { SipResponse } from '../message.js';
import { ClientTransactionBase } from './client-base.js';

type State = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteClientTransaction extends ClientTransactionBase {
  #state: State = 'trying';

  get state(): State {
    return this.#state;
  }

  start(): void {
    this.sendRequest();
    if (!this.reliable) this.#scheduleE(this.ctx.timers.T1);
    this.timers.start('F', 64 * this.ctx.timers.T1, () => this.timeout('F'));
  }

  #scheduleE(interval: number): void {
    this.timers.start('E', interval, () => {
      if (this.#state !== 'trying' && this.#state !== 'proceeding') return;
      this.retransmit();
      const next = this.#state === 'trying' ? Math.min(2 * interval, this.ctx.timers.T2) : this.ctx.timers.T2;
      this.#scheduleE(next);
    });
  }

  receiveResponse(response: SipResponse): void {
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return; // Completed absorbs retransmissions.
    if (response.status < 200) {
      this.#state = 'proceeding';
      this.notify('onProvisional', () => this.handlers.onProvisional?.(response));
      return;
    }
    this.#state = 'completed';
    this.timers.stop('E');
    this.timers.stop('F');
    if (this.reliable) this.terminate();
    else this.timers.expire('K', this.ctx.expiries, this.ctx.timers.T4, () => this.terminate());
    this.notify('onFinal', () => this.handlers.onFinal(response));
  }

  cancel(): void {
    // §9.1: only INVITE can be cancelled.
  }

  protected override terminate(): void {
    this.#state = 'terminated';
    super.terminate();
  }
}
