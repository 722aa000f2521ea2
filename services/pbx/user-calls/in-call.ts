/**
 * Who is in a call now, read from the B2BUA's calls (its snapshot): a user is in a call while an
 * answered call names their extension as caller (they called out) or callee (their phone answered
 * it). Calls the PBX answers itself count too (a user in a conference is busy).
 */
import type { CallSummary } from '../../sip/b2bua/types.js';

export function userInCall(calls: () => CallSummary[]): (extension: string) => boolean {
  return (extension) => calls().some((call) => call.phase === 'answered' && (call.callee === extension || call.caller === extension));
}
