/**
 * Where a Destination (`extension:101`, `ring-group:sales`, ...) sends a call, as one interface:
 * every kind has its own router module (extensions here; ring groups, the receptionist and
 * conference rooms in theirs), and `createDestinationRouter` dispatches by kind. A number mapped to
 * a kind nobody routes yet fails clearly (480, logged), never silently.
 */
import type { Logger } from '../../log.js';
import type { CalleeContact, Caller, RouteDecision } from '../../sip/b2bua/types.js';
import type { SipRequest } from '../../sip/message.js';
import type { ExtensionRepository } from '../../store/types.js';
import { formatDestination, type Destination, type DestinationKind } from '../../store/destination.js';

/** The call being routed: the INVITE, who calls, and the number that was called when it came from outside. */
export interface RouteContext {
  request: SipRequest;
  caller: Caller;
  /** E.164 number the carrier called (inbound through a trunk), null for internal calls. */
  calledNumber: string | null;
  /** Reachable registered contacts of an extension (the registrar's location service). */
  contactsOf(extension: string): CalleeContact[];
}

export interface DestinationRouter {
  route(destination: Destination, context: RouteContext): RouteDecision;
}

export type DestinationRouters = { [K in DestinationKind]?: DestinationRouter };

export function createDestinationRouter(routers: DestinationRouters, logger: Logger): DestinationRouter {
  return {
    route(destination, context) {
      const router = routers[destination.kind];
      if (router === undefined) {
        logger.warn({ callId: context.request.callId, destination: formatDestination(destination), calledNumber: context.calledNumber }, 'no router for this kind of destination yet');
        return { kind: 'reject', status: 480, reason: 'Destination Not Available' };
      }
      return router.route(destination, context);
    },
  };
}

export interface ExtensionRouterDeps {
  extensions: Pick<ExtensionRepository, 'get'>;
  /** Reachable registered contacts of an extension (the registrar's location service). */
  contactsOf(extension: string): CalleeContact[];
}

/**
 * `extension:N`: every registered contact rings. No per-user call limit ("unlimited lines"): a user
 * on a call gets the next one too (call waiting is the phone's).
 */
export function extensionRouter(deps: ExtensionRouterDeps): DestinationRouter {
  return {
    route(destination) {
      if (destination.kind !== 'extension') return { kind: 'reject', status: 500, reason: 'Wrong Router' };
      const extension = deps.extensions.get(destination.number);
      if (extension === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
      const contacts = deps.contactsOf(extension.number);
      // Asterisk's Dial answers CHANUNAVAIL → 480 when an endpoint has no contact; so do we.
      if (contacts.length === 0) return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
      return { kind: 'ring', target: extension.number, displayName: extension.displayName, contacts };
    },
  };
}
