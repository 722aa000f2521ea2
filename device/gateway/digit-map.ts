/**
 * When has the analog phone finished dialling? An ATA's digit map, built from what the box knows:
 * '#' ends the number; an emergency number goes at once (nothing waits on 911/112/15); an internal
 * number (extension, ring group, receptionist) goes at once when no longer one starts with it; an
 * outside number goes once libphonenumber says no digit more could make it valid; anything else
 * goes after the inter-digit timeout.
 */
import { validatePhoneNumberLength, type CountryCode } from 'libphonenumber-js/max';
import { emergencyNumbers } from '../../services/pbx/routing/emergency.js';
import { parseNumber } from '../../services/pbx/routing/phone-numbers.js';

export type DialVerdict = { kind: 'complete'; number: string } | { kind: 'more' };

export function dialVerdict(digits: string, country: CountryCode, internal: readonly string[]): DialVerdict {
  if (digits.endsWith('#') && digits.length > 1 && !digits.startsWith('*')) return { kind: 'complete', number: digits.slice(0, -1) };
  if (digits.endsWith('#') && digits.startsWith('*') && digits.length > 2) return { kind: 'complete', number: digits.slice(0, -1) };
  const emergency = emergencyNumbers(country);
  if (emergency.includes(digits) && !emergency.some((e) => e !== digits && e.startsWith(digits))) return { kind: 'complete', number: digits };
  const longerInternal = internal.some((n) => n !== digits && n.startsWith(digits));
  if (internal.includes(digits) && !longerInternal) return { kind: 'complete', number: digits };
  if (!longerInternal && digits.length >= 7 && parseNumber(digits, country) !== null) {
    // Valid now; if one more digit makes it too long, the number is complete.
    if (validatePhoneNumberLength(`${digits}0`, country) === 'TOO_LONG') return { kind: 'complete', number: digits };
  }
  return { kind: 'more' };
}
