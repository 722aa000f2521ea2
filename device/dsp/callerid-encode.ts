/**
 * Caller ID as the FXS port sends it to the phone: a Multiple Data Message Format (MDMF) message
 * with the date and time, the calling number and the calling name, modulated in Bell 202 FSK
 * (Telcordia GR-30-CORE, US and Mexico) or V.23 FSK (ETSI EN 300 659-1/-3, France, Sweden, the UK).
 *
 * On-hook ("type I", between the first and second ring): channel seizure (300 alternating bits),
 * 180 mark bits, the message. Off-hook ("type II", call waiting, GR-575 / EN 300 659-2): no seizure,
 * 80 mark bits, the message, sent once the phone acknowledged the alerting tone.
 */
import type { Country } from '../../services/media/tones/table.js';
import { characterBits, modulate, type FskStandard } from './fsk.js';

/** MDMF parameter types, the same in GR-30 and EN 300 659-3 for these. */
export const PARAM = {
  dateTime: 0x01,
  number: 0x02,
  numberAbsent: 0x04,
  name: 0x07,
  nameAbsent: 0x08,
} as const;

/** Message types: 0x80 MDMF call setup, 0x04 the older single data message (decoded, never sent). */
export const MDMF = 0x80;
export const SDMF = 0x04;

export interface CallerId {
  /** Digits (and '+'); null when the caller withheld it ('P') or it is unknown ('O'). */
  number: string | null;
  name: string | null;
  /** Why the number is missing: private or out of area. */
  numberAbsent?: 'private' | 'unavailable';
  /** Local time of the call (month, day, hour, minute as sent). */
  when: Date;
}

export function fskStandardOf(country: Country): FskStandard {
  return country === 'US' || country === 'MX' ? 'bell202' : 'v23';
}

/** Printable ASCII only (GR-30 §5.3): anything else becomes '?' rather than a byte the phone misreads. */
function ascii(text: string, max: number): number[] {
  const out: number[] = [];
  for (const ch of text) {
    if (out.length >= max) break;
    const c = ch.codePointAt(0) ?? 0x3f;
    out.push(c >= 0x20 && c < 0x7f ? c : 0x3f);
  }
  return out;
}

function two(n: number): number[] {
  const s = String(n).padStart(2, '0');
  return [s.charCodeAt(0), s.charCodeAt(1)];
}

/** The MDMF message bytes, checksum included (two's complement of the sum of every byte before it). */
export function mdmfMessage(id: CallerId): Uint8Array {
  const params: number[] = [];
  const add = (type: number, value: number[]): void => {
    params.push(type, value.length, ...value);
  };
  const t = id.when;
  add(PARAM.dateTime, [...two(t.getMonth() + 1), ...two(t.getDate()), ...two(t.getHours()), ...two(t.getMinutes())]);
  const number = id.number === null ? null : id.number.replace(/[^0-9+*#]/g, '');
  if (number !== null && number.length > 0) add(PARAM.number, ascii(number, 20));
  else add(PARAM.numberAbsent, [id.numberAbsent === 'private' ? 0x50 : 0x4f]);
  if (id.name !== null && id.name.trim().length > 0) add(PARAM.name, ascii(id.name.trim(), 15));
  else if (id.numberAbsent === 'private') add(PARAM.nameAbsent, [0x50]);
  const body = [MDMF, params.length, ...params];
  const sum = body.reduce((a, b) => a + b, 0);
  body.push((256 - (sum % 256)) % 256);
  return Uint8Array.from(body);
}

export interface EncodeOptions {
  /** Off-hook (call waiting): no channel seizure and a short mark. */
  offHook?: boolean;
  levelDbm0?: number;
}

/** The bit stream of a caller ID transmission (seizure, mark, characters). */
export function callerIdBits(message: Uint8Array, options: EncodeOptions = {}): number[] {
  const bits: number[] = [];
  if (options.offHook !== true) for (let i = 0; i < 300; i++) bits.push(i % 2);
  const marks = options.offHook === true ? 80 : 180;
  for (let i = 0; i < marks; i++) bits.push(1);
  for (const byte of message) bits.push(...characterBits(byte));
  // A few trailing mark bits so the last stop bit is not cut by the ramp of whatever follows.
  for (let i = 0; i < 4; i++) bits.push(1);
  return bits;
}

/** 8 kHz PCM of a caller ID transmission for `country`'s standard. */
export function encodeCallerId(id: CallerId, country: Country, options: EncodeOptions = {}): Int16Array {
  return modulate(callerIdBits(mdmfMessage(id), options), fskStandardOf(country), options.levelDbm0 ?? -13);
}
