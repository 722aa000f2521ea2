/**
 * Caller ID blocking per call (RFC 3323 privacy asked by the dialled prefix), as North American
 * phones and Asterisk/FreePBX do it: `*67` before the number hides the caller's identity for this
 * call, `*82` shows it for this call when the user hides it by default. Emergency calls always show
 * it (services/pbx/routing/plan.ts ignores the request for them).
 */
import type { Caller } from '../../sip/b2bua/types.js';

export const HIDE_ONCE_PREFIX = '*67';
export const SHOW_ONCE_PREFIX = '*82';

/**
 * The number without its privacy prefix and the caller with `hideIdentity` set: the prefix when
 * dialled, else the user's default. Callers from a trunk are left alone.
 */
export function applyCallerIdPrefix(dialled: string, caller: Caller, hideByDefault: (extension: string) => boolean): { dialled: string; caller: Caller } {
  if (caller.trunk !== undefined) return { dialled, caller };
  for (const [prefix, hide] of [[HIDE_ONCE_PREFIX, true], [SHOW_ONCE_PREFIX, false]] as const) {
    if (dialled.startsWith(prefix) && dialled.length > prefix.length) return { dialled: dialled.slice(prefix.length), caller: { ...caller, hideIdentity: hide } };
  }
  return { dialled, caller: hideByDefault(caller.extension) ? { ...caller, hideIdentity: true } : caller };
}
