// DTMF digit set (ITU-T Q.23 frequency matrix) and its RFC 4733 §3.2 event codes.

export type DtmfDigit =
  | '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

/** Q.23 low (row) and high (column) group frequencies in Hz. */
export const DTMF_LOW = [697, 770, 852, 941] as const;
export const DTMF_HIGH = [1209, 1336, 1477, 1633] as const;

/** Keypad layout: DTMF_KEYPAD[row][col]. */
export const DTMF_KEYPAD: readonly (readonly DtmfDigit[])[] = [
  ['1', '2', '3', 'A'],
  ['4', '5', '6', 'B'],
  ['7', '8', '9', 'C'],
  ['*', '0', '#', 'D'],
];

/** RFC 4733 §3.2 table 1: event codes 0–15 (16 = flash is not a DTMF digit). */
export const DTMF_EVENT_CODES: readonly DtmfDigit[] = [
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

export const ALL_DTMF_DIGITS: readonly DtmfDigit[] = DTMF_EVENT_CODES;

export function isDtmfDigit(s: string): s is DtmfDigit {
  return s.length === 1 && '0123456789*#ABCD'.includes(s);
}

/** Parse a digit written by a user or a peer ('a'–'d' accepted); undefined when not a DTMF symbol. */
export function parseDtmfDigit(s: string): DtmfDigit | undefined {
  const u = s.trim().toUpperCase();
  return isDtmfDigit(u) ? u : undefined;
}

export function digitToEvent(d: DtmfDigit): number {
  return DTMF_EVENT_CODES.indexOf(d);
}

export function eventToDigit(code: number): DtmfDigit | undefined {
  return DTMF_EVENT_CODES[code];
}

export function digitFrequencies(d: DtmfDigit): { readonly low: number; readonly high: number } {
  for (let r = 0; r < 4; r++) {
    const c = (DTMF_KEYPAD[r] as readonly DtmfDigit[]).indexOf(d);
    if (c >= 0) return { low: DTMF_LOW[r] as number, high: DTMF_HIGH[c] as number };
  }
  throw new RangeError(`not a DTMF digit: ${d}`);
}
