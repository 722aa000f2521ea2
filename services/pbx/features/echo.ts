/**
 * The echo test (Asterisk's Echo(), feature code *43): the caller hears what it sends, after a
 * short playout delay, so a user can check microphone, speaker, codec and network in one call.
 * Audio (in-band DTMF included) is re-timed through a playout buffer on the shared media clock,
 * so what goes back is a steady 20 ms stream even when the phone's packets arrive in bursts.
 */
import { FRAME_SAMPLES } from '../../media/codec/g711.js';
import type { MediaEngine, MediaOutput } from '../../media/engine.js';
import type { Logger } from '../../log.js';
import type { Caller, LocalApplication } from '../../sip/b2bua/types.js';
import { AppLeg } from './app-leg.js';
import { FrameFifo } from './frame-fifo.js';
import type { MediaClock } from './media-clock.js';

export interface EchoDeps {
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
}

export const ECHO_FEATURE_CODE = '*43';

export function createEchoTest(deps: EchoDeps, callId: string, caller: Caller): LocalApplication {
  const log = deps.logger.child({ callId, extension: caller.extension, application: 'echo' });
  const leg = new AppLeg(deps.engine, callId);
  const fifo = new FrameFifo({ primeFrames: 2, maxFrames: 10 });
  const frame = new Int16Array(FRAME_SAMPLES);
  let output: MediaOutput | null = null;
  let unsubscribe: (() => void) | null = null;
  let stopped = false;

  return {
    answer: (offer) => leg.answer(offer),
    start() {
      if (stopped) return;
      // The caller's audio through the adaptive jitter buffer and loss concealment: the echo test
      // is how a technician judges the line, so it should sound like a call does.
      output = leg.attach({ onAudio: (pcm) => fifo.push(pcm) }, { playout: 'adaptive' });
      const out = output;
      unsubscribe = deps.clock.subscribe(() => {
        fifo.pull(frame);
        out.sendAudio(frame);
      });
      log.info('echo test started');
    },
    stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe?.();
      leg.close();
      log.info({ ...fifo.stats }, 'echo test ended');
    },
  };
}
