/** Requests the transaction layer builds itself: ACK for a non-2xx (§17.1.1.3) and CANCEL (§9.1). */
import type { SipRequest, SipResponse, Via } from '../message.js';
import { newRequest } from '../build.js';

function copyVia(via: Via): Via {
  return { transport: via.transport, host: via.host, port: via.port, params: new Map(via.params) };
}

function topViaOnly(request: SipRequest): Via[] {
  const top = request.via[0];
  return top === undefined ? [] : [copyVia(top)];
}

/**
 * §17.1.1.3: the ACK for a non-2xx final response belongs to the INVITE transaction: same
 * Request-URI, Call-ID, From, CSeq number and top Via (so the same branch) as the INVITE, the To
 * of the response (with its tag), and the INVITE's Route set.
 */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  return newRequest({
    method: 'ACK',
    uri: invite.uri,
    via: topViaOnly(invite),
    from: invite.from,
    to: response.to,
    callId: invite.callId,
    cseq: { seq: invite.cseq.seq, method: 'ACK' },
    route: invite.route,
  });
}

/** §9.1: CANCEL copies Request-URI, Call-ID, To, From, CSeq number and the top Via of the INVITE. */
export function buildCancel(invite: SipRequest): SipRequest {
  return newRequest({
    method: 'CANCEL',
    uri: invite.uri,
    via: topViaOnly(invite),
    from: invite.from,
    to: invite.to,
    callId: invite.callId,
    cseq: { seq: invite.cseq.seq, method: 'CANCEL' },
    route: invite.route,
  });
}
