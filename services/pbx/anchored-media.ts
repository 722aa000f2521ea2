/**
 * The default call media policy: both legs of every relayed call are anchored on the media engine
 * (RFC 3264 offer/answer rewritten to our address and ports), so audio flows phone → appliance →
 * phone, NAT'd phones are reached by latching, and a feature can take a leg over at any moment.
 * DTMF is negotiated per leg; when only one leg has telephone-event the pair is bridged in JS with
 * DTMF interworking (dtmf-interworking.ts), otherwise by the native relay.
 */
import { silentLogger, type Logger } from '../log.js';
import type { MediaEngine, MediaLeg, MediaSession } from '../media/engine.js';
import type { CallMedia, CallMediaFactory, CallSide } from '../sip/b2bua/types.js';
import { DtmfInterworking, needsDtmfInterworking } from './dtmf-interworking.js';
import { createMediaClock, type MediaClock } from './features/media-clock.js';

/** A call's media as the features see it: the session and its two legs. */
export interface AnchoredCall {
  readonly session: MediaSession;
  readonly caller: MediaLeg;
  readonly callee: MediaLeg;
  /** the JS bridge when the legs disagree on telephone-event, else undefined (native relay) */
  readonly interworking: () => DtmfInterworking | undefined;
}

export interface AnchoredMediaFactory extends CallMediaFactory {
  /** The anchored media of a call in progress (by the caller's Call-ID), for features. */
  find(callId: string): AnchoredCall | undefined;
}

export interface AnchoredMediaOptions {
  /** the shared 20 ms media clock (tones played by DTMF interworking); one of its own otherwise */
  clock?: MediaClock;
  logger?: Logger;
}

export function anchoredMedia(engine: MediaEngine, options: AnchoredMediaOptions = {}): AnchoredMediaFactory {
  const calls = new Map<string, AnchoredCall>();
  const logger = options.logger ?? silentLogger();
  let clock = options.clock;
  return {
    find: (callId) => calls.get(callId),
    create(callId): CallMedia {
      const session = engine.createSession({ callId });
      const legs: Record<CallSide, MediaLeg> = { caller: session.createLeg('caller'), callee: session.createLeg('callee') };
      let interworking: DtmfInterworking | undefined;
      let bridged = false;
      const anchored: AnchoredCall = { session, caller: legs.caller, callee: legs.callee, interworking: () => interworking };
      calls.set(callId, anchored);
      const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');
      // Native relay when both legs agree on telephone-event (the fast path), a JS bridge otherwise.
      // Re-evaluated after each answer: a re-INVITE may change what a phone accepts.
      const bridge = (): void => {
        bridged = true;
        session.bridge(legs.caller, legs.callee);
        const needed = needsDtmfInterworking(legs.caller, legs.callee);
        if (needed && !interworking) {
          clock ??= createMediaClock({ logger });
          interworking = new DtmfInterworking(legs.caller, legs.callee, clock, logger.child({ callId }));
          interworking.start();
        } else if (!needed && interworking) {
          interworking.stop();
          interworking = undefined;
        }
      };
      // The SDP of one side, rewritten for the other side's phone.
      const offer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorOffer(sdp.toString('utf8'), legs[from]));
      const answer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorAnswer(sdp.toString('utf8'), legs[from]));
      return {
        offerToCallee: (sdp) => offer('caller', sdp),
        answerToCaller: (sdp) => {
          const rewritten = answer('callee', sdp);
          // Early media (183) and the answer both need the bridge running.
          bridge();
          return rewritten;
        },
        reoffer: offer,
        reanswer: (from, sdp) => {
          const rewritten = answer(from, sdp);
          if (bridged) bridge();
          return rewritten;
        },
        connected: bridge,
        close: () => {
          calls.delete(callId);
          interworking?.stop();
          interworking = undefined;
          session.close();
        },
      };
    },
  };
}
