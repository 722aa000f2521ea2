/**
 * What the B2BUA needs from the rest of the appliance, as plain interfaces: who is calling
 * (authentication), where a dialled number goes (the dial plan), and what happens to the media.
 * The wiring in `services/pbx/` adapts the registrar, the authenticator and the media engine to these.
 */
import type { ClientCredentials } from '../auth/digest-client.js';
import type { Dialog } from '../dialog.js';
import type { NameAddr, SipRequest, Uri } from '../message.js';
import type { Endpoint, ServerTransaction, TransportKind } from '../types.js';

/** An authenticated caller: an extension, or (with `trunk`) the number a carrier trunk presented. */
export interface Caller {
  extension: string;
  displayName: string;
  /** The trunk the call came in on (accepted by source address, without digest); absent for extensions. */
  trunk?: string;
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
   * the last round is over. Not used for a transfer: the application keeps the caller instead.
   */
  fallback?: () => RouteDecision;
  /** Outside calls: the trunk used, and the caller ID (From) the carrier gets instead of the extension. */
  trunk?: string;
  from?: { user: string; displayName: string; host: string };
};

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
