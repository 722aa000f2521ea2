/**
 * Building messages: responses from a request (RFC 3261 §8.2.6) and the random identifiers a UA or
 * B2BUA mints (§8.1.1.4 Call-ID, §19.3 tags, §8.1.1.7 branch).
 */
import { randomBytes } from 'node:crypto';
import { BRANCH_MAGIC_COOKIE, getHeader, type NameAddr, type SipRequest, type SipResponse, type Via } from './message.js';
import type { ResponseOptions } from './types.js';

/** RFC 3261 §21 plus the extension codes a PBX meets (RFC 3262, 3265, 3311, 3329, 3891, 4028, 4412, 5079, 5360, 5626, 6442, 8197, 8599). */
const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  430: 'Flow Failed',
  433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info',
  437: 'Unsupported Certificate',
  438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded',
  469: 'Bad Info Package',
  470: 'Consent Needed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
  607: 'Unwanted',
  608: 'Rejected',
};

const CLASS_REASONS = ['', 'Informational', 'Success', 'Redirection', 'Client Error', 'Server Error', 'Global Failure'];

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? CLASS_REASONS[Math.floor(status / 100)] ?? 'Unknown';
}

// Random identifiers come from one pooled buffer: crypto quality, one syscall per 4 KiB.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function randomToken(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  // base64url is all token characters (§25.1), so the result is safe as a tag, branch or Call-ID.
  const out = pool.toString('base64url', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return out;
}

/** §8.1.1.7: unique across space and time, with the 3261 magic cookie. */
export function newBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomToken(12);
}

/** §19.3: at least 32 bits of randomness. */
export function newTag(): string {
  return randomToken(9);
}

/** §8.1.1.4: random local part (120 bits) @ host. */
export function newCallId(host: string): string {
  return randomToken(15) + '@' + host;
}

function copyNameAddr(n: NameAddr): NameAddr {
  return { displayName: n.displayName, uri: n.uri, params: new Map(n.params) };
}

function copyVia(v: Via): Via {
  return { transport: v.transport, host: v.host, port: v.port, params: new Map(v.params) };
}

const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/**
 * §8.2.6.2: Via list, From, Call-ID and CSeq copied; To copied with a tag added (except for 100,
 * §8.2.6.2) when the request had none; Record-Route copied into 101–299 responses of
 * dialog-creating requests (§12.1.1); Timestamp echoed in a 100 (§8.2.6.1).
 */
export function createResponse(request: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const to = copyNameAddr(request.to);
  if (status !== 100 && !to.params.has('tag')) to.params.set('tag', options.toTag ?? newTag());
  const headers = options.headers ? options.headers.slice() : [];
  if (status === 100) {
    const timestamp = getHeader(request, 'timestamp');
    if (timestamp !== undefined) headers.unshift({ name: 'Timestamp', value: timestamp });
  }
  const copyRecordRoute = status > 100 && status < 300 && DIALOG_CREATING.has(request.method);
  return {
    kind: 'response',
    status,
    reason: options.reason ?? reasonPhrase(status),
    via: request.via.map(copyVia),
    from: copyNameAddr(request.from),
    to,
    callId: request.callId,
    cseq: { seq: request.cseq.seq, method: request.cseq.method },
    maxForwards: null,
    contact: options.contact ?? [],
    route: [],
    recordRoute: copyRecordRoute ? request.recordRoute.map(copyNameAddr) : [],
    expires: options.expires ?? null,
    contentType: options.contentType ?? null,
    headers,
    body: options.body ?? Buffer.alloc(0),
  };
}

type RequestDefaults = 'kind' | 'maxForwards' | 'contact' | 'route' | 'recordRoute' | 'expires' | 'contentType' | 'headers' | 'body';

/**
 * A request we originate (RFC 3261 §8.1.1): Max-Forwards 70 (§8.1.1.6) and no Contact, Route,
 * Record-Route, Expires, other headers or body unless given.
 */
export function newRequest(fields: Omit<SipRequest, RequestDefaults> & Partial<Omit<SipRequest, 'kind'>>): SipRequest {
  return { kind: 'request', maxForwards: 70, contact: [], route: [], recordRoute: [], expires: null, contentType: null, headers: [], body: Buffer.alloc(0), ...fields };
}
