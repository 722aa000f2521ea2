/**
 * What an outside number dialled on a phone is: emergency (our own table, first), then national,
 * mobile, toll-free, international or premium-rate as libphonenumber-js classifies it, always as
 * E.164 toward the trunk. International and premium need the caller's permission (toll fraud).
 */
import { isEmergencyNumber } from './emergency.js';
import { callingCode, parseNumber, type CountryCode } from './phone-numbers.js';

export type OutboundCall =
  | { kind: 'emergency'; dial: string }
  | { kind: 'national' | 'mobile' | 'toll-free'; e164: string }
  | { kind: 'international' | 'premium'; e164: string }
  | { kind: 'invalid' };

export type OutboundKind = OutboundCall['kind'];

/** Kinds a user may call only with `--international on`. */
export function needsInternationalPermission(call: OutboundCall): call is Extract<OutboundCall, { kind: 'international' | 'premium' }> {
  return call.kind === 'international' || call.kind === 'premium';
}

/**
 * Mexico dropped its mobile (044/045) and long-distance (01) prefixes in 2019, but phones and
 * habits still dial them and libphonenumber-js does not strip them (see DEPENDENCIES.md).
 */
function withoutLegacyMexicanPrefix(dialled: string): string {
  for (const prefix of ['044', '045']) if (dialled.startsWith(prefix) && dialled.length === prefix.length + 10) return dialled.slice(prefix.length);
  if (dialled.startsWith('01') && dialled.length === 12) return dialled.slice(2);
  return dialled;
}

export function classifyOutbound(dialled: string, country: CountryCode): OutboundCall {
  if (isEmergencyNumber(dialled, country)) return { kind: 'emergency', dial: dialled };
  const text = country === 'MX' ? withoutLegacyMexicanPrefix(dialled) : dialled;
  const number = parseNumber(text, country);
  if (number === null) return { kind: 'invalid' };
  const type = number.getType();
  if (type === 'PREMIUM_RATE') return { kind: 'premium', e164: number.number };
  // By country, not by calling code: +1 876 (Jamaica) shares +1 with the US and is a classic toll-fraud
  // destination, so inside a shared calling code another country is still international.
  if (number.country !== country || number.countryCallingCode !== callingCode(country)) return { kind: 'international', e164: number.number };
  if (type === 'TOLL_FREE') return { kind: 'toll-free', e164: number.number };
  if (type === 'MOBILE') return { kind: 'mobile', e164: number.number };
  return { kind: 'national', e164: number.number };
}
