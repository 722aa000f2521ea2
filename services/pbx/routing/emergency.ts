/**
 * Emergency numbers per country. libphonenumber-js does not know short numbers at all (911, 112,
 * 15 and 999 come back invalid), so this table is ours and is checked before anything else: an
 * emergency call must never depend on a permission, a parse or a trunk's mood.
 *
 * Sources: national regulators' lists (ITU-T E.161.1 for 112/911; Arcep for France's 15/17/18/114/115/
 * 119/191/196/197; the IFT for Mexico's 911 and the legacy 066/065/060/080; Ofcom for 999; PTS for 112).
 */

/** Dialled everywhere the box is installed (GSM-era habit: 112 works in the US on mobiles, 911 in MX). */
const EVERYWHERE = ['112', '911'] as const;

const NATIONAL: Readonly<Record<string, readonly string[]>> = {
  US: [],
  MX: ['066', '065', '060', '080'],
  FR: ['15', '17', '18', '114', '115', '119', '191', '196', '197', '116000'],
  SE: [],
  GB: ['999'],
};

/** The emergency numbers of `country` (the universal ones included). */
export function emergencyNumbers(country: string): readonly string[] {
  return [...EVERYWHERE, ...(NATIONAL[country] ?? [])];
}

export function isEmergencyNumber(dialled: string, country: string): boolean {
  return emergencyNumbers(country).includes(dialled);
}

/** Countries whose dial plan the docs and tests cover (others work with the universal numbers). */
export const COUNTRIES_WITH_TABLES = Object.keys(NATIONAL);
