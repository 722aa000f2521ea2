/**
 * RFC 3261 §17.2.2 (Figure 8): the non-INVITE server transaction.
 *
 *   Trying --1xx from TU--> Proceeding --final from TU--> Completed --Timer J--> Terminated
 *   Trying --final from TU--> Completed
 * Request retransmissions: absorbed in Trying, answered with the last response in Proceeding and
 * Completed. Timer J is 64*T1 over UDP and zero over reliable transports.
 *
 * Over UDP the Completed state is handed to the layer as a compact record (the key, the response
 * bytes and where they go) that answers retransmissions until Timer J; the transaction object, with
 * its parsed request, ends at the final response. A registrar at 10,000 REGISTER/s otherwise keeps
 * 320,000 full transactions alive for 32 s each.
 */
import type { SipResponse } from '../message.js';
import { ServerTransactionBase } from './server-base.js';

type State = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction extends ServerTransactionBase {
  #state: State = 'trying';

  get state(): State {
    return this.#state;
  }

  sendResponse(response: SipResponse): void {
    if (!this.checkResponse(response)) return;
    if (this.#state === 'completed' || this.#state === 'terminated') {
      this.ctx.logger.warn({ event: 'late-response', callId: this.request.callId, status: response.status, state: this.#state }, 'response after the final one ignored');
      return;
    }
    this.transmit(response);
    if (response.status < 200) {
      this.#state = 'proceeding';
      return;
    }
    this.#state = 'completed';
    if (!this.reliable) this.ctx.linger(this.id, this.lastBytes, this.destination, 64 * this.ctx.timers.T1);
    this.terminate();
  }

  receiveRetransmission(): void {
    if (this.#state === 'proceeding' || this.#state === 'completed') this.retransmitLast();
  }

  protected stopTimers(): void {
    this.#state = 'terminated';
  }
}
