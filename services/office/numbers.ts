/**
 * The office's numbers as pbxctl and the web UI edit them: typed in any usual form and stored in
 * E.164, pointed at a destination that must exist, the main number, each user's direct number and
 * international permission, and the monthly price. One implementation, so both editors validate
 * the same way; errors are StoreErrors ('invalid' for what the user typed, 'not-found', 'conflict').
 */
import { DestinationError, formatDestination, parseDestination, type Destination } from '../store/destination.js';
import { MAIN_NUMBER_SETTING, mainNumber } from '../pbx/routing/main-number.js';
import { displayNumber, toE164, type CountryCode } from '../pbx/routing/phone-numbers.js';
import { priceNumbers, type PriceReason } from '../pbx/routing/pricing.js';
import { StoreError, type ExtensionRouting, type PhoneNumber, type Store } from '../store/types.js';

type NumberStore = Pick<Store, 'numbers' | 'extensions' | 'settings' | 'extensionRouting' | 'routing' | 'transaction'>;

export function e164(text: string, country: CountryCode): string {
  const number = toE164(text, country);
  if (number === null) throw new StoreError('invalid', `"${text}" is not a valid phone number for ${country} (write it as dialled there, or in international form +...)`);
  return number;
}

/** A destination from its text (`extension:101`); an extension or voicemail box must exist. */
export function destination(store: Pick<Store, 'extensions' | 'routing'>, text: string): Destination {
  let parsed: Destination;
  try {
    parsed = parseDestination(text);
  } catch (error) {
    if (error instanceof DestinationError) throw new StoreError('invalid', error.message);
    throw error;
  }
  const missing = missingTarget(store, parsed);
  if (missing !== null) throw new StoreError('not-found', missing);
  return parsed;
}

function missingTarget(store: Pick<Store, 'extensions'>, d: Destination): string | null {
  switch (d.kind) {
    case 'extension':
    case 'voicemail': {
      const number = d.kind === 'extension' ? d.number : d.extension;
      return store.extensions.get(number) === null ? `extension ${number} does not exist` : null;
    }
    // A ring group or receptionist may be named before it is created (pbxctl scripts set up numbers
    // first); until it exists its calls are refused and logged (services/pbx/routing/office.ts).
    default:
      return null;
  }
}

export function addNumber(store: NumberStore, country: CountryCode, number: string, to: string): PhoneNumber {
  return store.numbers.add(e164(number, country), destination(store, to));
}

export function pointNumber(store: NumberStore, country: CountryCode, number: string, to: string): PhoneNumber {
  const n = e164(number, country);
  const updated = store.numbers.setDestination(n, destination(store, to));
  if (updated === null) throw new StoreError('not-found', `number ${n} does not exist`);
  return updated;
}

export function removeNumber(store: NumberStore, country: CountryCode, number: string): string {
  const n = e164(number, country);
  return store.transaction(() => {
    if (!store.numbers.remove(n)) throw new StoreError('not-found', `number ${n} does not exist`);
    if (mainNumber(store.settings) === n) store.settings.set(MAIN_NUMBER_SETTING, null);
    return n;
  });
}

export function setMainNumber(store: NumberStore, country: CountryCode, number: string): string {
  const n = e164(number, country);
  if (store.numbers.get(n) === null) throw new StoreError('not-found', `number ${n} does not exist (add it first)`);
  store.settings.set(MAIN_NUMBER_SETTING, n);
  return n;
}

/** The user's direct number (`null` clears it; a new number is created pointing at the user) and international permission. */
export function setExtensionRouting(
  store: NumberStore,
  country: CountryCode,
  extension: string,
  change: { international?: boolean; directNumber?: string | null },
): ExtensionRouting {
  if (store.extensions.get(extension) === null) throw new StoreError('not-found', `extension ${extension} does not exist`);
  return store.transaction(() => {
    let directNumber: string | null | undefined;
    if (change.directNumber === null) directNumber = null;
    else if (change.directNumber !== undefined) {
      directNumber = e164(change.directNumber, country);
      const existing = store.numbers.get(directNumber);
      // The direct number rings the user: create it pointing there, or check it already does.
      if (existing === null) store.numbers.add(directNumber, { kind: 'extension', number: extension });
      else if (!(existing.destination.kind === 'extension' && existing.destination.number === extension)) {
        throw new StoreError('conflict', `${directNumber} points to ${formatDestination(existing.destination)}; re-point it to extension:${extension} first`);
      }
    }
    return store.extensionRouting.set(extension, {
      ...(change.international !== undefined && { international: change.international }),
      ...(directNumber !== undefined && { directNumber }),
    });
  });
}

export interface NumberLine {
  number: string;
  national: string;
  destination: string;
  user: string | null;
  main: boolean;
  monthlyCents: number;
  reason: PriceReason;
}

export function listNumbers(store: NumberStore, country: CountryCode): { numbers: NumberLine[]; monthlyCents: number } {
  const main = mainNumber(store.settings);
  const bill = priceNumbers(store.numbers.list(), store.extensionRouting.list(), main);
  return {
    numbers: bill.numbers.map((n) => ({
      number: n.number,
      national: displayNumber(n.number, country),
      destination: formatDestination(n.destination),
      user: n.user,
      main: n.number === main,
      monthlyCents: n.monthlyCents,
      reason: n.reason,
    })),
    monthlyCents: bill.monthlyCents,
  };
}
