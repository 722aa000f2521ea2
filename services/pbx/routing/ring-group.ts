/**
 * Ring groups as a RouteDecision: all members at once (one round) or one member after the other
 * (a round per member, in the group's order, each with its ring time). A member with no reachable
 * registration is an empty round, skipped at once by the B2BUA; a member whose phone answers busy
 * ends its round at once too. The group's no-answer destination is the decision's fallback.
 */
import type { CalleeContact, RingDecision, RingStage, RouteDecision } from '../../sip/b2bua/types.js';
import type { RingGroup } from '../../store/routing-schema.js';

export interface RingGroupDeps {
  /** reachable registered contacts of an extension (the registrar's location service) */
  contactsOf(extension: string): CalleeContact[];
  /** display name of an extension, for the callee's To (null: not an extension any more) */
  displayNameOf(extension: string): string | null;
}

export function ringGroupStages(group: RingGroup, deps: RingGroupDeps): RingStage[] {
  // A member whose extension was removed stays listed (the admin sees it) but rings nothing.
  const contacts = (extension: string): CalleeContact[] => (deps.displayNameOf(extension) === null ? [] : deps.contactsOf(extension));
  if (group.strategy === 'simultaneous') {
    return [{ contacts: group.members.flatMap((m) => contacts(m.extension)), ringMs: group.ringSeconds * 1000 }];
  }
  return group.members.map((m) => ({ contacts: contacts(m.extension), ringMs: (m.ringSeconds ?? group.ringSeconds) * 1000 }));
}

/**
 * The decision for a call to `group`. `fallback` is where the call goes when nobody answered
 * (the no-answer destination already routed); without one, the caller gets the best failure.
 */
export function ringGroupDecision(group: RingGroup, deps: RingGroupDeps, fallback?: () => RouteDecision): RingDecision {
  const stages = ringGroupStages(group, deps);
  return {
    kind: 'ring',
    target: group.extension ?? group.name,
    displayName: group.name,
    contacts: stages.flatMap((s) => s.contacts),
    stages,
    ...(fallback !== undefined && { fallback }),
  };
}
