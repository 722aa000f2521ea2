/**
 * The checks an element applies to a request that parsed, before any transaction user sees it
 * (RFC 3261 §8.2.2–§8.2.3 for a UAS, §16.3 for a proxy; RFC 4475 §3.3). The parser already answers
 * syntax errors; these are the rules that need the element's configuration.
 */
import { getHeader, getHeaders, type RawHeader, type SipRequest } from './message.js';

export interface RequestRejection {
  status: number;
  reason: string;
  /** Headers the response must carry (Unsupported, Accept, Accept-Encoding). */
  headers: RawHeader[];
}

export interface ValidateOptions {
  /** Option-tags we implement, e.g. ['path', 'outbound', 'replaces', 'timer']. */
  supportedExtensions: string[];
  /** Media types we can process in a session body, e.g. ['application/sdp']. */
  acceptedContentTypes: string[];
  /** A proxy or B2BUA forwards requests: Max-Forwards and Proxy-Require apply (§16.3). */
  isProxyOrB2bua: boolean;
}

/** Methods whose body describes a session we must understand (§8.2.3; RFC 3262, 3311). */
const SESSION_BODY_METHODS = new Set(['INVITE', 'UPDATE', 'PRACK']);

function reject(status: number, reason: string, headers: RawHeader[] = []): RequestRejection {
  return { status, reason, headers };
}

function tokens(values: string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const item of value.split(',')) {
      const token = item.trim();
      if (token.length > 0) out.push(token);
    }
  }
  return out;
}

function mediaType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** Does an Accept list (RFC 3261 §20.1) admit `wanted` (type/subtype)? q=0 excludes (RFC 2616 §14.1). */
function accepts(acceptValues: string[], wanted: string): boolean {
  const [wantedType] = wanted.split('/');
  for (const entry of tokens(acceptValues)) {
    const range = mediaType(entry);
    const q = /;\s*q\s*=\s*([0-9.]+)/i.exec(entry);
    if (q !== null && Number(q[1]) === 0) continue;
    if (range === wanted || range === '*/*' || range === wantedType + '/*') return true;
  }
  return false;
}

/**
 * Returns the rejection to send, or null when the request may go on. Order follows §16.3 / §8.2.2:
 * CSeq (400), URI scheme (416), Max-Forwards (483), Require / Proxy-Require (420), body (415),
 * Accept (406). ACK is never answered (§17.1.1.3), so it is never rejected here.
 */
export function validateRequest(request: SipRequest, options: ValidateOptions): RequestRejection | null {
  const method = request.method;
  if (method === 'ACK') return null;
  if (request.cseq.method !== method) return reject(400, 'CSeq method does not match the request method');

  // §8.2.2.1, §16.3 step 2: we route sip: and sips: only (tel: would need number routing we do not do)
  if (request.uri.kind !== 'sip') return reject(416, `unsupported URI scheme ${request.uri.scheme}`);

  // §16.3 step 3. A request we answer ourselves is not forwarded: REGISTER (we are the registrar),
  // CANCEL (hop by hop), and OPTIONS to no user (a ping of this box, §11). Everything else may be
  // relayed by the B2BUA to another hop, so Max-Forwards 0 ends it here (zeromf.dat).
  if (
    options.isProxyOrB2bua &&
    request.maxForwards === 0 &&
    method !== 'REGISTER' &&
    method !== 'CANCEL' &&
    !(method === 'OPTIONS' && request.uri.user === null)
  ) {
    return reject(483, 'Max-Forwards is 0');
  }

  // §8.2.2.3 (UAS) and §16.3 step 5 (proxy): unknown required option-tags; never for CANCEL
  if (method !== 'CANCEL') {
    const supported = new Set(options.supportedExtensions.map((t) => t.toLowerCase()));
    const required = tokens(getHeaders(request, 'require'));
    if (options.isProxyOrB2bua) for (const t of tokens(getHeaders(request, 'proxy-require'))) required.push(t);
    const unsupported: string[] = [];
    for (const tag of required) {
      if (!supported.has(tag.toLowerCase()) && !unsupported.includes(tag)) unsupported.push(tag);
    }
    if (unsupported.length > 0) {
      return reject(420, 'unsupported extension ' + unsupported.join(', '), [{ name: 'Unsupported', value: unsupported.join(', ') }]);
    }
  }

  // §8.2.3: a session body we cannot process (invut.dat)
  if (SESSION_BODY_METHODS.has(method) && request.body.length > 0) {
    const accepted = options.acceptedContentTypes.map((t) => t.toLowerCase());
    const acceptHeader = [{ name: 'Accept', value: options.acceptedContentTypes.join(', ') }];
    if (request.contentType === null) return reject(415, 'body without Content-Type', acceptHeader);
    const type = mediaType(request.contentType);
    if (!accepted.includes(type)) return reject(415, `unsupported Content-Type ${type}`, acceptHeader);
    const encoding = getHeader(request, 'content-encoding');
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      return reject(415, `unsupported Content-Encoding ${encoding}`, [{ name: 'Accept-Encoding', value: 'identity' }]);
    }
  }

  // §8.2.3 / §21.4.7: the INVITE's answer carries SDP, so an Accept without it cannot be served (sdp01.dat)
  if (method === 'INVITE') {
    const accept = getHeaders(request, 'accept');
    if (accept.length > 0 && !accepts(accept, 'application/sdp')) {
      return reject(406, 'Accept excludes application/sdp', [{ name: 'Accept', value: 'application/sdp' }]);
    }
  }
  return null;
}
