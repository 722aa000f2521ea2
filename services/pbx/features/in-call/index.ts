/**
 * The in-call features of an answered, anchored call (issue 17 item 1–2): hold with music on hold,
 * blind and attended transfer by REFER, and INVITE with Replaces. The B2BUA hands every request
 * inside an answered call to `request()` first (InCallFeatures); what is not a feature's is
 * relayed end to end as before. See docs/features.md and docs/b2bua.md.
 */
import type { Logger } from '../../../log.js';
import type { Country } from '../../../media/tones/table.js';
import type { CallSide, Caller, InCallFeatures, InCallHandle } from '../../../sip/b2bua/types.js';
import { getHeader } from '../../../sip/message.js';
import type { ServerTransaction } from '../../../sip/types.js';
import type { MohRepository } from '../../../store/in-call-schema.js';
import type { AnchoredMediaFactory } from '../../anchored-media.js';
import type { MediaClock } from '../media-clock.js';
import { HoldMusic } from './hold-music.js';
import { holdTransition, offerHolds } from './hold.js';
import { parseReplaces } from './replaces.js';
import { applyMedia, newCallState, stopPlaying, type CallState, type InCallContext } from './state.js';
import { cancelTransfer, handleRefer, transferorHungUp } from './transfer.js';

export interface InCallDeps {
  anchored: Pick<AnchoredMediaFactory, 'find'>;
  clock: MediaClock;
  repository: MohRepository;
  dataDir: string;
  country: Country;
  logger: Logger;
  /** how long a transferor who does not hang up after a transfer is given before our BYE (default 2 s) */
  transferorByeMs?: number;
}

export interface InCallService extends InCallFeatures {
  readonly music: HoldMusic;
  /** Calls with hold or transfer state (for status and tests). */
  snapshot(): { callId: string; hold: Record<CallSide, string>; transfer: string | null }[];
  close(): void;
}

export function createInCallFeatures(deps: InCallDeps): InCallService {
  const logger = deps.logger.child({ layer: 'in-call' });
  const music = new HoldMusic({ clock: deps.clock, logger, repository: deps.repository, dataDir: deps.dataDir, country: deps.country });
  void music.refresh();
  const states = new Map<InCallHandle, CallState>();
  const stateOf = (call: InCallHandle): CallState => {
    let state = states.get(call);
    if (state === undefined) {
      state = newCallState(call);
      states.set(call, state);
    }
    return state;
  };
  const ctx: InCallContext = {
    music,
    repository: deps.repository,
    anchoredOf: (callId) => deps.anchored.find(callId),
    stateOf,
    logger,
    transferorByeMs: deps.transferorByeMs ?? 2000,
  };

  /** A re-offer (re-INVITE or UPDATE with SDP) that holds or resumes: answered here (hold.ts). */
  function reoffer(call: InCallHandle, side: CallSide, transaction: ServerTransaction): boolean {
    const request = transaction.request;
    if (request.body.length === 0 || (request.contentType !== null && !request.contentType.toLowerCase().startsWith('application/sdp'))) return false;
    const holds = offerHolds(request.body);
    if (holds === null) return false;
    const state = stateOf(call);
    const next = holdTransition(state.hold[side], holds);
    if (next === null) return false;
    const anchored = ctx.anchoredOf(call.callId);
    if (anchored === undefined) return false;
    let answer: Buffer;
    try {
      answer = Buffer.from(anchored.leg(side).answerReoffer(request.body.toString('utf8')));
    } catch (error) {
      // The re-offer drops the codec in use: the far phone has to be asked (relayed as before).
      call.log.info({ err: String(error), side }, 'hold re-offer relayed');
      return false;
    }
    if (request.method === 'INVITE') call.dialog(side).refreshTarget(request);
    call.respond(side, transaction, 200, { body: answer });
    const changed = state.hold[side] !== next;
    state.hold[side] = next;
    if (changed) call.log.info({ side, method: request.method, state: next }, next === 'holding' ? 'call put on hold' : 'call resumed');
    if (next === 'holding') {
      // New classes (pbxctl moh add) are loaded before the music starts; resume needs no wait.
      void music.refresh().then(() => applyMedia(ctx, state));
    } else {
      applyMedia(ctx, state);
    }
    return true;
  }

  /**
   * RFC 3891 §3: an INVITE that replaces one of our confirmed dialogs. The new phone takes the
   * replaced phone's place in its call (a new leg in the call's media session, bridged with the
   * far party), the replaced phone gets BYE. Any authenticated phone of ours may (Asterisk's
   * behaviour: the dialog identifiers are the secret); a carrier may not.
   */
  function replaces(transaction: ServerTransaction, caller: Caller, find: (callId: string, localTag: string) => { call: InCallHandle; side: CallSide } | null): boolean {
    const request = transaction.request;
    const target = parseReplaces(getHeader(request, 'replaces') ?? '');
    if (target === null) {
      transaction.respond(400, { reason: 'Bad Replaces Header' });
      return true;
    }
    if (caller.trunk !== undefined) {
      transaction.respond(403, { reason: 'Replaces Not Allowed From Trunk' });
      return true;
    }
    const found = find(target.callId, target.toTag) ?? find(target.callId, target.fromTag);
    if (found === null || !found.call.answered || found.call.ended) {
      transaction.respond(481);
      return true;
    }
    if (target.earlyOnly) {
      // §3: early-only and the dialog is confirmed.
      transaction.respond(486);
      return true;
    }
    const { call, side } = found;
    const anchored = ctx.anchoredOf(call.callId);
    if (anchored === undefined || request.body.length === 0) {
      transaction.respond(488);
      return true;
    }
    let leg;
    let answer: Buffer;
    try {
      leg = anchored.session.createLeg('replacing');
      answer = Buffer.from(leg.answerOffer(request.body.toString('utf8')));
    } catch (error) {
      leg?.close();
      call.log.warn({ err: String(error) }, 'INVITE with Replaces: offer not usable');
      transaction.respond(488);
      return true;
    }
    const state = stateOf(call);
    cancelTransfer(state);
    state.transfer = null;
    stopPlaying(state, 'caller');
    stopPlaying(state, 'callee');
    const replaced = call.dialog(side);
    const dialog = call.newDialog(transaction);
    call.adopt(side, dialog, caller);
    call.respond(side, transaction, 200, { body: answer });
    anchored.replaceLeg(side, leg);
    state.hold[side] = 'talking';
    applyMedia(ctx, state);
    call.send(replaced, 'BYE');
    call.log.info({ side, by: caller.extension }, 'dialog replaced (INVITE with Replaces)');
    return true;
  }

  return {
    music,
    methods: ['REFER'],
    request(call, side, transaction) {
      const method = transaction.request.method;
      try {
        switch (method) {
          case 'INVITE':
          case 'UPDATE':
            return reoffer(call, side, transaction);
          case 'REFER':
            handleRefer(ctx, stateOf(call), side, transaction);
            return true;
          case 'BYE': {
            const state = states.get(call);
            return state !== undefined && transferorHungUp(state, side, transaction);
          }
          default:
            return false;
        }
      } catch (error) {
        // A feature's bug must not take the call (or the process) down: the B2BUA relays instead.
        call.log.error({ err: error instanceof Error ? error.stack : String(error), method, side }, 'in-call feature failed');
        return false;
      }
    },
    replaces(transaction, caller, find) {
      try {
        return replaces(transaction, caller, find);
      } catch (error) {
        logger.error({ err: error instanceof Error ? error.stack : String(error), callId: transaction.request.callId }, 'INVITE with Replaces failed');
        transaction.respond(500);
        return true;
      }
    },
    ended(call) {
      const state = states.get(call);
      if (state === undefined) return;
      states.delete(call);
      cancelTransfer(state);
      for (const side of ['caller', 'callee'] as const) {
        // A transferee whose transfer was answered is the new call's now: leave its leg alone.
        if (state.playing[side] !== undefined) stopPlaying(state, side);
      }
    },
    snapshot: () =>
      [...states.values()].map((s) => ({ callId: s.call.callId, hold: { ...s.hold }, transfer: s.transfer === null ? null : s.transfer.phase.kind })),
    close() {
      music.close();
    },
  };
}
