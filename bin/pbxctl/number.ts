/**
 * `pbxctl number add|set|list|remove|main` and `pbxctl extension set`: the office's phone numbers
 * (typed in any usual form, stored in E.164 via libphonenumber-js with the box's country), where each
 * points, the per-user direct number and international permission, and the price of the numbers.
 */
import { DestinationError, formatDestination, parseDestination, type Destination } from '../../services/store/destination.js';
import { MAIN_NUMBER_SETTING, mainNumber } from '../../services/pbx/routing/main-number.js';
import { countryCode, displayNumber, toE164, type CountryCode } from '../../services/pbx/routing/phone-numbers.js';
import { formatEuros, priceNumbers } from '../../services/pbx/routing/pricing.js';
import type { Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const numberCommands: CommandGroup = {
  name: 'number',
  usage: `  number add NUMBER --to DEST    DEST: extension:101, ring-group:NAME, receptionist:NAME, conference:ROOM, voicemail:101, fax:101
  number set NUMBER --to DEST    re-point a number (takes effect on the next call)
  number list [--json]           numbers, where they go, and their monthly price
  number remove NUMBER
  number main NUMBER             the main number: caller ID of users without a direct number`,
  options: {
    to: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    const country = countryCode(config.country);
    if (sub === 'add') return withStore(config, (store) => numberAdd(store, country, rest, values, json));
    if (sub === 'set') return withStore(config, (store) => numberSet(store, country, rest, values, json));
    if (sub === 'list') return withStore(config, (store) => numberList(store, country, rest, json));
    if (sub === 'remove') return withStore(config, (store) => numberRemove(store, country, rest, json));
    if (sub === 'main') return withStore(config, (store) => numberMain(store, country, rest, json));
    throw new UsageError(sub ? `unknown number command: ${sub}` : 'number needs a command: add, set, list, remove, main');
  },
};

/** The number as E.164, or a usage error saying how to write it. */
export function e164Argument(text: string, country: CountryCode): string {
  const e164 = toE164(text, country);
  if (e164 === null) throw new UsageError(`"${text}" is not a valid phone number for ${country} (write it as dialled there, or in international form +...)`);
  return e164;
}

function destinationOption(store: Store, values: CliValues): Destination {
  const text = stringOption(values, 'to');
  if (text === undefined) throw new UsageError('--to DEST is required (e.g. --to extension:101)');
  let destination: Destination;
  try {
    destination = parseDestination(text);
  } catch (error) {
    if (error instanceof DestinationError) throw new UsageError(error.message);
    throw error;
  }
  const owner = destination.kind === 'extension' ? destination.number : destination.kind === 'voicemail' || destination.kind === 'fax' ? destination.extension : null;
  if (owner !== null && store.extensions.get(owner) === null) throw new Failure(`extension ${owner} does not exist`);
  return destination;
}

function numberAdd(store: Store, country: CountryCode, args: string[], values: CliValues, json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number add');
  const e164 = e164Argument(text as string, country);
  const added = store.numbers.add(e164, destinationOption(store, values));
  if (json) printJson({ number: added.number, destination: formatDestination(added.destination) });
  else out(`number ${added.number} (${displayNumber(added.number, country)}) → ${formatDestination(added.destination)}`);
}

function numberSet(store: Store, country: CountryCode, args: string[], values: CliValues, json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number set');
  const e164 = e164Argument(text as string, country);
  const updated = store.numbers.setDestination(e164, destinationOption(store, values));
  if (updated === null) throw new Failure(`number ${e164} does not exist (pbxctl number add)`);
  if (json) printJson({ number: updated.number, destination: formatDestination(updated.destination) });
  else out(`number ${updated.number} → ${formatDestination(updated.destination)}`);
}

function numberList(store: Store, country: CountryCode, args: string[], json: boolean): void {
  positionals(args, [], 'number list');
  const main = mainNumber(store.settings);
  const bill = priceNumbers(store.numbers.list(), store.extensionRouting.list(), main);
  if (json) {
    printJson({
      numbers: bill.numbers.map((n) => ({
        number: n.number,
        national: displayNumber(n.number, country),
        destination: formatDestination(n.destination),
        user: n.user,
        main: n.number === main,
        monthlyPrice: (n.monthlyCents / 100).toFixed(2),
        reason: n.reason,
      })),
      monthlyTotal: (bill.monthlyCents / 100).toFixed(2),
      currency: bill.currency,
      vatIncluded: bill.vatIncluded,
    });
    return;
  }
  if (bill.numbers.length === 0) {
    out('no numbers');
    return;
  }
  out(
    table(
      ['NUMBER', 'AS DIALLED', 'DESTINATION', 'USER', 'PER MONTH', 'WHY'],
      bill.numbers.map((n) => [n.number + (n.number === main ? ' (main)' : ''), displayNumber(n.number, country), formatDestination(n.destination), n.user ?? '-', formatEuros(n.monthlyCents), n.reason]),
    ),
  );
  out(`total per month: ${formatEuros(bill.monthlyCents)} (VAT included)`);
}

function numberRemove(store: Store, country: CountryCode, args: string[], json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number remove');
  const e164 = e164Argument(text as string, country);
  if (!store.numbers.remove(e164)) throw new Failure(`number ${e164} does not exist`);
  if (mainNumber(store.settings) === e164) store.settings.set(MAIN_NUMBER_SETTING, null);
  if (json) printJson({ removed: e164 });
  else out(`number ${e164} removed`);
}

function numberMain(store: Store, country: CountryCode, args: string[], json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number main');
  const e164 = e164Argument(text as string, country);
  if (store.numbers.get(e164) === null) throw new Failure(`number ${e164} does not exist (pbxctl number add ${e164} --to ...)`);
  store.settings.set(MAIN_NUMBER_SETTING, e164);
  if (json) printJson({ main: e164 });
  else out(`main number is ${e164}`);
}

/** `pbxctl extension set NUMBER [--international on|off] [--did NUMBER|none]` (hooked in extension.ts). */
export function extensionSet(store: Store, countryText: string, args: string[], values: CliValues, json: boolean): void {
  const country = countryCode(countryText);
  const [extension] = positionals(args, ['NUMBER'], 'extension set');
  const international = stringOption(values, 'international');
  const did = stringOption(values, 'did');
  if (international === undefined && did === undefined) throw new UsageError('extension set needs --international on|off and/or --did NUMBER|none');
  if (international !== undefined && international !== 'on' && international !== 'off') throw new UsageError('--international must be on or off');
  if (store.extensions.get(extension as string) === null) throw new Failure(`extension ${extension} does not exist`);
  const result = store.transaction(() => {
    let directNumber: string | null | undefined;
    if (did === 'none') directNumber = null;
    else if (did !== undefined) {
      directNumber = e164Argument(did, country);
      const existing = store.numbers.get(directNumber);
      // The direct number rings the user: create it pointing there, or check it already does.
      if (existing === null) store.numbers.add(directNumber, { kind: 'extension', number: extension as string });
      else if (!(existing.destination.kind === 'extension' && existing.destination.number === extension)) {
        throw new Failure(`${directNumber} points to ${formatDestination(existing.destination)}; re-point it first: pbxctl number set ${directNumber} --to extension:${extension}`);
      }
    }
    return store.extensionRouting.set(extension as string, {
      ...(international !== undefined && { international: international === 'on' }),
      ...(directNumber !== undefined && { directNumber }),
    });
  });
  if (json) printJson(result);
  else out(`extension ${result.extension}: direct number ${result.directNumber ?? 'none'}, international and premium calls ${result.international ? 'allowed' : 'not allowed'}`);
}

export const extensionSetOptions = {
  international: { type: 'string' },
  did: { type: 'string' },
} as const;
