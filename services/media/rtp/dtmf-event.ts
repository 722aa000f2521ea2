/** RFC 4733 §2.3 telephone-event payload: event, E bit, volume, duration. */

const DIGITS = '0123456789*#ABCD';

export interface TelephoneEvent {
  /** '0'-'9', '*', '#', 'A'-'D'; other events (flash, tones) as 'event:<n>' */
  digit: string;
  end: boolean;
  volume: number;
  /** timestamp units */
  duration: number;
}

export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  const event = payload[0] ?? 0;
  const flags = payload[1] ?? 0;
  return {
    digit: event < 16 ? DIGITS[event] ?? '' : event === 16 ? 'flash' : `event:${event}`,
    end: (flags & 0x80) !== 0,
    volume: flags & 0x3f,
    duration: ((payload[2] ?? 0) << 8) | (payload[3] ?? 0),
  };
}

/** Builds one RFC 4733 payload (4 bytes). */
export function telephoneEventPayload(digit: string, end: boolean, duration: number, volume = 10): Uint8Array {
  const ev = DIGITS.indexOf(digit.toUpperCase());
  if (ev < 0 || digit.length !== 1) throw new RangeError(`not a DTMF digit: ${digit}`);
  return new Uint8Array([ev, (end ? 0x80 : 0) | (volume & 0x3f), (duration >> 8) & 0xff, duration & 0xff]);
}
