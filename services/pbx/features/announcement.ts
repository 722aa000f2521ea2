/**
 * An application that answers, says one prompt and hangs up: the confirmation of a feature code and
 * the announcement of a refused call share it (Asterisk's Playback() then Hangup()/Congestion).
 * A little silence first: the phone's jitter buffer starts on it, so no word is clipped.
 */
import type { MediaEngine, MediaOutput } from '../../media/engine.js';
import type { PromptId, PromptLanguage } from '../../media/prompts/catalog.js';
import type { LocalApplication } from '../../sip/b2bua/types.js';
import { AppLeg } from './app-leg.js';
import type { MediaClock } from './media-clock.js';
import { Player, playTo } from './player.js';

export interface AnnouncementOptions {
  engine: MediaEngine;
  clock: MediaClock;
  callId: string;
  prompt: PromptId;
  language: PromptLanguage;
  /** Silence after the prompt before the hang-up (ms). */
  trailingSilenceMs: number;
  /** Why the call ends once the prompt is played (the hang-up reason). */
  doneReason: string;
  /** The prompt cannot be played (prompts not built): the call ends with 'prompt missing' right after. */
  onMissing: (error: unknown) => void;
}

export function announcement(options: AnnouncementOptions): LocalApplication {
  const { engine, clock, callId, prompt, language } = options;
  const leg = new AppLeg(engine, callId);
  const player = new Player();
  let output: MediaOutput | null = null;
  let stopPlaying: (() => void) | null = null;
  let stopped = false;
  return {
    answer: (offer) => leg.answer(offer),
    start(hangUp) {
      if (stopped) return;
      output = leg.attach({ onAudio: () => undefined });
      try {
        player.play({ kind: 'silence', ms: 300 }, { kind: 'prompt', id: prompt, language }, { kind: 'silence', ms: options.trailingSilenceMs });
      } catch (error) {
        options.onMissing(error);
        hangUp('prompt missing');
        return;
      }
      stopPlaying = playTo(clock, player, output);
      void player.whenIdle().then(() => {
        if (!stopped) hangUp(options.doneReason);
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stopPlaying?.();
      player.clear();
      leg.close();
    },
  };
}
