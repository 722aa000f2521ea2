/**
 * The default call media policy: both legs of every relayed call are anchored on the media engine
 * (RFC 3264 offer/answer rewritten to our address and ports), so audio flows phone → appliance →
 * phone, NAT'd phones are reached by latching, and a feature can take a leg over at any moment.
 * DTMF is negotiated per leg; when only one leg has telephone-event (or, after a transfer joined
 * two calls, the legs speak different G.711 laws) the pair is bridged in JS
 * (dtmf-interworking.ts), otherwise by the native relay.
 *
 * Transfers (services/pbx/features/in-call/) re-pair legs: `transferMedia` rings a target from
 * the transferee's leg in the same session, `replaceLeg` puts another call's leg (attended
 * transfer) or a new phone's leg (INVITE with Replaces) in place of one side.
 */
import { silentLogger, type Logger } from '../log.js';
import type { KeyPress, MediaEngine, MediaLeg, MediaSession } from '../media/engine.js';
import { onlyCodec } from '../media/sdp/only-codec.js';
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
  leg(side: CallSide): MediaLeg;
  /** Bridges the two legs again (after a feature let go of one, or a leg was replaced). */
  rebridge(): void;
  /**
   * The media of a call ringing a transfer target for the party on `side` (RFC 3515): a new leg
   * in this session, offered only that party's codec; at answer the pair becomes the new call's,
   * registered under `newCallId`, and this call's other leg is closed.
   */
  transferMedia(side: CallSide, newCallId: string): CallMedia;
  /**
   * `leg` (another call's, or a new phone's) takes `side`'s place: moved into this session, the
   * old leg closed, the pair bridged again.
   */
  replaceLeg(side: CallSide, leg: MediaLeg): void;
}

export interface AnchoredMediaFactory extends CallMediaFactory {
  /** The anchored media of a call in progress (by the caller's Call-ID), for features. */
  find(callId: string): AnchoredCall | undefined;
  /**
   * RFC 4733 key presses of every bridged call's phones (in-call codes such as three-way's `*3`),
   * named by the call and side they come from now (a transfer re-pairs legs: the new call's).
   * The relay still forwards them to the other phone.
   */
  onKeyPress(listener: (callId: string, side: CallSide, key: KeyPress) => void): void;
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
  const clockOf = (): MediaClock => (clock ??= createMediaClock({ logger }));
  const keyListeners: Array<(callId: string, side: CallSide, key: KeyPress) => void> = [];
  const keyPress = (callId: string, side: CallSide, key: KeyPress): void => {
    for (const l of keyListeners) {
      try {
        l(callId, side, key);
      } catch (e) {
        logger.error({ err: e, callId }, 'key press listener threw');
      }
    }
  };

  /** One anchored pair of legs in `session`; registered under `callId` by whoever makes it the call's. */
  function pair(callId: string, session: MediaSession, legs: Record<CallSide, MediaLeg>): { anchored: AnchoredCall; media: CallMedia } {
    let interworking: DtmfInterworking | undefined;
    let bridged = false;
    /** the session went on to another call (blind transfer answered): close() leaves it */
    let handedOver = false;
    const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');
    // Native relay when both legs agree on telephone-event and law (the fast path), a JS bridge
    // otherwise. Re-evaluated after each answer: a re-INVITE may change what a phone accepts.
    const bridge = (): void => {
      bridged = true;
      session.bridge(legs.caller, legs.callee);
      if (keyListeners.length > 0) {
        // (re)named after this pair: a transfer or a replaced leg makes them this call's
        legs.caller.watchDtmf((key) => keyPress(callId, 'caller', key));
        legs.callee.watchDtmf((key) => keyPress(callId, 'callee', key));
      }
      const needed = needsJsBridge(legs.caller, legs.callee);
      if (needed && !interworking) {
        interworking = new DtmfInterworking(legs.caller, legs.callee, clockOf(), logger.child({ callId }));
        interworking.start();
      } else if (!needed && interworking) {
        interworking.stop();
        interworking = undefined;
      }
    };
    const stopInterworking = (): void => {
      interworking?.stop();
      interworking = undefined;
    };
    // The SDP of one side, rewritten for the other side's phone.
    const offer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorOffer(sdp.toString('utf8'), legs[from]));
    const answer = (from: CallSide, sdp: Buffer): Buffer => Buffer.from(legs[other(from)].anchorAnswer(sdp.toString('utf8'), legs[from]));
    const anchored: AnchoredCall = {
      session,
      get caller() {
        return legs.caller;
      },
      get callee() {
        return legs.callee;
      },
      interworking: () => interworking,
      leg: (side) => legs[side],
      rebridge: bridge,
      transferMedia(side, newCallId) {
        const transferee = legs[side];
        const target = session.createLeg('transfer-target');
        const next = pair(newCallId, session, { caller: transferee, callee: target });
        let connected = false;
        return {
          offerToCallee: () => Buffer.from(onlyCodec(target.createOffer(), transferee.negotiatedCodec?.audio.name)),
          answerToCaller: (sdp) => {
            target.acceptAnswer(sdp.toString('utf8'));
            return Buffer.alloc(0);
          },
          reoffer: (from, sdp) => next.media.reoffer(from, sdp),
          reanswer: (from, sdp) => next.media.reanswer(from, sdp),
          connected: () => {
            connected = true;
            // This call's pair ends here: the transferor's leg goes, the session stays for the new call.
            handedOver = true;
            stopInterworking();
            if (calls.get(callId) === anchored) calls.delete(callId);
            const transferor = legs[other(side)];
            if (transferor !== transferee) transferor.close();
            transferee.detach();
            calls.set(newCallId, next.anchored);
            next.media.connected();
          },
          close: () => {
            if (connected) next.media.close();
            else target.close();
          },
        };
      },
      replaceLeg(side, leg) {
        const old = legs[side];
        if (old === leg) return;
        stopInterworking();
        if (!session.legs.includes(leg)) findSession(engine, leg)?.moveLeg(leg, session);
        leg.detach();
        legs[side] = leg;
        old.close();
        bridge();
      },
    };
    const media: CallMedia = {
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
        if (calls.get(callId) === anchored) calls.delete(callId);
        stopInterworking();
        if (!handedOver) session.close();
      },
    };
    return { anchored, media };
  }

  return {
    find: (callId) => calls.get(callId),
    onKeyPress: (listener) => {
      keyListeners.push(listener);
    },
    create(callId): CallMedia {
      const session = engine.createSession({ callId });
      const legs: Record<CallSide, MediaLeg> = { caller: session.createLeg('caller'), callee: session.createLeg('callee') };
      const { anchored, media } = pair(callId, session, legs);
      calls.set(callId, anchored);
      return media;
    },
  };
}

/** The session a leg belongs to (an attended transfer takes a leg from another call's session). */
function findSession(engine: MediaEngine, leg: MediaLeg): MediaSession | undefined {
  for (const session of engine.sessions.values()) if (session.legs.includes(leg)) return session;
  return undefined;
}

/** Two G.711 legs the native relay cannot join as they are: telephone-event on one only, or different laws. */
function needsJsBridge(a: MediaLeg, b: MediaLeg): boolean {
  if (needsDtmfInterworking(a, b)) return true;
  const na = a.negotiatedCodec?.audio.name;
  const nb = b.negotiatedCodec?.audio.name;
  const g711 = (n: string | undefined): boolean => n === 'PCMU' || n === 'PCMA';
  return g711(na) && g711(nb) && na !== nb;
}
