/**
 * The dial plan: what a dialled number means. Today a number is an extension; the office features
 * (numbers, ring groups, the virtual receptionist, voicemail) will add their own decisions here,
 * each a step of the same pipeline, without the B2BUA changing.
 */
import type { CalleeContact, Caller, RouteDecision } from '../sip/b2bua/types.js';
import type { SipRequest } from '../sip/message.js';
import type { ExtensionRepository } from '../store/types.js';
import type { UserCallRouter } from './routing/forwarding.js';
import type { RoutingPlan } from './routing/plan.js';
import { applyCallerIdPrefix } from './user-calls/caller-id.js';

/** What a directory may need to route a call (ring groups ring the registered phones of members). */
export interface DialContext {
  contactsOf(extension: string): CalleeContact[];
}

/** Numbers the PBX answers itself (feature codes, conference rooms, ring groups' and receptionists' numbers): asked before extensions. */
export interface ApplicationDirectory {
  resolve(dialled: string, caller: Caller, ctx?: DialContext): RouteDecision | null;
}

/** Several directories asked in order; the first that knows the number wins. */
export function chainDirectories(...directories: ApplicationDirectory[]): ApplicationDirectory {
  return {
    resolve(dialled, caller, ctx) {
      for (const directory of directories) {
        const decision = directory.resolve(dialled, caller, ctx);
        if (decision !== null) return decision;
      }
      return null;
    },
  };
}

export interface DialPlanDeps {
  extensions: Pick<ExtensionRepository, 'get'>;
  applications?: ApplicationDirectory;
  /** Numbers, trunks and outside calls (services/pbx/routing/). */
  routing?: RoutingPlan;
  /** Reachable registered contacts of an extension (the registrar's location service). */
  contactsOf(extension: string): CalleeContact[];
  /** A call to a user with their features applied: DND, forwarding, call waiting (services/pbx/routing/forwarding.ts). */
  users?: UserCallRouter;
  /** Whether a user hides their caller ID on outside calls by default (`*67`/`*82` decide per call). */
  hidesCallerId?(extension: string): boolean;
}

export type DialPlan = (request: SipRequest, caller: Caller) => RouteDecision;

export function createDialPlan(deps: DialPlanDeps): DialPlan {
  return (request, authenticated) => {
    // A carrier's call is routed by the number it called, never as if a phone had dialled it.
    if (authenticated.trunk !== undefined) return deps.routing?.inbound(request, authenticated) ?? { kind: 'reject', status: 404, reason: 'Not Found' };
    const uri = request.uri;
    const asDialled = uri.kind === 'sip' ? decodeUser(uri.user) : null;
    if (asDialled === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
    // `*67`/`*82` before a number: caller ID hidden or shown for this call (services/pbx/user-calls/caller-id.ts).
    const { dialled, caller } = deps.hidesCallerId ? applyCallerIdPrefix(asDialled, authenticated, deps.hidesCallerId) : { dialled: asDialled, caller: authenticated };
    const emergency = deps.routing?.beforeExtensions(dialled, request, caller);
    if (emergency) return emergency;
    const application = deps.applications?.resolve(dialled, caller, { contactsOf: deps.contactsOf });
    if (application) return application;
    const extension = deps.extensions.get(dialled);
    if (extension === null) return deps.routing?.afterExtensions(dialled, request, caller) ?? { kind: 'reject', status: 404, reason: 'Not Found' };
    if (deps.users !== undefined) return deps.users.callUser(extension.number, request, caller);
    const contacts = deps.contactsOf(extension.number);
    // Asterisk's Dial answers CHANUNAVAIL → 480 when an endpoint has no contact; so do we.
    if (contacts.length === 0) return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    return { kind: 'ring', target: extension.number, displayName: extension.displayName, contacts };
  };
}

/** The user part as dialled: %-escapes decoded, visual separators (RFC 3966 §5.1.1) dropped. */
function decodeUser(user: string | null): string | null {
  if (user === null || user.length === 0) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(user);
  } catch {
    return null;
  }
  const digits = decoded.replace(/[-.()\s]/g, '');
  return digits.length > 0 ? digits : null;
}
