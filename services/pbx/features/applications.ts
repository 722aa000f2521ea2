/**
 * The directory of numbers the PBX answers itself, asked by the dial plan before extensions:
 *   *43          echo test
 *   8000–8099    conference rooms
 * It owns the one media clock the applications share.
 */
import type { MediaEngine } from '../../media/engine.js';
import { isPromptLanguage, type PromptLanguage } from '../../media/prompts/catalog.js';
import type { Logger } from '../../log.js';
import type { Caller, RouteDecision } from '../../sip/b2bua/types.js';
import type { ExtensionRepository } from '../../store/types.js';
import type { ApplicationDirectory } from '../dialplan.js';
import { ConferenceService, isConferenceRoom, type ConferenceDeps } from './conference.js';
import { createEchoTest, ECHO_FEATURE_CODE } from './echo.js';
import { createMediaClock, type MediaClock } from './media-clock.js';

export interface ApplicationsDeps {
  engine: MediaEngine;
  extensions: Pick<ExtensionRepository, 'get'>;
  logger: Logger;
  /** language of callers whose extension has none we can speak (default 'en') */
  defaultLanguage?: PromptLanguage;
  /** a clock shared with other media features; one is created otherwise */
  clock?: MediaClock;
  /** conference PINs and limits (the store's settings) */
  rooms?: ConferenceDeps['rooms'];
}

export interface PbxApplications extends ApplicationDirectory {
  readonly clock: MediaClock;
  readonly conference: ConferenceService;
  close(): void;
}

export function createApplications(deps: ApplicationsDeps): PbxApplications {
  const ownClock = deps.clock === undefined;
  const clock = deps.clock ?? createMediaClock({ logger: deps.logger });
  const logger = deps.logger.child({ layer: 'applications' });
  const fallback = deps.defaultLanguage ?? 'en';
  const languageOf = (extension: string): PromptLanguage => {
    const language = deps.extensions.get(extension)?.language;
    return language !== undefined && isPromptLanguage(language) ? language : fallback;
  };
  const conference = new ConferenceService({ engine: deps.engine, clock, logger, languageOf, ...(deps.rooms !== undefined && { rooms: deps.rooms }) });

  return {
    clock,
    conference,
    resolve(dialled: string, _caller: Caller): RouteDecision | null {
      if (dialled === ECHO_FEATURE_CODE) {
        return { kind: 'application', name: 'echo', create: (callId, caller) => createEchoTest({ engine: deps.engine, clock, logger }, callId, caller) };
      }
      if (isConferenceRoom(dialled)) {
        // Full before answering: a clear 486 costs no media (the PIN phase checks again at entry).
        const refusal = conference.refusal(dialled);
        if (refusal !== null) return { kind: 'reject', status: 486, reason: refusal === 'room-full' ? 'Conference Full' : 'No Conference Room Free' };
        return { kind: 'application', name: `conference-${dialled}`, create: (callId, caller) => conference.create(dialled, callId, caller) };
      }
      return null;
    },
    close() {
      conference.close();
      if (ownClock) clock.close();
    },
  };
}
