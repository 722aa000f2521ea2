/**
 * The implicit subscription a REFER creates (RFC 3515 §2.4.4, RFC 6665): NOTIFYs with
 * `Event: refer` and a `message/sipfrag` body (RFC 3420) carrying the status line of the call to
 * the transfer target — `100 Trying` at once, then the final status, which terminates the
 * subscription. `Refer-Sub: false` (RFC 4488) asks for none. Our own small sender, in the REFER's
 * dialog, kept apart from other NOTIFY users (message waiting).
 */
import type { Dialog } from '../../../sip/dialog.js';
import { formatNameAddr } from '../../../sip/uri.js';
import type { InCallHandle } from '../../../sip/b2bua/types.js';
import { REASON_PHRASES } from './sipfrag.js';

export class ReferNotifier {
  readonly #call: InCallHandle;
  readonly #dialog: Dialog;
  readonly #id: number;
  readonly #enabled: boolean;
  #terminated = false;

  constructor(call: InCallHandle, dialog: Dialog, referCseq: number, enabled: boolean) {
    this.#call = call;
    this.#dialog = dialog;
    this.#id = referCseq;
    this.#enabled = enabled;
  }

  get terminated(): boolean {
    return this.#terminated;
  }

  /** A provisional status (100 Trying, 180 Ringing): the subscription stays active. */
  progress(status: number): void {
    this.#send(status, false);
  }

  /** The final status of the call to the target: the last NOTIFY. */
  final(status: number): void {
    this.#send(status, true);
  }

  #send(status: number, final: boolean): void {
    if (this.#terminated || !this.#enabled) return;
    if (final) this.#terminated = true;
    const reason = REASON_PHRASES[status] ?? (status < 300 ? 'OK' : 'Failed');
    this.#call.send(
      this.#dialog,
      'NOTIFY',
      {
        body: Buffer.from(`SIP/2.0 ${status} ${reason}\r\n`),
        contentType: 'message/sipfrag;version=2.0',
        headers: [
          // §2.4.6: the id names the REFER's CSeq, so a phone with several REFERs tells them apart.
          { name: 'Event', value: `refer;id=${this.#id}` },
          { name: 'Subscription-State', value: final ? 'terminated;reason=noresource' : 'active;expires=60' },
          { name: 'Contact', value: formatNameAddr(this.#dialog.contact) },
        ],
      },
      (answer) => {
        if (answer >= 300) this.#call.log.info({ status: answer }, 'transferor refused our NOTIFY');
      },
    );
  }
}
