/**
 * What the FXO port dials on the landline for a number the pbx hands it: emergency numbers as they
 * are, the country's own numbers in national form (with its trunk prefix: 0 in FR/SE/GB), others with
 * the international call prefix (ITU-T E.164 Annex: 011 in the NANP, 00 elsewhere).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const INTERNATIONAL_PREFIX: Readonly<Record<string, string>> = { US: '011', CA: '011' };

/** Digits to dial, or null when `target` is nothing dialable (the call is refused 484). */
export function landlineDigits(target: string, country: string): string | null {
  const text = target.replace(/[-.() ]/g, '');
  if (/^[0-9*#]{1,15}$/.test(text)) return text;
  if (!/^\+[1-9][0-9]{5,14}$/.test(text)) return null;
  const number = parsePhoneNumberFromString(text);
  if (number === undefined) return null;
  if (number.country === country) return number.formatNational().replace(/[^0-9]/g, '');
  return (INTERNATIONAL_PREFIX[country] ?? '00') + text.slice(1);
}
