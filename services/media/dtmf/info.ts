// DTMF in SIP INFO bodies (the de-facto formats; there is no RFC for either):
//  - application/dtmf-relay (Cisco/Nortel): "Signal=5\r\nDuration=160\r\n", Duration in ms.
//  - application/dtmf: the body is the digit itself (RFC 2976 INFO, body format as used by many UAs).
// Parse at the edge into a typed value; bad bodies yield an error result, never an exception.

import { parseDtmfDigit, type DtmfDigit } from './digits.js';

export const DTMF_RELAY_CONTENT_TYPE = 'application/dtmf-relay';
export const DTMF_CONTENT_TYPE = 'application/dtmf';
/** Duration used when a dtmf-relay body omits Duration= or for application/dtmf bodies. */
export const DEFAULT_INFO_DURATION_MS = 250;
const MAX_INFO_DURATION_MS = 60_000;

export interface DtmfInfo {
  readonly digit: DtmfDigit;
  readonly durationMs: number;
}

export type DtmfInfoResult = { readonly ok: true; readonly value: DtmfInfo } | { readonly ok: false; readonly error: string };

/** Signal values: a digit, or the RFC 4733 codes 10/11 for * and # some gateways send. */
function parseSignal(v: string): DtmfDigit | undefined {
  const t = v.trim();
  if (t === '10') return '*';
  if (t === '11') return '#';
  if (t === '16') return undefined; // flash is not a digit
  return parseDtmfDigit(t);
}

/** Parse an INFO body given its Content-Type (parameters and case ignored). */
export function parseDtmfInfo(contentType: string, body: string | Uint8Array): DtmfInfoResult {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (text.length > 1024) return { ok: false, error: 'DTMF INFO body too long' };
  if (type === DTMF_CONTENT_TYPE) {
    const d = parseSignal(text);
    return d === undefined ? { ok: false, error: `not a DTMF digit: ${JSON.stringify(text.trim())}` } : { ok: true, value: { digit: d, durationMs: DEFAULT_INFO_DURATION_MS } };
  }
  if (type !== DTMF_RELAY_CONTENT_TYPE) return { ok: false, error: `unsupported DTMF INFO content type: ${type}` };
  let digit: DtmfDigit | undefined;
  let durationMs = DEFAULT_INFO_DURATION_MS;
  let sawSignal = false;
  for (const raw of text.split(/\r\n|\n|\r/)) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) return { ok: false, error: `malformed dtmf-relay line: ${JSON.stringify(line)}` };
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') {
      sawSignal = true;
      digit = parseSignal(value);
      if (digit === undefined) return { ok: false, error: `not a DTMF digit: Signal=${value}` };
    } else if (key === 'duration') {
      if (!/^\d{1,6}$/.test(value)) return { ok: false, error: `bad Duration: ${value}` };
      durationMs = Math.min(Number(value), MAX_INFO_DURATION_MS);
    }
    // other keys are ignored for forward compatibility
  }
  if (!sawSignal || digit === undefined) return { ok: false, error: 'dtmf-relay body without Signal=' };
  return { ok: true, value: { digit, durationMs } };
}

export function formatDtmfRelay(info: DtmfInfo): { readonly contentType: string; readonly body: string } {
  return { contentType: DTMF_RELAY_CONTENT_TYPE, body: `Signal=${info.digit}\r\nDuration=${Math.round(info.durationMs)}\r\n` };
}

export function formatDtmf(digit: DtmfDigit): { readonly contentType: string; readonly body: string } {
  return { contentType: DTMF_CONTENT_TYPE, body: `${digit}\r\n` };
}
