/**
 * Phone numbers at the edge: whatever a technician types or a carrier sends, parsed with
 * libphonenumber-js (full metadata, `/max`, so number types are known) into E.164, never with a
 * home-made pattern. The box's country (config `country`) decides how national numbers read.
 */
import { getCountryCallingCode, isSupportedCountry, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';

export type { CountryCode };

export class CountryError extends Error {}

/** The config's country as libphonenumber's type; an unknown one is a configuration error. */
export function countryCode(country: string): CountryCode {
  if (!isSupportedCountry(country)) throw new CountryError(`country ${country} is not known to libphonenumber-js`);
  return country;
}

export function callingCode(country: CountryCode): string {
  return getCountryCallingCode(country);
}

/** A valid number as typed ("+52 55 1234 5678", "55 1234 5678" in MX, "0033 1 42..." in FR), or null. */
export function parseNumber(text: string, country: CountryCode): PhoneNumber | null {
  let parsed: PhoneNumber | undefined;
  try {
    parsed = parsePhoneNumberFromString(text, country);
  } catch {
    return null;
  }
  return parsed !== undefined && parsed.isValid() ? parsed : null;
}

/** E.164 of a valid number, or null. */
export function toE164(text: string, country: CountryCode): string | null {
  return parseNumber(text, country)?.number ?? null;
}

/** How people of `country` write the number: national form at home, international otherwise. */
export function displayNumber(e164: string, country: CountryCode): string {
  const parsed = parsePhoneNumberFromString(e164);
  if (parsed === undefined) return e164;
  return parsed.country === country ? parsed.formatNational() : parsed.formatInternational();
}
