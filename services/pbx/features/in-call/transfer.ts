/**
 * Call transfer on an anchored call, the PBX terminating the REFER (RFC 3515) as Asterisk does: the
 * transferor's phone asks, the PBX does the work, the transferee's phone never sees a REFER.
 *
 * Blind transfer (Refer-To without Replaces): 202, NOTIFY `100 Trying`, then the target is rung
 * with the transferee as the caller (its dialog stays in this call while it rings; it hears
 * ringback, or its music-on-hold class when the admin turned transfer music on). The target rings
 * at most the recall time (`pbxctl transfer set --recall-seconds`).
 *
 *   ringing --target answers------------------------> done (NOTIFY 200; the transferee's dialog
 *      |                                                  belongs to the new call; BYE to the
 *      |                                                  transferor unless he hung up first)
 *      +--busy / no answer / refused, transferor on--> back to the transferor (NOTIFY 4xx; the
 *      |                                                  transferee hears the hold music again
 *      |                                                  until the transferor resumes)
 *      +--busy / no answer / refused, transferor gone-> recalling: the transferor's own phones
 *                                                         ring for the transferee; nobody answers:
 *                                                         the transferee is hung up
 *
 * Attended transfer (Refer-To with Replaces, RFC 3891 §3 / RFC 5589 §7): the Replaces names the
 * transferor's other call; its far party takes the transferor's place in this call, both of the
 * transferor's dialogs get NOTIFY 200 / BYE, and no phone is re-INVITEd: the far party's leg moves
 * into this call's media session and is bridged with the transferee's.
 *
 * Who may transfer: a phone of ours (a carrier's REFER gets 403: it would make us place calls),
 * and the target is routed as if the transferor dialled it (his permissions: no international
 * transfer without the international permission).
 */
import { newRequest } from '../../../sip/build.js';
import type { CallSide, Caller, InCallHandle, RingDecision, RouteDecision } from '../../../sip/b2bua/types.js';
import { getHeader, type SipRequest, type Uri } from '../../../sip/message.js';
import type { ServerTransaction } from '../../../sip/types.js';
import { parseNameAddr } from '../../../sip/uri.js';
import { mohClassFor, other } from './hold.js';
import { ReferNotifier } from './refer-notify.js';
import { replacesInUriHeaders } from './replaces.js';
import { applyMedia, stopPlaying, type CallState, type InCallContext } from './state.js';

type TransferPhase = { kind: 'ringing'; cancel: () => void } | { kind: 'recalling'; cancel: () => void } | { kind: 'done' };

export interface TransferState {
  transferor: CallSide;
  transferee: CallSide;
  /** the transferor hung up while the target rang (phones often do right after the 202) */
  transferorGone: boolean;
  notify: ReferNotifier;
  phase: TransferPhase;
  /** the transferor's own extension, rung back on recall */
  transferorParty: Caller;
}

/** A REFER inside an answered call, from `side`'s phone. */
export function handleRefer(ctx: InCallContext, state: CallState, side: CallSide, transaction: ServerTransaction): void {
  const call = state.call;
  const request = transaction.request;
  const transferor = call.party(side);
  if (transferor.trunk !== undefined) {
    call.log.warn({ side }, 'REFER from a carrier refused');
    call.respond(side, transaction, 403, { reason: 'Transfer Not Allowed From Trunk' });
    return;
  }
  if (ctx.anchoredOf(call.callId) === undefined) {
    // A call whose media is not an anchored pair (handed on by the receptionist): not transferable yet.
    call.respond(side, transaction, 501, { reason: 'Transfer Not Available On This Call' });
    return;
  }
  if (state.transfer !== null && state.transfer.phase.kind !== 'done') {
    call.respond(side, transaction, 491, { reason: 'Transfer Already In Progress' });
    return;
  }
  const referTo = readReferTo(request);
  if (referTo === null) {
    call.respond(side, transaction, 400, { reason: 'Bad Refer-To' });
    return;
  }
  const replaces = referTo.kind === 'sip' ? replacesInUriHeaders(referTo.headers) : null;
  if (referTo.kind !== 'sip' || replaces === 'malformed') {
    call.respond(side, transaction, 400, { reason: referTo.kind !== 'sip' ? 'Refer-To Must Be A SIP URI' : 'Bad Replaces' });
    return;
  }
  // RFC 4488: the transferor may decline the subscription.
  const subscribe = (getHeader(request, 'refer-sub') ?? 'true').trim().toLowerCase() !== 'false';
  call.respond(side, transaction, 202, { headers: subscribe ? [] : [{ name: 'Refer-Sub', value: 'false' }] });
  const notify = new ReferNotifier(call, call.dialog(side), request.cseq.seq, subscribe);
  notify.progress(100);
  if (replaces !== null) {
    attended(ctx, state, side, notify, replaces);
    return;
  }
  const target: Uri = { ...referTo, headers: new Map(), params: new Map([...referTo.params].filter(([k]) => k !== 'method')) };
  const decision = call.route(asInvite(request, target), transferor);
  call.log.info({ transferor: transferor.extension, target: target.user, decision: decision.kind }, 'blind transfer');
  state.transfer = { transferor: side, transferee: other(side), transferorGone: false, notify, phase: { kind: 'done' }, transferorParty: transferor };
  ring(ctx, state, decision, false);
}

/** A BYE from the transferor while the target rings: his part ends, the transferee stays. */
export function transferorHungUp(state: CallState, side: CallSide, transaction: ServerTransaction): boolean {
  const transfer = state.transfer;
  if (transfer === null || transfer.transferor !== side || transfer.phase.kind === 'done') return false;
  state.call.respond(side, transaction, 200);
  state.call.release(side);
  transfer.transferorGone = true;
  state.call.log.info('transferor hung up while the transfer rings');
  return true;
}

/** The call ended (the transferee hung up): stop ringing the target. */
export function cancelTransfer(state: CallState): void {
  const phase = state.transfer?.phase;
  if (phase !== undefined && phase.kind !== 'done') phase.cancel();
  if (state.transfer !== null) state.transfer.phase = { kind: 'done' };
}

function ring(ctx: InCallContext, state: CallState, decision: RouteDecision, recall: boolean): void {
  const call = state.call;
  const transfer = state.transfer as TransferState;
  if (decision.kind !== 'ring') {
    // A refused target (unknown number, no permission) or an application (voicemail, rooms), which
    // a transfer does not reach yet: the same as a target that did not answer.
    const status = decision.kind === 'reject' ? decision.status : 488;
    failed(ctx, state, status, recall);
    return;
  }
  const anchored = ctx.anchoredOf(call.callId);
  if (anchored === undefined) {
    failed(ctx, state, 500, recall);
    return;
  }
  const transferee = transfer.transferee;
  const recallMs = ctx.repository.transfer().recallSeconds * 1000;
  const timed: RingDecision = decision.stages === undefined ? { ...decision, stages: [{ contacts: decision.contacts, ringMs: recallMs }] } : decision;
  stopPlaying(state, transferee);
  const leg = anchored.leg(transferee);
  if (ctx.repository.transfer().music) {
    // Transfer music: the transferor's class, loaded first if it was uploaded since the last look.
    let stopMusic: (() => void) | null = null;
    let stopped = false;
    state.playing[transferee] = {
      what: 'transfer',
      stop: () => {
        stopped = true;
        stopMusic?.();
      },
    };
    void ctx.music.refresh().then(() => {
      if (stopped || call.ended) return;
      try {
        stopMusic = ctx.music.playMusic(leg, mohClassFor(call, transfer.transferor, ctx.repository));
      } catch (error) {
        call.log.warn({ err: String(error) }, 'no transfer music for the transferee');
      }
    });
  } else {
    try {
      state.playing[transferee] = { what: 'transfer', stop: ctx.music.playRingback(leg) };
    } catch (error) {
      call.log.warn({ err: String(error) }, 'no ringback for the transferee');
    }
  }
  let media;
  try {
    media = anchored.transferMedia(transferee, call.dialog(transferee).callId);
  } catch (error) {
    call.log.warn({ err: String(error) }, 'no media for the transfer');
    failed(ctx, state, 503, recall);
    return;
  }
  const ringing = call.transfer(transferee, call.party(transferee), timed, media);
  transfer.phase = { kind: recall ? 'recalling' : 'ringing', cancel: ringing.cancel };
  void ringing.done.then((outcome) => {
    if (call.ended || transfer.phase.kind === 'done') return;
    if (outcome.kind === 'failed') {
      failed(ctx, state, outcome.status, recall);
      return;
    }
    // RFC 3515 §2.4.5: the final NOTIFY carries the target's 200.
    transfer.phase = { kind: 'done' };
    delete state.playing[transferee];
    transfer.notify.final(200);
    call.release(transferee);
    call.log.info({ target: decision.target, recall }, recall ? 'recall answered' : 'transfer answered');
    if (transfer.transferorGone) {
      call.hangUp('transferred');
      return;
    }
    // Phones hang up themselves on the NOTIFY 200; the ones that do not get our BYE.
    setTimeout(() => {
      if (!call.ended) call.hangUp('transferred');
    }, ctx.transferorByeMs).unref();
  });
}

function failed(ctx: InCallContext, state: CallState, status: number, recall: boolean): void {
  const call = state.call;
  const transfer = state.transfer as TransferState;
  transfer.phase = { kind: 'done' };
  stopPlaying(state, transfer.transferee);
  if (!recall) transfer.notify.final(status);
  call.log.info({ status, recall, transferorGone: transfer.transferorGone }, 'transfer target did not answer');
  if (!transfer.transferorGone) {
    // Back to the transferor, who still has the call (on hold, most often): the transferee hears
    // the hold music again until he resumes.
    state.transfer = null;
    applyMedia(ctx, state);
    return;
  }
  if (recall || transfer.transferorParty.trunk !== undefined) {
    call.hangUp(recall ? 'recall not answered' : 'transfer failed');
    return;
  }
  // The transferor hung up after asking: his own phones ring back for the transferee (recall).
  const uri: Uri = { kind: 'sip', secure: false, user: transfer.transferorParty.extension, password: null, host: 'recall.invalid', port: null, params: new Map(), headers: new Map() };
  const decision = call.route(recallRequest(call, uri), transfer.transferorParty);
  call.log.info({ transferor: transfer.transferorParty.extension }, 'transfer failed: recalling the transferor');
  ring(ctx, state, decision, true);
}

/**
 * Refer-To with Replaces: the call the Replaces names (the transferor's other dialog) gives its far
 * party to this call, in the transferor's place.
 */
function attended(ctx: InCallContext, state: CallState, side: CallSide, notify: ReferNotifier, replaces: { callId: string; toTag: string; fromTag: string }): void {
  const call = state.call;
  const found = call.find(replaces.callId, replaces.toTag) ?? call.find(replaces.callId, replaces.fromTag);
  const transferor = call.party(side);
  if (found === null || found.call === call || !found.call.answered || found.call.ended) {
    call.log.info({ replaces: replaces.callId }, 'attended transfer: no such call');
    notify.final(481);
    return;
  }
  const consult = found.call;
  const consultParty = consult.party(found.side);
  if (consultParty.extension !== transferor.extension || consultParty.trunk !== undefined) {
    // One may only hand over one's own calls.
    call.log.warn({ replaces: replaces.callId, owner: consultParty.extension }, 'attended transfer of another user\'s call refused');
    notify.final(403);
    return;
  }
  const farSide = other(found.side);
  const ours = ctx.anchoredOf(call.callId);
  const theirs = ctx.anchoredOf(consult.callId);
  if (ours === undefined || theirs === undefined) {
    notify.final(500);
    return;
  }
  const consultState = ctx.stateOf(consult);
  for (const s of [state, consultState]) {
    cancelTransfer(s);
    s.transfer = null;
    stopPlaying(s, 'caller');
    stopPlaying(s, 'callee');
  }
  const transferorDialog = call.dialog(side);
  const far = consult.dialog(farSide);
  const farParty = consult.party(farSide);
  const farLeg = theirs.leg(farSide);
  consult.release(farSide);
  call.adopt(side, far, farParty);
  ours.replaceLeg(side, farLeg);
  // The far party was held by the transferor in the consultation (or not): in this call it talks.
  state.hold[side] = consultState.hold[farSide];
  state.hold[other(side)] = 'talking';
  applyMedia(ctx, state);
  notify.final(200);
  call.send(transferorDialog, 'BYE');
  consult.hangUp('attended transfer completed');
  call.log.info({ transferor: transferor.extension, target: farParty.extension }, 'attended transfer completed');
}

/** The single Refer-To of a REFER (long or compact form, RFC 3515 §2.1), or null. */
function readReferTo(request: SipRequest): Uri | null {
  const value = getHeader(request, 'refer-to') ?? getHeader(request, 'r');
  if (value === undefined) return null;
  const nameAddr = parseNameAddr(value.trim());
  return nameAddr?.uri ?? null;
}

/** The REFER as the INVITE the transferor would have sent to the target (what the dial plan reads). */
function asInvite(refer: SipRequest, target: Uri): SipRequest {
  return { ...refer, method: 'INVITE', uri: target, cseq: { seq: 1, method: 'INVITE' }, headers: [], body: Buffer.alloc(0), contentType: null };
}

function recallRequest(call: InCallHandle, target: Uri): SipRequest {
  const dialog = call.dialog('caller');
  return newRequest({
    method: 'INVITE',
    uri: target,
    via: [],
    from: dialog.remoteUri,
    to: { displayName: null, uri: target, params: new Map() },
    callId: dialog.callId,
    cseq: { seq: 1, method: 'INVITE' },
  });
}
