/**
 * The default call media policy: both legs of every relayed call are anchored on the media engine
 * (RFC 3264 offer/answer rewritten to our address and ports), so audio flows phone → appliance →
 * phone, NAT'd phones are reached by latching, and a feature can take a leg over at any moment.
 */
import type { MediaEngine, MediaLeg, MediaSession } from '../media/engine.js';
import type { CallMedia, CallMediaFactory, CallSide } from '../sip/b2bua/types.js';

/** A call's media as the features see it: the session and its two legs. */
export interface AnchoredCall {
  readonly session: MediaSession;
  readonly caller: MediaLeg;
  readonly callee: MediaLeg;
}

export interface AnchoredMediaFactory extends CallMediaFactory {
  /** The anchored media of a call in progress (by the caller's Call-ID), for features. */
  find(callId: string): AnchoredCall | undefined;
}

export function anchoredMedia(engine: MediaEngine): AnchoredMediaFactory {
  const calls = new Map<string, AnchoredCall>();
  return {
    find: (callId) => calls.get(callId),
    create(callId): CallMedia {
      const session = engine.createSession({ callId });
      const legs: Record<CallSide, MediaLeg> = { caller: session.createLeg('caller'), callee: session.createLeg('callee') };
      const anchored: AnchoredCall = { session, caller: legs.caller, callee: legs.callee };
      calls.set(callId, anchored);
      const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');
      // The SDP of one side, rewritten for the other side's phone.
      const offer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorOffer(sdp.toString('utf8'), legs[from]));
      const answer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorAnswer(sdp.toString('utf8'), legs[from]));
      return {
        offerToCallee: (sdp) => offer('caller', sdp),
        answerToCaller: (sdp) => {
          const rewritten = answer('callee', sdp);
          // Early media (183) and the answer both need the relay running.
          session.bridge(legs.caller, legs.callee);
          return rewritten;
        },
        reoffer: offer,
        reanswer: answer,
        connected: () => session.bridge(legs.caller, legs.callee),
        close: () => {
          calls.delete(callId);
          session.close();
        },
      };
    },
  };
}
