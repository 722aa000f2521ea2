/**
 * A call to a user, with the user's own features applied (issue 17 items 3, 5, 7): do not disturb,
 * forward always, forward when unreachable (no phone registered), busy when in a call with call
 * waiting off, and a ring time followed by the no-answer (or busy) forward. The dial plan and the
 * `extension:N` destination router both ask `callUser`; everything else about the call is the
 * B2BUA's.
 *
 * Order, as Asterisk/FreePBX's macro-exten-vm and BroadWorks apply it: DND, then forward always,
 * then unreachable, then busy (call waiting off), then ring with the no-answer/busy forward as
 * the ring decision's fallback.
 *
 * Loops: the users a call was forwarded through are carried along (`chain`); a forward back to one
 * of them is not followed, and the last user reached is treated as if it had no forward of that
 * kind (their phones ring, or they are busy/unavailable). A call that already went through
 * MAX_FORWARDS diversions (counted in its Diversion headers too, for calls the carrier sends back)
 * is not forwarded again.
 */
import type { Logger } from '../../log.js';
import type { CalleeContact, Caller, RingOutcome, RouteDecision } from '../../sip/b2bua/types.js';
import type { SipRequest } from '../../sip/message.js';
import type { ExtensionRepository } from '../../store/types.js';
import type { ForwardKind, UserFeaturesRepository } from '../../store/user-features-schema.js';
import type { DiversionReason, ForwardedCall } from './plan.js';

/** Forwards followed for one call at most (Asterisk's Dial follows 20 302s; 5 is plenty in an office). */
export const MAX_FORWARDS = 5;

export interface ForwardingDeps {
  extensions: Pick<ExtensionRepository, 'get'>;
  features: Pick<UserFeaturesRepository, 'get'>;
  /** Reachable registered contacts of an extension. */
  contactsOf(extension: string): CalleeContact[];
  /** Whether the user is in an answered call now (the B2BUA's calls). */
  inCall(extension: string): boolean;
  /** A forward to an outside number, through the trunk; null when it cannot go out. */
  outside?(dialled: string, request: SipRequest, caller: Caller, forwarded: ForwardedCall): RouteDecision | null;
  /** The user's voicemail (`voicemail:N` through the office router); absent or a rejection: busy instead. */
  voicemail?(extension: string, request: SipRequest, caller: Caller): RouteDecision;
  logger: Logger;
}

export interface UserCallRouter {
  /** The decision for a call to extension `number` (which exists or not). */
  callUser(number: string, request: SipRequest, caller: Caller): RouteDecision;
}

const REASON: Record<ForwardKind | 'dnd', DiversionReason> = {
  always: 'unconditional',
  busy: 'user-busy',
  'no-answer': 'no-answer',
  unreachable: 'unavailable',
  dnd: 'do-not-disturb',
};

const BUSY: RouteDecision = { kind: 'reject', status: 486, reason: 'Busy Here' };
const UNAVAILABLE: RouteDecision = { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };

export function createUserCallRouter(deps: ForwardingDeps): UserCallRouter {
  const log = deps.logger.child({ layer: 'forwarding' });

  const route = (number: string, request: SipRequest, caller: Caller, chain: readonly string[]): RouteDecision => {
    const extension = deps.extensions.get(number);
    if (extension === null) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const features = deps.features.get(number);
    const visited = [...chain, number];
    const earlier = incomingDiversions(request);

    /** The user's forward of `kind`, as a decision; null when there is none or it cannot be followed. */
    const forward = (kind: ForwardKind | 'dnd', target: string | null | undefined): RouteDecision | null => {
      if (target === null || target === undefined || features === null) return null;
      if (visited.includes(target)) {
        log.warn({ callId: request.callId, extension: number, kind, target, chain: visited }, 'forwarding loop: forward not followed');
        return null;
      }
      if (visited.length + earlier > MAX_FORWARDS) {
        log.warn({ callId: request.callId, extension: number, kind, target, diversions: visited.length - 1 + earlier }, 'too many forwards: forward not followed');
        return null;
      }
      log.info({ callId: request.callId, extension: number, kind, target, caller: caller.extension }, 'call forwarded');
      if (deps.extensions.get(target) !== null) return route(target, request, caller, visited);
      const forwarded: ForwardedCall = { by: number, reason: REASON[kind], counter: visited.length + earlier };
      const out = deps.outside?.(target, request, caller, forwarded) ?? null;
      if (out === null) log.warn({ callId: request.callId, extension: number, kind, target }, 'forward target cannot be called: forward not followed');
      return out;
    };

    /** Busy: the busy forward, else voicemail when there is one, else 486. */
    const busy = (): RouteDecision => forward('busy', features?.forward.busy) ?? voicemailOr(BUSY);
    const voicemailOr = (otherwise: RouteDecision): RouteDecision => {
      const decision = deps.voicemail?.(number, request, caller);
      return decision === undefined || decision.kind === 'reject' ? otherwise : decision;
    };

    if (features?.doNotDisturb === true) {
      log.info({ callId: request.callId, extension: number, caller: caller.extension }, 'do not disturb');
      return forward('dnd', features.forward.busy) ?? voicemailOr(BUSY);
    }
    const always = forward('always', features?.forward.always);
    if (always !== null) return always;
    const contacts = deps.contactsOf(number);
    // Asterisk's Dial answers CHANUNAVAIL → 480 when an endpoint has no contact; so do we, unless forwarded.
    if (contacts.length === 0) return forward('unreachable', features?.forward.unreachable) ?? UNAVAILABLE;
    if (features?.callWaiting === false && deps.inCall(number)) {
      log.info({ callId: request.callId, extension: number, caller: caller.extension }, 'in a call, call waiting off: busy');
      return busy();
    }
    const noAnswer = features?.forward['no-answer'] ?? null;
    const busyTarget = features?.forward.busy ?? null;
    const ring: RouteDecision = { kind: 'ring', target: number, displayName: extension.displayName, contacts };
    if (noAnswer === null && busyTarget === null) return ring;
    return {
      ...ring,
      // The user's ring time applies when something follows it; otherwise the B2BUA's no-answer time.
      ...(noAnswer !== null && { stages: [{ contacts, ringMs: (features?.noAnswerSeconds ?? 20) * 1000 }] }),
      fallback: (outcome: RingOutcome) => {
        if (outcome.status === 486) return forward('busy', busyTarget) ?? BUSY;
        return forward('no-answer', noAnswer) ?? { kind: 'reject', status: outcome.status };
      },
    };
  };

  return { callUser: (number, request, caller) => route(number, request, caller, []) };
}

/** Diversions the call already went through before reaching us (RFC 5806 counters, RFC 7044 History-Info entries). */
function incomingDiversions(request: SipRequest): number {
  let count = 0;
  for (const header of request.headers) {
    const name = header.name.toLowerCase();
    if (name === 'diversion' || name === 'cc-diversion') {
      for (const entry of header.value.split(',')) {
        const counter = /;\s*counter\s*=\s*(\d+)/i.exec(entry);
        count += counter ? Math.min(Number(counter[1]), MAX_FORWARDS + 1) : 1;
      }
    } else if (name === 'history-info') {
      count += Math.max(0, header.value.split(',').length - 1);
    }
  }
  return count;
}
