/**
 * The media of a call an application hands on (the receptionist transferring a caller): a second
 * leg in the application's own media session rings the callee; when the callee answers, the
 * caller's leg leaves the application (detach) and the two legs are bridged by the native relay,
 * exactly like an anchored call. The caller's phone keeps the address, port and codec it was
 * answered with: no re-INVITE is needed, which is what makes the hand-over invisible to it.
 *
 * The relay does not transcode, so the callee is offered only the codec the caller speaks (plus
 * telephone-event); when only one side has telephone-event, the DTMF interworking bridge joins them.
 */
import type { Logger } from '../../log.js';
import type { MediaLeg } from '../../media/engine.js';
import { onlyCodec } from '../../media/sdp/only-codec.js';
import type { CallMedia, CallSide } from '../../sip/b2bua/types.js';
import { DtmfInterworking, needsDtmfInterworking } from '../dtmf-interworking.js';
import type { AppLeg } from './app-leg.js';
import type { MediaClock } from './media-clock.js';

export function transferMedia(appLeg: AppLeg, deps: { clock: MediaClock; logger: Logger }): CallMedia {
  const session = appLeg.session;
  const caller = appLeg.leg;
  const callee = session.createLeg('callee');
  const legs: Record<CallSide, MediaLeg> = { caller, callee };
  const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');
  let connected = false;
  let interworking: DtmfInterworking | undefined;
  const bridge = (): void => {
    session.bridge(caller, callee);
    const needed = needsDtmfInterworking(caller, callee);
    if (needed && !interworking) {
      interworking = new DtmfInterworking(caller, callee, deps.clock, deps.logger);
      interworking.start();
    } else if (!needed && interworking) {
      interworking.stop();
      interworking = undefined;
    }
  };
  return {
    offerToCallee: () => Buffer.from(onlyCodec(callee.createOffer(), caller.negotiatedCodec?.audio.name)),
    answerToCaller: (answer) => {
      callee.acceptAnswer(answer.toString('utf8'));
      return Buffer.alloc(0);
    },
    reoffer: (from, sdp) => Buffer.from(legs[other(from)].anchorOffer(sdp.toString('utf8'), legs[from])),
    reanswer: (from, sdp) => {
      const rewritten = Buffer.from(legs[other(from)].anchorAnswer(sdp.toString('utf8'), legs[from]));
      if (connected) bridge();
      return rewritten;
    },
    connected: () => {
      connected = true;
      appLeg.handOver();
      caller.detach();
      bridge();
    },
    close: () => {
      interworking?.stop();
      interworking = undefined;
      if (connected) session.close();
      else callee.close();
    },
  };
}
