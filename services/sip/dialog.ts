/**
 * One SIP dialog as seen by one leg of the B2BUA (RFC 3261 §12). It knows how to build requests
 * inside the dialog (§12.2.1.1) and where to send them.
 *
 * Where requests go: always to the network address the peer was last seen at (the source of its
 * REGISTER or INVITE), never to the host in its Contact. Phones behind NAT put private addresses
 * in Contact; sending to the observed address is what Kamailio's fix_nated_contact and Asterisk's
 * `force_rport` do, and it is why calls to NAT'd phones work without STUN.
 */
import { tagOf, type NameAddr, type RawHeader, type SipRequest, type SipResponse, type Uri, type Via } from './message.js';
import { newBranch, newRequest, newTag } from './build.js';
import type { Endpoint } from './types.js';

export type DialogRole = 'uac' | 'uas';

export interface DialogInit {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string | null;
  /** Our From (UAC) or To (UAS) without its tag parameter. */
  localUri: NameAddr;
  remoteUri: NameAddr;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: Uri;
  /** §12.1.1 / §12.1.2: reversed for the UAC, as-is for the UAS. */
  routeSet: NameAddr[];
  destination: Endpoint;
  /** Our own Contact, sent in every target-refresh request and response. */
  contact: NameAddr;
}

export interface InDialogRequestOptions {
  body?: Buffer;
  contentType?: string | null;
  headers?: RawHeader[];
  /** ACK and CANCEL reuse the INVITE's CSeq number (§13.2.2.4, §9.1). */
  cseq?: number;
}

export class Dialog {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string | null;
  readonly localUri: NameAddr;
  readonly remoteUri: NameAddr;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: Uri;
  routeSet: NameAddr[];
  destination: Endpoint;
  readonly contact: NameAddr;

  constructor(init: DialogInit) {
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.destination = init.destination;
    this.contact = init.contact;
  }

  /**
   * §12.2.1.1: a request inside the dialog. `via` is our Via for the transport of `destination`
   * (the caller supplies host/port; a fresh branch is set here, except for ACK to a 2xx, which
   * gets its own branch too, §17.1.1.3).
   */
  createRequest(method: string, via: Omit<Via, 'params'>, options: InDialogRequestOptions = {}): SipRequest {
    let seq: number;
    if (options.cseq !== undefined) {
      seq = options.cseq;
    } else {
      this.localSeq += 1;
      seq = this.localSeq;
    }
    const routeSet = this.routeSet.map(cloneNameAddr);
    let requestUri: Uri = this.remoteTarget;
    // §12.2.1.1: a strict router (no ;lr) at the head of the route set takes the Request-URI.
    const first = routeSet[0];
    if (first !== undefined && first.uri.kind === 'sip' && !first.uri.params.has('lr')) {
      requestUri = first.uri;
      routeSet.shift();
      routeSet.push({ displayName: null, uri: this.remoteTarget, params: new Map() });
    }
    const viaParams = new Map<string, string | null>([['branch', newBranch()], ['rport', null]]);
    return newRequest({
      method,
      uri: requestUri,
      via: [{ ...via, params: viaParams }],
      from: withTag(this.localUri, this.localTag),
      to: withTag(this.remoteUri, this.remoteTag),
      callId: this.callId,
      cseq: { seq, method },
      contact: method === 'INVITE' || method === 'UPDATE' ? [this.contact] : [],
      route: routeSet,
      contentType: options.body && options.body.length > 0 ? (options.contentType ?? 'application/sdp') : null,
      headers: options.headers ?? [],
      body: options.body ?? Buffer.alloc(0),
    });
  }

  /** §12.2.2: a request from the peer inside this dialog; false means it must get 500 (CSeq out of order). */
  acceptRemoteSequence(request: SipRequest): boolean {
    if (request.method === 'ACK' || request.method === 'CANCEL') return true;
    if (request.cseq.seq <= this.remoteSeq && this.remoteSeq !== 0) return false;
    this.remoteSeq = request.cseq.seq;
    return true;
  }

  /** §12.2: target refresh (re-INVITE, UPDATE) replaces the remote target. */
  refreshTarget(message: SipRequest | SipResponse): void {
    if (message.contact !== '*' && message.contact[0] !== undefined) {
      this.remoteTarget = message.contact[0].uri;
    }
  }
}

/**
 * The UAC dialog a 2xx to our INVITE creates (RFC 3261 §12.1.2): remote target from the response's
 * Contact, route set from its Record-Route reversed. `fallbackContact` is ours when the request
 * carried none usable.
 */
export function uacDialogFor(request: SipRequest, response: SipResponse, destination: Endpoint, fallbackContact: NameAddr): Dialog {
  const contact = response.contact === '*' ? undefined : response.contact[0];
  return new Dialog({
    role: 'uac',
    callId: request.callId,
    localTag: tagOf(request.from) ?? '',
    remoteTag: tagOf(response.to),
    localUri: withoutTag(request.from),
    remoteUri: withoutTag(request.to),
    localSeq: request.cseq.seq,
    remoteSeq: 0,
    remoteTarget: contact?.uri ?? request.uri,
    routeSet: [...response.recordRoute].reverse(),
    destination,
    contact: request.contact === '*' ? fallbackContact : (request.contact[0] ?? fallbackContact),
  });
}

/**
 * The UAS dialog a request of ours creates (RFC 3261 §12.1.1): our tag is chosen here, the remote
 * target is the request's Contact, the route set its Record-Route as received.
 */
export function uasDialogFor(request: SipRequest, destination: Endpoint, contact: NameAddr): Dialog {
  const remoteContact = request.contact === '*' ? undefined : request.contact[0];
  return new Dialog({
    role: 'uas',
    callId: request.callId,
    localTag: newTag(),
    remoteTag: tagOf(request.from),
    localUri: withoutTag(request.to),
    remoteUri: withoutTag(request.from),
    localSeq: 0,
    remoteSeq: request.cseq.seq,
    remoteTarget: remoteContact?.uri ?? request.from.uri,
    routeSet: request.recordRoute,
    destination,
    contact,
  });
}

export function withTag(nameAddr: NameAddr, tag: string | null): NameAddr {
  const params = new Map(nameAddr.params);
  if (tag === null) params.delete('tag');
  else params.set('tag', tag);
  return { displayName: nameAddr.displayName, uri: nameAddr.uri, params };
}

export function withoutTag(nameAddr: NameAddr): NameAddr {
  return withTag(nameAddr, null);
}

function cloneNameAddr(nameAddr: NameAddr): NameAddr {
  return { displayName: nameAddr.displayName, uri: nameAddr.uri, params: new Map(nameAddr.params) };
}
