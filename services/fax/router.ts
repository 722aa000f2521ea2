/**
 * `fax:EXT` as a destination: a number mapped to a user's fax line is answered by the fax receiver.
 * The extension must exist (a line left pointing at a deleted user answers 404, as an extension does).
 */
import type { Caller, RouteDecision } from '../sip/b2bua/types.js';
import type { Destination } from '../store/destination.js';
import type { ExtensionRepository } from '../store/types.js';
import { createFaxReceiver, type FaxReceiverDeps } from './receiver.js';

export interface FaxRouterDeps extends FaxReceiverDeps {
  extensions: Pick<ExtensionRepository, 'get'>;
}

export interface FaxRouter {
  route(destination: Destination, ctx: { caller: Caller; calledNumber?: string | null }): RouteDecision;
}

export function createFaxRouter(deps: FaxRouterDeps): FaxRouter {
  return {
    route(destination, ctx) {
      if (destination.kind !== 'fax') return { kind: 'reject', status: 500, reason: 'Wrong Router' };
      const extension = destination.extension;
      if (deps.extensions.get(extension) === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
      const calledNumber = ctx.calledNumber ?? null;
      return {
        kind: 'application',
        name: `fax-${extension}`,
        create: (callId, caller) => createFaxReceiver(deps, { extension, calledNumber }, callId, caller),
      };
    },
  };
}
