/**
 * What a caller hears when a call is refused by policy (an international number without the
 * permission): the prompt in the caller's language, in early media, then the final status (403).
 * Asterisk plays `cannot-complete-as-dialed` the same way before Congestion; carriers do it with 183.
 */
import type { MediaEngine } from '../../media/engine.js';
import type { PromptId, PromptLanguage } from '../../media/prompts/catalog.js';
import type { Logger } from '../../log.js';
import type { Caller, LocalApplication, RouteDecision } from '../../sip/b2bua/types.js';
import { announcement } from '../features/announcement.js';
import type { MediaClock } from '../features/media-clock.js';

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
    create: (callId, caller) => refusal(deps, callId, caller, prompt, language),
  });
}

function refusal(deps: RefusalDeps, callId: string, caller: Caller, prompt: PromptId, language: PromptLanguage): LocalApplication {
  const log = deps.logger.child({ callId, extension: caller.extension, application: 'refusal' });
  return announcement({
    engine: deps.engine,
    clock: deps.clock,
    callId,
    prompt,
    language,
    trailingSilenceMs: 200,
    doneReason: 'refusal played',
    onMissing: (error) => log.error({ err: String(error) }, 'refusal prompt missing: failing without it'),
  });
}
