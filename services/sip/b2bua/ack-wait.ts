/**
 * RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx to an INVITE, from T1 doubling to T2, until
 * the ACK arrives; after 64·T1 without one the dialog is given up. Retransmitted only over UDP:
 * a reliable transport already delivered it (what Kamailio and Asterisk do).
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Endpoint, TransactionLayer } from '../types.js';

export interface AckWaitOptions {
  transactions: TransactionLayer;
  t1Ms: number;
  t2Ms: number;
}

export class AckWait {
  readonly response: SipResponse;
  #timer: NodeJS.Timeout;
  #interval: number;
  #elapsed = 0;
  #onAck: (ack: SipRequest) => void;

  /** `onTimeout` runs when no ACK came within 64·T1; `onAck` when it came (once either way). */
  constructor(
    options: AckWaitOptions,
    response: SipResponse,
    destination: Endpoint,
    onAck: (ack: SipRequest) => void,
    onTimeout: () => void,
  ) {
    this.response = response;
    this.#onAck = onAck;
    this.#interval = options.t1Ms;
    const tick = (): void => {
      this.#elapsed += this.#interval;
      if (this.#elapsed >= 64 * options.t1Ms) {
        onTimeout();
        return;
      }
      if (destination.transport === 'UDP') options.transactions.sendStateless(response, destination);
      this.#interval = Math.min(this.#interval * 2, options.t2Ms);
      this.#timer = setTimeout(tick, this.#interval);
    };
    this.#timer = setTimeout(tick, this.#interval);
  }

  /** True when the ACK belongs to our 2xx (same CSeq number, §13.2.2.4); it then stops the timer. */
  acknowledge(ack: SipRequest): boolean {
    if (ack.cseq.seq !== this.response.cseq.seq) return false;
    clearTimeout(this.#timer);
    this.#onAck(ack);
    return true;
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }
}
