/**
 * RFC 3261 §17.1.1 (Figure 5) with RFC 6026 §7.2 (Figure 4): the INVITE client transaction.
 *
 *   Calling --1xx--> Proceeding            (Timers A and B stop: the TU's Timer C takes over)
 *   Calling/Proceeding --2xx--> Accepted   (Timer M = 64*T1; further 2xx → onAdditional2xx)
 *   Calling/Proceeding --300-699--> Completed (ACK sent by the transaction, Timer D: 32 s over
 *                                              UDP to absorb retransmitted finals, 0 reliable)
 *   Calling --Timer B (64*T1)--> Terminated, reported as a timeout
 * Timer A (UDP only) retransmits the INVITE at T1, 2T1, 4T1 ... while Calling.
 * CANCEL (§9.1): only after a provisional; asked earlier, it is sent when the first 1xx arrives.
 * If no final response follows within 64*T1 of the CANCEL, the transaction is given up.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { ClientTransactionHandlers, Endpoint } from '../types.js';
import { ClientTransactionBase } from './client-base.js';
import type { TransactionContext } from './context.js';
import { buildCancel, buildNon2xxAck } from './requests.js';

type State = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export class InviteClientTransaction extends ClientTransactionBase {
  #state: State = 'calling';
  #cancel: 'none' | 'wanted' | 'sent' = 'none';
  #ackBytes: Buffer | null = null;
  readonly #sendCancel: (cancel: SipRequest, destination: Endpoint) => void;

  constructor(
    ctx: TransactionContext,
    key: string,
    request: SipRequest,
    destination: Endpoint,
    handlers: ClientTransactionHandlers,
    sendCancel: (cancel: SipRequest, destination: Endpoint) => void,
  ) {
    super(ctx, key, request, destination, handlers);
    this.#sendCancel = sendCancel;
  }

  get state(): State {
    return this.#state;
  }

  start(): void {
    this.sendRequest();
    if (!this.reliable) this.#scheduleA(this.ctx.timers.T1);
    this.timers.start('B', 64 * this.ctx.timers.T1, () => {
      if (this.#state === 'calling') this.timeout('B');
    });
  }

  #scheduleA(interval: number): void {
    this.timers.start('A', interval, () => {
      if (this.#state !== 'calling') return;
      this.retransmit();
      this.#scheduleA(2 * interval);
    });
  }

  receiveResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.#state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          if (this.#state === 'calling') {
            this.#state = 'proceeding';
            this.timers.stop('A');
            this.timers.stop('B');
          }
          if (this.#cancel === 'wanted') this.#doCancel();
          this.notify('onProvisional', () => this.handlers.onProvisional?.(response));
          return;
        }
        this.timers.stop('A');
        this.timers.stop('B');
        this.timers.stop('cancel');
        if (status < 300) {
          this.#state = 'accepted';
          this.timers.expire('M', this.ctx.expiries, 64 * this.ctx.timers.T1, () => this.terminate());
        } else {
          this.#state = 'completed';
          this.#ackBytes = this.ctx.send(buildNon2xxAck(this.request, response), this.destination, (error) => this.transportError(error));
          if (this.reliable) this.terminate();
          else this.timers.expire('D', this.ctx.expiries, this.ctx.timers.D, () => this.terminate());
        }
        this.notify('onFinal', () => this.handlers.onFinal(response));
        return;
      case 'completed':
        // A retransmitted final: our ACK was lost, send it again (§17.1.1.2).
        if (status >= 300 && this.#ackBytes !== null) this.ctx.sendBytes(this.#ackBytes, this.destination);
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.notify('onAdditional2xx', () => this.handlers.onAdditional2xx?.(response));
        return;
      case 'terminated':
        return;
    }
  }

  cancel(): void {
    if (this.#cancel !== 'none') return;
    if (this.#state === 'calling') this.#cancel = 'wanted';
    else if (this.#state === 'proceeding') this.#doCancel();
  }

  #doCancel(): void {
    this.#cancel = 'sent';
    this.#sendCancel(buildCancel(this.request), this.destination);
    this.timers.start('cancel', 64 * this.ctx.timers.T1, () => {
      if (this.#state === 'proceeding') this.timeout('cancel');
    });
  }

  protected override terminate(): void {
    this.#state = 'terminated';
    super.terminate();
  }
}
