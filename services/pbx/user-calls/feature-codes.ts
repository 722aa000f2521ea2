/**
 * The feature codes a user dials to set their own features (issue 17 item 8), answered with a
 * confirmation prompt in the user's language, then hung up. The codes are the ones users know
 * from FreePBX and BroadWorks (docs/features.md has the table, docs/decisions.md the choice):
 *
 *   *72N  / *73   forward always to N / off          *78 / *79   do not disturb on / off
 *   *90N  / *91   forward when busy to N / off       *70 / *71   call waiting on / off
 *   *92N  / *93   forward on no answer to N / off    *31 / *32   hide / show caller ID by default
 *   *94N  / *95   forward when unreachable / off     *67N, *82N  hide / show caller ID for one call
 *
 * A forward target is checked when it is set (an existing extension other than the user's own, or
 * an outside number the user may call) and again at each call (services/pbx/routing/forwarding.ts).
 */
import type { Logger } from '../../log.js';
import type { MediaEngine } from '../../media/engine.js';
import { isPromptLanguage, type PromptId, type PromptLanguage } from '../../media/prompts/catalog.js';
import type { Caller, LocalApplication, RouteDecision } from '../../sip/b2bua/types.js';
import type { Store } from '../../store/types.js';
import type { ForwardKind, UserFeaturesPatch } from '../../store/user-features-schema.js';
import type { ApplicationDirectory } from '../dialplan.js';
import { announcement } from '../features/announcement.js';
import type { MediaClock } from '../features/media-clock.js';
import type { CountryCode } from '../routing/phone-numbers.js';
import { forwardTargetAllowed } from './forward-target.js';

/** Codes followed by a number: setting a forward. */
export const FORWARD_ON_CODES: Readonly<Record<string, ForwardKind>> = { '*72': 'always', '*90': 'busy', '*92': 'no-answer', '*94': 'unreachable' };
/** Codes alone: turning something off or on. */
export const SWITCH_CODES: Readonly<Record<string, { patch: UserFeaturesPatch; prompt: PromptId }>> = {
  '*73': { patch: { forward: { always: null } }, prompt: 'feature.forward_off' },
  '*91': { patch: { forward: { busy: null } }, prompt: 'feature.forward_off' },
  '*93': { patch: { forward: { 'no-answer': null } }, prompt: 'feature.forward_off' },
  '*95': { patch: { forward: { unreachable: null } }, prompt: 'feature.forward_off' },
  '*78': { patch: { doNotDisturb: true }, prompt: 'feature.dnd_on' },
  '*79': { patch: { doNotDisturb: false }, prompt: 'feature.dnd_off' },
  '*70': { patch: { callWaiting: true }, prompt: 'feature.call_waiting_on' },
  '*71': { patch: { callWaiting: false }, prompt: 'feature.call_waiting_off' },
  '*31': { patch: { hideCallerId: true }, prompt: 'feature.caller_id_hidden' },
  '*32': { patch: { hideCallerId: false }, prompt: 'feature.caller_id_shown' },
};

const FORWARD_PROMPT: Readonly<Record<ForwardKind, PromptId>> = {
  always: 'feature.forward_always_on',
  busy: 'feature.forward_busy_on',
  'no-answer': 'feature.forward_no_answer_on',
  unreachable: 'feature.forward_unreachable_on',
};

export interface FeatureCodeDeps {
  store: Pick<Store, 'userFeatures' | 'extensions' | 'extensionRouting'>;
  country: CountryCode;
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  defaultLanguage?: PromptLanguage;
}

/** What a dialled code does: the store change to make and the prompt that confirms it. */
export type FeatureAction = { patch: UserFeaturesPatch; prompt: PromptId } | { patch: null; prompt: PromptId };

/** The action of `dialled` for `extension`, or null when it is no feature code. */
export function featureAction(dialled: string, extension: string, deps: Pick<FeatureCodeDeps, 'store' | 'country'>): FeatureAction | null {
  const fixed = SWITCH_CODES[dialled];
  if (fixed !== undefined) return fixed;
  const code = dialled.slice(0, 3);
  const kind = FORWARD_ON_CODES[code];
  if (kind === undefined) return null;
  const target = dialled.slice(3);
  return forwardTargetAllowed(target, extension, deps) ? { patch: { forward: { [kind]: target } }, prompt: FORWARD_PROMPT[kind] } : { patch: null, prompt: 'feature.forward_invalid' };
}

export function createFeatureCodes(deps: FeatureCodeDeps): ApplicationDirectory {
  const log = deps.logger.child({ layer: 'feature-codes' });
  const languageOf = (extension: string): PromptLanguage => {
    const language = deps.store.extensions.get(extension)?.language;
    return language !== undefined && isPromptLanguage(language) ? language : (deps.defaultLanguage ?? 'en');
  };
  return {
    resolve(dialled: string, caller: Caller): RouteDecision | null {
      // Feature codes are the office's users': a carrier's caller never reaches them.
      if (caller.trunk !== undefined || !dialled.startsWith('*')) return null;
      if (deps.store.extensions.get(caller.extension) === null) return null;
      const action = featureAction(dialled, caller.extension, deps);
      if (action === null) return null;
      return {
        kind: 'application',
        name: `feature-${dialled.slice(0, 3)}`,
        create: (callId, who) => {
          if (action.patch !== null) {
            const features = deps.store.userFeatures.set(who.extension, action.patch);
            log.info({ callId, extension: who.extension, code: dialled.slice(0, 3), features }, 'feature code applied');
          } else {
            log.info({ callId, extension: who.extension, dialled }, 'feature code refused: forward target not allowed');
          }
          return confirmation(deps, callId, action.prompt, languageOf(who.extension));
        },
      };
    },
  };
}

/** Answers, says `prompt`, hangs up (Asterisk's feature codes do the same with their own sounds). */
function confirmation(deps: FeatureCodeDeps, callId: string, prompt: PromptId, language: PromptLanguage): LocalApplication {
  return announcement({
    engine: deps.engine,
    clock: deps.clock,
    callId,
    prompt,
    language,
    trailingSilenceMs: 300,
    doneReason: 'confirmation played',
    // The setting is made; only its confirmation is missing (prompts not built).
    onMissing: (error) => deps.logger.error({ callId, err: String(error) }, 'confirmation prompt missing'),
  });
}
