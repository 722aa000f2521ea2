/** Transaction matching keys: §17.1.3 (client) and §17.2.3 (server, with the RFC 2543 fallback). */
import { BRANCH_MAGIC_COOKIE, branchOf, tagOf, type SipRequest, type SipResponse } from '../message.js';

/** A branch made by an RFC 3261 element: the magic cookie and something after it (badbranch.dat has only the cookie). */
export function isRfc3261Branch(branch: string | null): branch is string {
  return branch !== null && branch.startsWith(BRANCH_MAGIC_COOKIE) && branch.length > BRANCH_MAGIC_COOKIE.length;
}

/**
 * §17.2.3: the server transaction a request belongs to. ACK matches the INVITE it acknowledges;
 * `asMethod` lets a CANCEL look up the INVITE it cancels (§9.2). Requests without a 3261 branch
 * are matched on Call-ID, From tag, CSeq number and top Via (the RFC 2543 rules; the To tag and
 * Request-URI checks are left to the transaction).
 */
export function serverKey(request: SipRequest, asMethod?: string): string | null {
  const via = request.via[0];
  if (via === undefined) return null;
  const method = asMethod ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  const branch = branchOf(via);
  const sentBy = `${via.host.toLowerCase()}:${via.port ?? ''}`;
  if (isRfc3261Branch(branch)) return `b|${branch}|${sentBy}|${method}`;
  return `o|${request.callId}|${tagOf(request.from) ?? ''}|${request.cseq.seq}|${method}|${sentBy}|${branch ?? ''}`;
}

/** §17.1.3: a response matches the client transaction with its top Via branch and CSeq method. */
export function clientKeyOf(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

export function clientKeyOfResponse(response: SipResponse): string | null {
  const branch = branchOf(response.via[0]);
  return branch === null ? null : clientKeyOf(branch, response.cseq.method);
}
