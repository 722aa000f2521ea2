/**
 * The contracts between the layers of the SIP core (RFC 3261 §5): transport → transaction →
 * transaction user (registrar, B2BUA). Each layer only sees the one below through these types.
 */
import type { NameAddr, RawHeader, SipRequest, SipResponse } from './message.js';

export type TransportKind = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

/** Where a message came from or must go to. */
export interface Endpoint {
  transport: TransportKind;
  /** Numeric IP address (IPv4 dotted or IPv6 without brackets). */
  address: string;
  port: number;
  /**
   * Stream transports: the connection a request came in on, so its responses (and requests inside a
   * dialog with a phone behind NAT) go back on it (RFC 3261 §18.2.2, RFC 5626 spirit). null for UDP
   * or when any connection (or a new one) to address:port will do.
   */
  connectionId: number | null;
}

/** What a transaction user needs to build a response to a request (§8.2.6). */
export interface ResponseOptions {
  reason?: string;
  /** Added to To when the request's To has no tag. Defaults to a fresh random tag for non-100. */
  toTag?: string;
  contact?: NameAddr[];
  expires?: number;
  contentType?: string;
  body?: Buffer;
  /** Extra headers (WWW-Authenticate, Allow, Supported, Retry-After, ...). */
  headers?: RawHeader[];
}

/** RFC 3261 §17.2: one server transaction, as the transaction user sees it. */
export interface ServerTransaction {
  readonly id: string;
  readonly request: SipRequest;
  readonly source: Endpoint;
  /** Builds a response from the request (§8.2.6.2) and sends it; returns what was sent. */
  respond(status: number, options?: ResponseOptions): SipResponse;
  /** Sends a response built elsewhere (relayed by the B2BUA); Via/From/To/Call-ID/CSeq must match. */
  sendResponse(response: SipResponse): void;
  /**
   * INVITE only: a CANCEL matched this transaction (§9.2). The layer has already answered the
   * CANCEL with 200; if the listener does not send a final response, the layer sends 487.
   */
  onCancel(listener: () => void): void;
  /** Fired once when the transaction is gone (terminated or timed out). */
  onTerminated(listener: () => void): void;
}

/** Callbacks of one client transaction (§17.1). */
export interface ClientTransactionHandlers {
  onProvisional?(response: SipResponse): void;
  /**
   * The first final response. For INVITE, a non-2xx is ACKed by the layer (§17.1.1.3); a 2xx is
   * the transaction user's to ACK (§13.2.2.4).
   */
  onFinal(response: SipResponse): void;
  /** INVITE only: further 2xx (retransmissions or other forks) after the first (RFC 6026 Accepted). */
  onAdditional2xx?(response: SipResponse): void;
  /** Timer B or F fired, or the transport failed: the layer reports it as a 408 or 503 (§8.1.3.1). */
  onTimeout?(kind: 'timeout' | 'transport-error'): void;
}

export interface ClientTransaction {
  readonly id: string;
  readonly request: SipRequest;
  /** INVITE only: sends CANCEL per §9.1 (after a provisional has arrived). */
  cancel(): void;
}

/** The transaction layer as the transaction users see it. */
export interface TransactionLayer {
  /** New requests that match no server transaction (except ACK for 2xx, below). */
  onRequest(handler: (transaction: ServerTransaction) => void): void;
  /** ACK to a 2xx has no transaction (§17.1.1.3, §13.3.1.4): it goes straight to the dialog. */
  onAck(handler: (ack: SipRequest, source: Endpoint) => void): void;
  sendRequest(request: SipRequest, destination: Endpoint, handlers: ClientTransactionHandlers): ClientTransaction;
  /** Stateless send: ACK for a 2xx, or a response outside any transaction. */
  sendStateless(message: SipRequest | SipResponse, destination: Endpoint): void;
}
