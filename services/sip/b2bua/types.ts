/**
 * What the B2BUA needs from the rest of the appliance, as plain interfaces: who is calling
 * (authentication), where a dialled number goes (the dial plan), and what happens to the media.
 * The wiring in `services/pbx/` adapts the registrar, the authenticator and the media engine to these.
 */
import type { ClientCredentials } from '../auth/digest-client.js';
import type { Dialog } from '../dialog.js';
import type { NameAddr, RawHeader, SipRequest, Uri } from '../message.js';
import type { Logger } from '../../log.js';
import type { Endpoint, ServerTransaction, TransportKind } from '../types.js';

/** An authenticated caller: an extension, or (with `trunk`) the number a carrier trunk presented. */
export interface Caller {
  extension: string;
  displayName: string;
  /** The trunk the call came in on (accepted by source address, without digest); absent for extensions. */
  trunk?: string;
  /** Outside calls go out anonymous (RFC 3323 Privacy: id): `*67` dialled, or the user's default. */
  hideIdentity?: boolean;
}

/** One registered contact of the callee: where its INVITE is sent. */
export interface CalleeContact {
  uri: Uri;
  destination: Endpoint;
  /** A carrier that challenges our INVITE (401/407) gets these (RFC 3261 §22.2); absent: no retry. */
  credentials?: ClientCredentials;
}

/**
 * A call the PBX answers itself (conference, echo test, later voicemail and the virtual
 * receptionist): the application owns the caller's media leg for the whole call.
 */
export interface LocalApplication {
  /** The caller's SDP offer (INVITE or re-INVITE) → our answer. Throws when nothing is usable (488). */
  answer(offer: Buffer): Buffer;
  /**
   * The caller's ACK arrived: media flows. `hangUp` lets the application end the call (BYE);
   * `control` lets it hand the caller on to ringing phones (the virtual receptionist).
   */
  start(hangUp: (reason: string) => void, control?: ApplicationControl): void;
  /** DTMF sent as SIP INFO (application/dtmf-relay or application/dtmf): the body as received. */
  info?(contentType: string | null, body: Buffer): void;
  /** The call is over (BYE, CANCEL, failure): release every resource. Called exactly once. */
  stop(): void;
}

/** One round of ringing: these contacts in parallel for `ringMs` (a sequential ring group has one per member). */
export interface RingStage {
  contacts: CalleeContact[];
  ringMs: number;
  /**
   * Rung only when the final statuses of every contact tried before pass this test (landline
   * failover: only when the carrier failed, never after a busy or a no-answer); else skipped.
   */
  onlyIf?: (failures: number[]) => boolean;
}

export type RingDecision = {
  kind: 'ring';
  target: string;
  displayName: string;
  /** rung in parallel for the no-answer time, unless `stages` says otherwise */
  contacts: CalleeContact[];
  /** rounds rung one after the other; a round with no contact (member unregistered) is skipped at once */
  stages?: RingStage[];
  /**
   * Where a call nobody answered goes next (a ring group's no-answer destination), asked when
   * the last round is over, with the status the caller would get (486 busy, 480 unavailable...).
   * Not used for a transfer: the application keeps the caller instead.
   */
  fallback?: (outcome: RingOutcome) => RouteDecision;
  /** Outside calls: the trunk used, and the caller ID (From) the carrier gets instead of the extension. */
  trunk?: string;
  from?: { user: string; displayName: string; host: string };
  /** Extra headers on every INVITE of this decision (Diversion, Privacy, P-Asserted-Identity). */
  headers?: RawHeader[];
};

/** Why the last round of a ring decision ended without an answer: the status the caller would get (486 busy, 480 no answer...). */
export interface RingOutcome {
  status: number;
}

/** How a transfer asked by an application ended. */
export type TransferOutcome = { kind: 'answered' } | { kind: 'failed'; status: number };

/** What a running local application may ask of its call. */
export interface ApplicationControl {
  /**
   * Rings `decision` for the caller, who stays answered by the application meanwhile (it plays
   * what it likes). `media` is the callee side of the new call: it offers to the contacts and,
   * once one answers, bridges it with the caller's leg and owns the media from then on. When a
   * contact answers, the call becomes an ordinary bridged call and the application is stopped;
   * when none does, the application keeps the caller.
   */
  transfer(decision: RingDecision, media: CallMedia): Promise<TransferOutcome>;
  /**
   * A re-INVITE of ours to the caller with `offer` (RFC 3261 §14.1; the fax line's switch to T.38):
   * the final status and, on 2xx, the answer (already ACKed). A refusal (488, 415, 491) leaves the
   * session as it was (§14.1); 408/481 mean the dialog is gone.
   */
  reinvite?(offer: Buffer): Promise<ReinviteOutcome>;
}

export interface ReinviteOutcome {
  status: number;
  answer: Buffer | null;
}

/** The dial plan's answer for a dialled number (drachtio-style pipeline: auth → lookup → route). */
export type RouteDecision =
  | RingDecision
  | {
      kind: 'application';
      name: string;
      create(callId: string, caller: Caller): LocalApplication;
      /**
       * Play in early media (183 with SDP, RFC 3960) and end with this final status instead of
       * answering: a refused call is heard ("not permitted") and still fails with its status.
       */
      earlyMedia?: { status: number; reason: string };
    }
  | { kind: 'reject'; status: number; reason?: string };

export type CallSide = 'caller' | 'callee';

/**
 * The media of one call. The pass-through policy returns the SDP unchanged; the anchoring policy
 * rewrites it to the media engine's ports so features can take over a leg at any time.
 */
export interface CallMedia {
  /** The caller's offer (INVITE body) → the offer sent to every callee contact. */
  offerToCallee(offer: Buffer): Buffer;
  /** An answer (183 or 2xx body) from a callee contact → the answer sent to the caller. */
  answerToCaller(answer: Buffer): Buffer;
  /** A re-INVITE offer from one side → the offer sent to the other side. */
  reoffer(from: CallSide, offer: Buffer): Buffer;
  /** The answer to a relayed re-INVITE, from side `from` → the answer for the other side. */
  reanswer(from: CallSide, answer: Buffer): Buffer;
  /** The call is answered: media may flow end to end. */
  connected(): void;
  close(): void;
}

export interface CallMediaFactory {
  create(callId: string): CallMedia;
}

/** Our own addresses, per transport, for Via and Contact. */
export interface LocalAddressing {
  via(transport: TransportKind): { transport: string; host: string; port: number };
  contact(transport: TransportKind, user: string): NameAddr;
}

/**
 * In-call features (hold with music, transfer: services/pbx/features/in-call/) on an answered
 * relayed call. The B2BUA asks them first about every request inside the call; what they do not
 * take is relayed as before.
 */
export interface InCallFeatures {
  /** Methods the features answer (REFER), added to our Allow. */
  readonly methods: readonly string[];
  /** A request inside an answered call from `side`'s phone; true when a feature answered it. */
  request(call: InCallHandle, side: CallSide, transaction: ServerTransaction): boolean;
  /**
   * An out-of-dialog INVITE with a Replaces header (RFC 3891), from an authenticated phone; true
   * when taken (answered or refused). `find` looks up one of our dialogs by Call-ID and our tag.
   */
  replaces(transaction: ServerTransaction, caller: Caller, find: (callId: string, localTag: string) => { call: InCallHandle; side: CallSide } | null): boolean;
  /** The call is over: features release what they hold for it. */
  ended(call: InCallHandle): void;
}

/** What an in-call feature may do with one answered call (implemented by `B2buaCall`). */
export interface InCallHandle {
  /** the Call-ID of the caller's leg (the media session's key) */
  readonly callId: string;
  readonly answered: boolean;
  readonly ended: boolean;
  readonly log: Logger;
  /** who is on each side (the callee as an extension or the dialled target) */
  party(side: CallSide): Caller;
  dialog(side: CallSide): Dialog;
  /** Answers a request of this call; a 2xx to an INVITE is retransmitted until its ACK (§13.3.1.4). */
  respond(side: CallSide, transaction: ServerTransaction, status: number, options?: { body?: Buffer; headers?: RawHeader[]; reason?: string }): void;
  /** A request inside `dialog` (NOTIFY, BYE), sent with this call's addressing. */
  send(dialog: Dialog, method: string, options?: { body?: Buffer; contentType?: string; headers?: RawHeader[] }, onFinal?: (status: number) => void): void;
  /** The dial plan, as it would route `request` from `caller`. */
  route(request: SipRequest, caller: Caller): RouteDecision;
  /**
   * Rings `decision` for the party on `side` (RFC 3515 transfer): its dialog stays here while it
   * rings; once a contact answers, the new call owns that dialog (call `release(side)` then).
   */
  transfer(side: CallSide, caller: Caller, decision: RingDecision, media: CallMedia): { done: Promise<TransferOutcome>; cancel(): void };
  /** `side`'s dialog is no longer this call's (handed on, or its phone hung up): no BYE, no relay. */
  release(side: CallSide): void;
  /** Another answered call by one of our dialogs (Call-ID, our tag): an attended transfer's other call. */
  find(callId: string, localTag: string): { call: InCallHandle; side: CallSide } | null;
  /** Our dialog (as its UAS) with the phone that sent `invite`, with our Contact. */
  newDialog(invite: ServerTransaction): Dialog;
  /** `side`'s phone is replaced by the phone of `dialog` (RFC 3891): requests of `dialog` come here from now on. */
  adopt(side: CallSide, dialog: Dialog, party: Caller): void;
  /** Ends the call: BYE to every side not released. */
  hangUp(reason: string): void;
}

export interface B2buaOptions {
  realm: string;
  /** Caller authentication; null means it already answered (challenge or drop). */
  authenticate(transaction: ServerTransaction): Promise<Caller | null> | Caller | null;
  route(request: SipRequest, caller: Caller): RouteDecision;
  media: CallMediaFactory;
  addressing: LocalAddressing;
  /** How long the callee's phones ring before the caller gets 480. */
  noAnswerMs: number;
  /** RFC 3261 timer T1 and T2, for our own 2xx retransmissions (§13.3.1.4). */
  t1Ms: number;
  t2Ms: number;
  /** Who hears about answered and ended calls (call records, crash recovery); none in unit tests. */
  events?: CallEvents;
  /** In-call features (three-way calling) that see the key presses (INFO) of answered calls. */
  infoHooks?: InCallHooks;
  /** Hold and transfer on answered calls; without them re-INVITEs are relayed end to end. */
  inCall?: InCallFeatures;
}

/** An answered relayed call as an in-call feature sees it. */
export interface AnsweredCall {
  readonly callId: string;
  summary(): CallSummary;
  /** Our own re-INVITE toward `side` with `offer` (RFC 3261 §14.1); resolves with the answer SDP, null when refused. */
  reinvite(side: CallSide, offer: Buffer): Promise<Buffer | null>;
}

export interface InCallHooks {
  /** A SIP INFO from `side` of an answered call (it is relayed to the other side as well). */
  info(call: AnsweredCall, side: CallSide, contentType: string | null, body: Buffer): void;
}

/** A call as its record sees it. */
export interface CallFacts {
  callId: string;
  caller: string;
  callee: string;
  startedAt: number;
  answeredAt: number | null;
}

/** What the route decision knows about a call, for its record (CDR): the number as dialled (E.164), the trunk. */
export interface CallRecordTags {
  number?: string;
  trunk?: string;
}

/**
 * The life of a call as the B2BUA tells it: answered (with the dialogs a BYE would need after a
 * crash), a dialog changed (CSeq, target refresh), ended (with the final status the caller got).
 */
export interface CallEvents {
  answered(call: CallFacts, dialogs: Array<{ side: CallSide; dialog: Dialog }>): void;
  dialogChanged(callId: string, side: CallSide, dialog: Dialog): void;
  ended(call: CallFacts, end: { answered: boolean; status: number | null; reason: string }): void;
  /** Routing attaches the dialled number and the trunk to the call (by the caller's Call-ID). */
  tag(callId: string, tags: CallRecordTags): void;
}

export type CallPhase = 'ringing' | 'answered' | 'ended';

export interface CallSummary {
  callId: string;
  caller: string;
  callee: string;
  phase: CallPhase;
  /** The carrier trunk the call came in on or goes out through; null for internal calls. */
  trunk: string | null;
  startedAt: number;
  answeredAt: number | null;
  contacts: number;
}
