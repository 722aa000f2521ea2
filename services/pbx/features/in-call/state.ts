/**
 * What the in-call features keep per answered call, and the one rule that decides what each leg
 * hears: a pending transfer owns the transferee's leg (ringback or transfer music); otherwise a
 * party hears music exactly while the other side holds; otherwise the legs are bridged.
 */
import type { Logger } from '../../../log.js';
import type { CallSide, InCallHandle } from '../../../sip/b2bua/types.js';
import type { MohRepository } from '../../../store/in-call-schema.js';
import type { AnchoredCall } from '../../anchored-media.js';
import type { HoldMusic, StopPlaying } from './hold-music.js';
import { mohClassFor, other, type HoldState } from './hold.js';
import type { TransferState } from './transfer.js';

export interface InCallContext {
  music: HoldMusic;
  repository: Pick<MohRepository, 'choiceOf' | 'transfer'>;
  anchoredOf(callId: string): AnchoredCall | undefined;
  stateOf(call: InCallHandle): CallState;
  logger: Logger;
  /** ms between a transfer's answer and our BYE to a transferor who did not hang up himself */
  transferorByeMs: number;
}

export interface CallState {
  readonly call: InCallHandle;
  hold: Record<CallSide, HoldState>;
  playing: Partial<Record<CallSide, { what: 'music' | 'transfer'; stop: StopPlaying }>>;
  transfer: TransferState | null;
}

export function newCallState(call: InCallHandle): CallState {
  return { call, hold: { caller: 'talking', callee: 'talking' }, playing: {}, transfer: null };
}

export function stopPlaying(state: CallState, side: CallSide): void {
  const playing = state.playing[side];
  if (playing === undefined) return;
  delete state.playing[side];
  try {
    playing.stop();
  } catch (error) {
    state.call.log.warn({ err: String(error), side }, 'could not stop what a leg was hearing');
  }
}

/** Applies the rule above to both legs. */
export function applyMedia(ctx: InCallContext, state: CallState): void {
  const call = state.call;
  if (call.ended) return;
  const anchored = ctx.anchoredOf(call.callId);
  if (anchored === undefined) return;
  let changed = false;
  for (const side of ['caller', 'callee'] as const) {
    if (state.playing[side]?.what === 'transfer') continue;
    const held = state.hold[other(side)] === 'holding';
    if (held && state.playing[side] === undefined) {
      const leg = anchored.leg(side);
      try {
        state.playing[side] = { what: 'music', stop: ctx.music.playMusic(leg, mohClassFor(call, other(side), ctx.repository)) };
      } catch (error) {
        // A G.722 leg cannot be taken over: the held party hears silence, the call goes on.
        call.log.warn({ err: String(error), side }, 'no music on hold for this leg');
      }
    } else if (!held && state.playing[side] !== undefined) {
      stopPlaying(state, side);
      changed = true;
    }
  }
  if (changed && state.playing.caller === undefined && state.playing.callee === undefined) anchored.rebridge();
}
