/**
 * The dial plan: what a dialled number means. Today a number is an extension; the office features
 * (numbers, ring groups, the virtual receptionist, voicemail) will add their own decisions here,
 * each a step of the same pipeline, without the B2BUA changing.
 */
import type { CalleeContact, Caller, RouteDecision } from '../sip/b2bua/types.js';
import type { SipRequest } from '../sip/message.js';
import type { ExtensionRepository } from '../store/types.js';
import type { RoutingPlan } from './routing/plan.js';

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
  /** The extension's voicemail box, where an unanswered, busy or unreachable call goes (services/voicemail/). */
  voicemail?: { fallbackFor(extension: string): ((failure?: { status: number }) => RouteDecision) | null };
}

export type DialPlan = (request: SipRequest, caller: Caller) => RouteDecision;

export function createDialPlan(deps: DialPlanDeps): DialPlan {
  return (request, caller) => {
    // A carrier's call is routed by the number it called, never as if a phone had dialled it.
    if (caller.trunk !== undefined) return deps.routing?.inbound(request, caller) ?? { kind: 'reject', status: 404, reason: 'Not Found' };
    const uri = request.uri;
    const dialled = uri.kind === 'sip' ? decodeUser(uri.user) : null;
    if (dialled === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const emergency = deps.routing?.beforeExtensions(dialled, request, caller);
    if (emergency) return emergency;
    const application = deps.applications?.resolve(dialled, caller, { contactsOf: deps.contactsOf });
    if (application) return application;
    const extension = deps.extensions.get(dialled);
    if (extension === null) return deps.routing?.afterExtensions(dialled, request, caller) ?? { kind: 'reject', status: 404, reason: 'Not Found' };
    const contacts = deps.contactsOf(extension.number);
    const toVoicemail = deps.voicemail?.fallbackFor(extension.number) ?? null;
    // Asterisk's Dial answers CHANUNAVAIL → 480 when an endpoint has no contact; so do we, unless a box takes it.
    if (contacts.length === 0) return toVoicemail?.({ status: 480 }) ?? { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    return { kind: 'ring', target: extension.number, displayName: extension.displayName, contacts, ...(toVoicemail !== null && { fallback: toVoicemail }) };
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
