/**
 * Where issue 16's office destinations take a call: ring groups, virtual receptionists and
 * conference rooms, each turned into a RouteDecision (`route`), plus the directory that makes them
 * reachable by extension-style dialling from a desk phone (a group's or receptionist's internal
 * number, chosen by the admin like an Asterisk queue or IVR extension).
 *
 * `route(destination, ctx)` is the shape of the number map's DestinationRouter: the lead points
 * numbers at it. Extensions and voicemail are routed here too so a no-answer destination or a
 * menu option can name them; voicemail does not exist yet and answers 480 (logged).
 */
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { MediaEngine } from '../../media/engine.js';
import type { Country } from '../../media/tones/table.js';
import type { Caller, CalleeContact, RouteDecision } from '../../sip/b2bua/types.js';
import type { ExtensionRepository } from '../../store/types.js';
import type { RoutingRepositories } from '../../store/routing.js';
import { parseDestination, type Destination } from '../../store/destination.js';
import type { ApplicationDirectory, DialContext } from '../dialplan.js';
import type { ConferenceService } from '../features/conference.js';
import type { MediaClock } from '../features/media-clock.js';
import { createReceptionist, type ReceptionistTarget } from '../receptionist/receptionist.js';
import { ringGroupDecision } from './ring-group.js';

export interface RoutingContext extends DialContext {
  caller: Caller;
}

export interface OfficeRoutingDeps {
  extensions: Pick<ExtensionRepository, 'get'>;
  routing: RoutingRepositories;
  engine: MediaEngine;
  clock: MediaClock;
  conference: ConferenceService;
  logger: Logger;
  dataDir: string;
  country: Country;
  /** the receptionists' clock (tests inject it) */
  now?: () => Date;
}

export interface OfficeRouting {
  route(destination: Destination, ctx: RoutingContext): RouteDecision;
  /** internal numbers of ring groups and receptionists, asked by the dial plan before extensions */
  readonly directory: ApplicationDirectory;
}

// Defined beside the greeting import, which the web process uses without loading the call code.
export { greetingsDir } from '../receptionist/greetings.js';
import { greetingsDir } from '../receptionist/greetings.js';

export function createOfficeRouting(deps: OfficeRoutingDeps): OfficeRouting {
  const log = deps.logger.child({ layer: 'office-routing' });
  const extensionDecision = (number: string, ctx: DialContext): RouteDecision => {
    const extension = deps.extensions.get(number);
    if (extension === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const contacts = ctx.contactsOf(number);
    if (contacts.length === 0) return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    return { kind: 'ring', target: number, displayName: extension.displayName, contacts };
  };
  const ringDeps = (ctx: DialContext) => ({
    contactsOf: (e: string): CalleeContact[] => ctx.contactsOf(e),
    displayNameOf: (e: string): string | null => deps.extensions.get(e)?.displayName ?? null,
  });

  /** For the receptionist: a destination as the caller, already answered, will reach it. */
  const receptionistTarget = (destination: Destination, ctx: RoutingContext): ReceptionistTarget => {
    switch (destination.kind) {
      case 'extension': {
        const decision = extensionDecision(destination.number, ctx);
        return decision.kind === 'ring' ? { kind: 'ring', decision, noAnswer: null } : { kind: 'unavailable', reason: `extension ${destination.number}: ${decision.kind === 'reject' ? decision.status : ''}` };
      }
      case 'ring-group': {
        const group = deps.routing.ringGroups.get(destination.name);
        if (group === null) return { kind: 'unavailable', reason: `no ring group ${destination.name}` };
        const noAnswer = group.noAnswer === null ? null : parseDestinationSafe(group.noAnswer);
        return { kind: 'ring', decision: ringGroupDecision(group, ringDeps(ctx)), noAnswer };
      }
      case 'receptionist': {
        const receptionist = deps.routing.receptionists.get(destination.name);
        return receptionist === null ? { kind: 'unavailable', reason: `no receptionist ${destination.name}` } : { kind: 'receptionist', receptionist };
      }
      case 'conference':
        return { kind: 'conference', room: destination.room };
      case 'voicemail':
        log.info({ extension: destination.extension }, 'voicemail is not available yet (its own issue)');
        return { kind: 'unavailable', reason: 'voicemail not available yet' };
    }
  };

  const route = (destination: Destination, ctx: RoutingContext, hops = 0): RouteDecision => {
    switch (destination.kind) {
      case 'extension':
        return extensionDecision(destination.number, ctx);
      case 'voicemail':
        log.info({ extension: destination.extension, caller: ctx.caller.extension }, 'voicemail is not available yet (its own issue): 480');
        return { kind: 'reject', status: 480, reason: 'Voicemail Not Available' };
      case 'ring-group': {
        const group = deps.routing.ringGroups.get(destination.name);
        if (group === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
        const noAnswer = group.noAnswer === null ? null : parseDestinationSafe(group.noAnswer);
        // Asked when the last round is over, so the no-answer destination is routed as it is then.
        const fallback = noAnswer === null || hops >= 5 ? undefined : () => route(noAnswer, ctx, hops + 1);
        const decision = ringGroupDecision(group, ringDeps(ctx), fallback);
        if (decision.contacts.length === 0 && fallback === undefined) return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
        return decision;
      }
      case 'receptionist': {
        const receptionist = deps.routing.receptionists.get(destination.name);
        if (receptionist === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
        return {
          kind: 'application',
          name: `receptionist-${receptionist.name}`,
          create: (callId, caller) =>
            createReceptionist(
              {
                engine: deps.engine,
                clock: deps.clock,
                logger: deps.logger,
                conference: deps.conference,
                greetingsDir: greetingsDir(deps.dataDir),
                isExtension: (n) => deps.extensions.get(n) !== null,
                resolve: (d, c) => receptionistTarget(d, { ...ctx, caller: c }),
                country: deps.country,
                ...(deps.now !== undefined && { now: deps.now }),
              },
              receptionist,
              callId,
              caller,
            ),
        };
      }
      case 'conference': {
        const room = destination.room;
        const refusal = deps.conference.refusal(room);
        if (refusal !== null) return { kind: 'reject', status: 486, reason: refusal === 'room-full' ? 'Conference Full' : 'No Conference Room Free' };
        return { kind: 'application', name: `conference-${room}`, create: (callId, caller) => deps.conference.create(room, callId, caller) };
      }
    }
  };

  return {
    route: (destination, ctx) => route(destination, ctx),
    directory: {
      resolve(dialled, caller, ctx) {
        if (ctx === undefined) return null;
        const group = deps.routing.ringGroups.byExtension(dialled);
        if (group !== null) return route({ kind: 'ring-group', name: group.name }, { ...ctx, caller });
        const receptionist = deps.routing.receptionists.byExtension(dialled);
        if (receptionist !== null) return route({ kind: 'receptionist', name: receptionist.name }, { ...ctx, caller });
        return null;
      },
    },
  };
}

function parseDestinationSafe(text: string): Destination | null {
  try {
    return parseDestination(text);
  } catch {
    return null;
  }
}
