/**
 * The Replaces header (RFC 3891 §6.1): `call-id;to-tag=X;from-tag=Y[;early-only]`, in an INVITE
 * or, URI-escaped, in a REFER's Refer-To (attended transfer).
 */
export interface ReplacesTarget {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

export function parseReplaces(value: string): ReplacesTarget | null {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (callId === undefined || callId.length === 0) return null;
  let toTag: string | null = null;
  let fromTag: string | null = null;
  let earlyOnly = false;
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? '' : param.slice(eq + 1);
    if (name === 'to-tag') toTag = v;
    else if (name === 'from-tag') fromTag = v;
    else if (name === 'early-only') earlyOnly = true;
  }
  if (!toTag || !fromTag) return null;
  return { callId, toTag, fromTag, earlyOnly };
}

/** The Replaces of a Refer-To URI's headers (`?Replaces=...`, %-escaped), or null. */
export function replacesInUriHeaders(headers: ReadonlyMap<string, string>): ReplacesTarget | null | 'malformed' {
  for (const [name, raw] of headers) {
    if (name.toLowerCase() !== 'replaces') continue;
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      return 'malformed';
    }
    return parseReplaces(value) ?? 'malformed';
  }
  return null;
}
