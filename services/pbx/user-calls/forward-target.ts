/** Whether a user may forward their calls to a target (feature codes and pbxctl ask the same). */
import type { Store } from '../../store/types.js';
import { classifyOutbound, needsInternationalPermission } from '../routing/outbound.js';
import type { CountryCode } from '../routing/phone-numbers.js';

export type ForwardTargetCheck = { ok: true } | { ok: false; why: string };

/** Another extension, or an outside number the user may call (never an emergency number, never oneself). */
export function checkForwardTarget(target: string, extension: string, deps: { store: Pick<Store, 'extensions' | 'extensionRouting'>; country: CountryCode }): ForwardTargetCheck {
  if (!/^\+?\d{2,20}$/.test(target)) return { ok: false, why: 'a forward target is an extension or a phone number (digits, optional leading +)' };
  if (target === extension) return { ok: false, why: `extension ${extension} cannot forward to itself` };
  if (deps.store.extensions.get(target) !== null) return { ok: true };
  const call = classifyOutbound(target, deps.country);
  if (call.kind === 'invalid') return { ok: false, why: `${target} is neither an extension nor a valid phone number` };
  if (call.kind === 'emergency') return { ok: false, why: 'calls cannot be forwarded to an emergency number' };
  if (needsInternationalPermission(call) && deps.store.extensionRouting.get(extension)?.international !== true) {
    return { ok: false, why: `${call.e164} is ${call.kind === 'premium' ? 'a premium-rate' : 'an international'} number and extension ${extension} may not call it (pbxctl extension set ${extension} --international on)` };
  }
  return { ok: true };
}

export function forwardTargetAllowed(target: string, extension: string, deps: { store: Pick<Store, 'extensions' | 'extensionRouting'>; country: CountryCode }): boolean {
  return checkForwardTarget(target, extension, deps).ok;
}
