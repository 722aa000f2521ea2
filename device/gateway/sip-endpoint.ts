/**
 * The gateway's SIP endpoint: one UDP listener on loopback shared by every analog port, requests
 * dispatched to the port named by the Request-URI's user (each port's Contact is `sip:fxs1@...`,
 * so the pbx reaches the port, whatever extension it registers as) or to the call of the Call-ID.
 */
import type { Logger } from '../../services/log.js';
import { tagOf, type SipRequest } from '../../services/sip/message.js';
import type { ServerTransaction, TransactionLayer } from '../../services/sip/types.js';
import { SipCall, type SipContext } from './sip-call.js';

export interface PortSipHandler {
  /** A new INVITE for this port: the port answers, rings or refuses it. */
  onInvite(call: SipCall, txn: ServerTransaction): void;
  /** Out-of-dialog NOTIFY (unsolicited message-summary, RFC 3842 as Asterisk sends it): the status to answer. */
  onNotify?(request: SipRequest): number;
}

export class SipEndpoint {
  readonly ctx: SipContext;
  readonly #ports = new Map<string, PortSipHandler>();
  readonly #calls = new Map<string, SipCall>();
  readonly #log: Logger;

  constructor(ctx: SipContext) {
    this.ctx = ctx;
    this.#log = ctx.logger;
    const layer: TransactionLayer = ctx.transactions;
    layer.onRequest((txn) => {
      try {
        this.#dispatch(txn);
      } catch (error) {
        this.#log.error({ err: error instanceof Error ? error.stack : String(error), callId: txn.request.callId }, 'request handling failed');
        try {
          txn.respond(500);
        } catch {
          // already answered
        }
      }
    });
    layer.onAck((ack) => this.#calls.get(ack.callId)?.acknowledged(ack));
  }

  addPort(contactUser: string, handler: PortSipHandler): void {
    this.#ports.set(contactUser, handler);
  }

  removePort(contactUser: string): void {
    this.#ports.delete(contactUser);
  }

  /** Files a call so in-dialog requests reach it; forgotten 32 s after it ends (late retransmissions). */
  track(call: SipCall): void {
    this.#calls.set(call.callId, call);
  }

  forget(call: SipCall): void {
    setTimeout(() => {
      if (this.#calls.get(call.callId) === call) this.#calls.delete(call.callId);
      call.dispose();
    }, 32_000).unref();
  }

  #dispatch(txn: ServerTransaction): void {
    const request = txn.request;
    const toTag = tagOf(request.to);
    if (toTag !== null) {
      const call = this.#calls.get(request.callId);
      if (call !== undefined && call.localTag === toTag) {
        call.handleInDialog(txn);
        return;
      }
      if (request.method === 'NOTIFY') {
        // A NOTIFY of a REFER we sent (implicit subscription): its dialog is the call's; accept it.
        txn.respond(call === undefined ? 481 : 200);
        return;
      }
      txn.respond(481);
      return;
    }
    const user = request.uri.kind === 'sip' ? request.uri.user : null;
    // '*' takes any user (the FXO trunk: the Request-URI is the number to dial).
    const port = (user === null ? undefined : this.#ports.get(user)) ?? this.#ports.get('*');
    switch (request.method) {
      case 'OPTIONS':
        // Keepalive from the pbx (and qualify): answered for any user, nothing enumerated.
        txn.respond(200, { headers: [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER' }] });
        return;
      case 'INVITE': {
        if (port === undefined) {
          txn.respond(404);
          return;
        }
        const call = SipCall.incoming(this.ctx, txn, user ?? 'line');
        this.track(call);
        port.onInvite(call, txn);
        return;
      }
      case 'NOTIFY':
        txn.respond(port?.onNotify?.(request) ?? 481);
        return;
      case 'BYE':
        txn.respond(481);
        return;
      default:
        txn.respond(405, { headers: [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER' }] });
    }
  }
}
