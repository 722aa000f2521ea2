/**
 * Caller ID as the FXO port hears it from the central office between the first and second ring:
 * FSK demodulated (Bell 202 or V.23), then the first message with a valid checksum — MDMF (0x80) or
 * the older SDMF (0x04, date/time then number) — parsed into typed fields. Bytes from the line are
 * untrusted input: a bad length, checksum or parameter yields null, never an exception.
 */
import { demodulate, type FskStandard } from './fsk.js';
import { MDMF, PARAM, SDMF } from './callerid-encode.js';

export interface DecodedCallerId {
  number: string | null;
  name: string | null;
  /** 'MMDDHHMM' as sent. */
  dateTime: string | null;
  numberAbsent: 'private' | 'unavailable' | null;
}

function text(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?';
  return s;
}

/** Parses one message (type, length, payload, checksum); null when it is not a valid caller ID message. */
export function parseCallerIdMessage(bytes: Uint8Array): DecodedCallerId | null {
  const type = bytes[0];
  const length = bytes[1];
  if ((type !== MDMF && type !== SDMF) || length === undefined || bytes.length < length + 3) return null;
  let sum = 0;
  for (let i = 0; i < length + 3; i++) sum += bytes[i] as number;
  if (sum % 256 !== 0) return null;
  const payload = bytes.subarray(2, 2 + length);
  const result: DecodedCallerId = { number: null, name: null, dateTime: null, numberAbsent: null };
  if (type === SDMF) {
    if (payload.length < 8) return null;
    result.dateTime = text(payload.subarray(0, 8));
    const rest = text(payload.subarray(8));
    if (rest === 'P') result.numberAbsent = 'private';
    else if (rest === 'O') result.numberAbsent = 'unavailable';
    else result.number = rest;
    return result;
  }
  let i = 0;
  while (i < payload.length) {
    const ptype = payload[i] as number;
    const plen = payload[i + 1];
    if (plen === undefined || i + 2 + plen > payload.length) return null;
    const value = payload.subarray(i + 2, i + 2 + plen);
    switch (ptype) {
      case PARAM.dateTime:
        result.dateTime = text(value);
        break;
      case PARAM.number:
        result.number = text(value);
        break;
      case PARAM.numberAbsent:
        result.numberAbsent = value[0] === 0x50 ? 'private' : 'unavailable';
        break;
      case PARAM.name:
        result.name = text(value);
        break;
      default:
        break; // other parameters (call type, redirecting number ...) are skipped
    }
    i += 2 + plen;
  }
  return result;
}

/** Finds and parses the first valid caller ID message in demodulated audio. */
export function decodeCallerId(pcm: Int16Array, standard: FskStandard): DecodedCallerId | null {
  const bytes = Uint8Array.from(demodulate(pcm, standard).map((c) => c.byte));
  for (let start = 0; start < bytes.length; start++) {
    const b = bytes[start];
    if (b !== MDMF && b !== SDMF) continue;
    const parsed = parseCallerIdMessage(bytes.subarray(start));
    if (parsed !== null) return parsed;
  }
  return null;
}

/** Either standard: the one that yields a valid message (an FXO line's standard is not always known). */
export function decodeCallerIdAny(pcm: Int16Array, preferred: FskStandard): DecodedCallerId | null {
  return decodeCallerId(pcm, preferred) ?? decodeCallerId(pcm, preferred === 'bell202' ? 'v23' : 'bell202');
}
