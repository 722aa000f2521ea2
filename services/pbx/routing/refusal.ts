/**
 * What a caller hears when a call is refused by policy (an international number without the
 * permission): the prompt in the caller's language, in early media, then the final status (403).
 * Asterisk plays `cannot-complete-as-dialed` the same way before Congestion; carriers do it with 183.
 */
import type { MediaEngine, MediaOutput } from '../../media/engine.js';
import type { PromptId, PromptLanguage } from '../../media/prompts/catalog.js';
import type { Logger } from '../../log.js';
import type { Caller, LocalApplication, RouteDecision } from '../../sip/b2bua/types.js';
import { AppLeg } from '../features/app-leg.js';
import type { MediaClock } from '../features/media-clock.js';
import { Player, playTo } from '../features/player.js';

export interface RefusalDeps {
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
}

/** Builds the decision that plays `prompt` and then fails the call with `status`. */
export type RefusalFactory = (prompt: PromptId, language: PromptLanguage, final: { status: number; reason: string }) => RouteDecision;

export function createRefusals(deps: RefusalDeps): RefusalFactory {
  return (prompt, language, final) => ({
    kind: 'application',
    name: `refused-${final.status}`,
    earlyMedia: final,
    create: (callId, caller) => announcement(deps, callId, caller, prompt, language),
  });
}

function announcement(deps: RefusalDeps, callId: string, caller: Caller, prompt: PromptId, language: PromptLanguage): LocalApplication {
  const log = deps.logger.child({ callId, extension: caller.extension, application: 'refusal' });
  const leg = new AppLeg(deps.engine, callId);
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
        // A little silence first: the phone's jitter buffer starts on it, so no word is clipped.
        player.play({ kind: 'silence', ms: 300 }, { kind: 'prompt', id: prompt, language }, { kind: 'silence', ms: 200 });
      } catch (error) {
        log.error({ err: String(error) }, 'refusal prompt missing: failing without it');
        hangUp('prompt missing');
        return;
      }
      stopPlaying = playTo(deps.clock, player, output);
      void player.whenIdle().then(() => {
        if (!stopped) hangUp('refusal played');
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
