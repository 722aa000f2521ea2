/**
 * The seeds' rule for numbers: the first number assigned to each user is included in the user's
 * subscription; every other number costs 9.95 €/month, VAT included. "Assigned to a user" = the
 * user's direct number, or a number mapped to `extension:N`; the user's direct number (else the
 * oldest) is the included one. The main number is the account's and is included too; numbers
 * mapped to a receptionist, ring group or conference room are additional numbers.
 */
import type { Destination } from '../../store/destination.js';
import type { ExtensionRouting, PhoneNumber } from '../../store/types.js';

/** Cents, to keep sums exact. */
export const ADDITIONAL_NUMBER_CENTS = 995;
export const CURRENCY = 'EUR';

export type PriceReason = 'included: first number of user' | 'included: main number' | 'additional number';

export interface PricedNumber {
  number: string;
  destination: Destination;
  /** The user the number counts against, null when it is not a user's. */
  user: string | null;
  monthlyCents: number;
  reason: PriceReason;
}

export interface NumberBill {
  numbers: PricedNumber[];
  monthlyCents: number;
  currency: typeof CURRENCY;
  vatIncluded: true;
}

export function priceNumbers(numbers: readonly PhoneNumber[], routing: readonly ExtensionRouting[], mainNumber: string | null): NumberBill {
  const userOf = new Map<string, string>();
  for (const r of routing) if (r.directNumber !== null) userOf.set(r.directNumber, r.extension);
  for (const n of numbers) if (!userOf.has(n.number) && n.destination.kind === 'extension') userOf.set(n.number, n.destination.number);
  const included = new Set<string>();
  const seenUsers = new Set<string>();
  // Direct numbers first, then the others in the order they were added (the list is oldest first).
  for (const r of routing) {
    if (r.directNumber !== null && numbers.some((n) => n.number === r.directNumber)) {
      included.add(r.directNumber);
      seenUsers.add(r.extension);
    }
  }
  for (const n of numbers) {
    const user = userOf.get(n.number);
    if (user !== undefined && !seenUsers.has(user)) {
      seenUsers.add(user);
      included.add(n.number);
    }
  }
  const priced = numbers.map((n): PricedNumber => {
    const user = userOf.get(n.number) ?? null;
    if (included.has(n.number)) return { number: n.number, destination: n.destination, user, monthlyCents: 0, reason: 'included: first number of user' };
    if (n.number === mainNumber) return { number: n.number, destination: n.destination, user, monthlyCents: 0, reason: 'included: main number' };
    return { number: n.number, destination: n.destination, user, monthlyCents: ADDITIONAL_NUMBER_CENTS, reason: 'additional number' };
  });
  return { numbers: priced, monthlyCents: priced.reduce((sum, n) => sum + n.monthlyCents, 0), currency: CURRENCY, vatIncluded: true };
}

/** "9.95 €" as the seeds write prices (the same in every UI language of the box). */
export function formatEuros(cents: number): string {
  return `${(cents / 100).toFixed(2)} €`;
}
