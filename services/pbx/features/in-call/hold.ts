/**
 * Hold and resume, done by the PBX (as Asterisk does with anchored media): the phone that holds
 * re-offers (re-INVITE, or UPDATE where it offers one, RFC 3311 §5.2) with `sendonly` or `inactive`
 * (RFC 3264 §8.4; `c=0.0.0.0`, RFC 2543, counts too); we answer it ourselves and the far phone is
 * never asked: it keeps sending to us and hears the holder's music-on-hold class from our leg.
 * The re-offer that returns to `sendrecv` (or `recvonly`) is answered the same way and the native
 * bridge takes both legs back at once, so nothing of either voice is clipped.
 *
 * Per side the state is a two-state machine (RFC 3264 §8.4):
 *
 *   talking  --offer sendonly|inactive|c=0.0.0.0-->  holding
 *   holding  --offer sendrecv|recvonly------------>  talking
 *
 * A `recvonly` offer while talking is not hold (the phone only mutes its own sending; Asterisk's
 * chan_pjsip treats only sendonly, inactive and a null address as hold): it is relayed as before.
 * The party whose other side holds hears music; when both hold each other nobody hears anything.
 */
import { parseSdp } from '../../../media/sdp/parse.js';
import { describeAudio, effectiveDirection } from '../../../media/sdp/offer-answer.js';
import type { CallSide, InCallHandle } from '../../../sip/b2bua/types.js';
import type { MohRepository } from '../../../store/in-call-schema.js';
import { DEFAULT_MOH_CLASS } from '../../../store/in-call-schema.js';

export type HoldState = 'talking' | 'holding';

/** What an SDP offer means for the holder's state; null when the SDP cannot be read. */
export function offerHolds(offer: Buffer): boolean | null {
  try {
    const direction = effectiveDirection(describeAudio(parseSdp(offer.toString('utf8'))));
    return direction === 'sendonly' || direction === 'inactive';
  } catch {
    return null;
  }
}

/** The transition for one side on a re-offer; null: not ours (relay it end to end). */
export function holdTransition(state: HoldState, holds: boolean): HoldState | null {
  if (state === 'talking') return holds ? 'holding' : null;
  return holds ? 'holding' : 'talking';
}

export const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');

/**
 * The class a held party hears, most specific first: the number the call came in on, the ring
 * group that was dialled, the holder's own extension, then the box's chosen default, then the class
 * named `default` (FreePBX's order: inbound route, ring group, user).
 */
export function mohClassFor(call: InCallHandle, holder: CallSide, choices: Pick<MohRepository, 'choiceOf'>): string {
  const owners: string[] = [];
  const dialled = call.dialog('caller').localUri.uri;
  if (dialled.kind === 'sip' && dialled.user?.startsWith('+')) owners.push(`number:${dialled.user}`);
  const callee = call.party('callee');
  owners.push(`ring-group:${callee.displayName}`, `ring-group:${callee.extension}`);
  const party = call.party(holder);
  if (party.trunk === undefined) owners.push(`extension:${party.extension}`);
  owners.push('default');
  for (const owner of owners) {
    const chosen = choices.choiceOf(owner);
    if (chosen !== null) return chosen;
  }
  return DEFAULT_MOH_CLASS;
}
