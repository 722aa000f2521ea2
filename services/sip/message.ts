/**
 * The SIP message model (RFC 3261 §7, §20, §25). Bytes from the network are parsed at the edge
 * (`parser.ts`) into these typed values; the core (transactions, registrar, B2BUA) never reads a
 * header as a string again.
 *
 * The headers the core needs are typed fields and are the single source of truth for the
 * serializer (`serializer.ts`): Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route,
 * Record-Route, Expires, Content-Type. Every other header stays in `headers` as a raw field, in
 * order, so a B2BUA or a feature can copy what it does not understand. Content-Length is never
 * stored: the serializer computes it from `body`.
 */

/** URI and header parameters, names lower-cased; a parameter without `=value` maps to null. */
export type Params = Map<string, string | null>;

/** RFC 3261 §19.1: a sip: or sips: URI. `user` and `password` keep their %-escapes as received. */
export interface SipUri {
  readonly kind: 'sip';
  secure: boolean; // sips:
  user: string | null;
  password: string | null;
  /** Lower-cased. IPv6 references keep their brackets: `[::1]`. */
  host: string;
  port: number | null;
  params: Params;
  /** URI headers (`?a=b&c=d`), rare; forbidden in a Request-URI (RFC 3261 §19.1.5). */
  headers: Map<string, string>;
}

/** Any other absolute URI (tel:, mailto:, urn:, http: ...), kept verbatim. */
export interface AbsoluteUri {
  readonly kind: 'absolute';
  /** Lower-cased scheme without the colon. */
  scheme: string;
  /** The whole URI text as received. */
  raw: string;
}

export type Uri = SipUri | AbsoluteUri;

/** name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route. */
export interface NameAddr {
  /** Display name without quotes or escapes; null when absent. */
  displayName: string | null;
  uri: Uri;
  /** Header parameters (tag, expires, q, +sip.instance, lr lives on the URI). */
  params: Params;
}

/** RFC 3261 §20.42 (Via) with RFC 3581 rport. */
export interface Via {
  /** Upper-cased transport token: UDP, TCP, TLS, SCTP, WS, WSS, or anything unknown. */
  transport: string;
  host: string;
  port: number | null;
  /** branch, received, rport (null value when requested without a value), maddr, ttl ... */
  params: Params;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** A header the core does not interpret, with its name as received (compact forms expanded). */
export interface RawHeader {
  name: string;
  value: string;
}

interface MessageBase {
  via: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  /** null when absent. */
  maxForwards: number | null;
  /** `Contact: *` (REGISTER only) is the string '*'. */
  contact: NameAddr[] | '*';
  route: NameAddr[];
  recordRoute: NameAddr[];
  /** Expires header (seconds); null when absent. */
  expires: number | null;
  /** Content-Type media type with its parameters as received, null when absent. */
  contentType: string | null;
  /** Every other header, in order. */
  headers: RawHeader[];
  body: Buffer;
}

export interface SipRequest extends MessageBase {
  readonly kind: 'request';
  method: string;
  uri: Uri;
}

export interface SipResponse extends MessageBase {
  readonly kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §8.1.1.7: branches of 3261-compliant elements start with this cookie. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** First value of a raw header, case-insensitive. */
export function getHeader(message: SipMessage, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const header of message.headers) {
    if (header.name.toLowerCase() === wanted) return header.value;
  }
  return undefined;
}

/** Every value of a raw header, in order, case-insensitive. */
export function getHeaders(message: SipMessage, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const header of message.headers) {
    if (header.name.toLowerCase() === wanted) values.push(header.value);
  }
  return values;
}

export function tagOf(nameAddr: NameAddr): string | null {
  return nameAddr.params.get('tag') ?? null;
}

export function branchOf(via: Via | undefined): string | null {
  return via?.params.get('branch') ?? null;
}
