/**
 * `pbxctl number add|set|list|remove|main` and `pbxctl extension set`: the office's phone numbers
 * (typed in any usual form, stored in E.164 via libphonenumber-js with the box's country), where each
 * points, the per-user direct number and international permission, and the price of the numbers.
 */
import { addNumber, listNumbers, pointNumber, removeNumber, setExtensionRouting, setMainNumber } from '../../services/office/numbers.js';
import { formatDestination } from '../../services/store/destination.js';
import { countryCode, displayNumber, type CountryCode } from '../../services/pbx/routing/phone-numbers.js';
import { CURRENCY, formatEuros } from '../../services/pbx/routing/pricing.js';
import type { ExtensionRouting, Store } from '../../services/store/index.js';
import { out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const numberCommands: CommandGroup = {
  name: 'number',
  usage: `  number add NUMBER --to DEST    DEST: extension:101, ring-group:NAME, receptionist:NAME, conference:ROOM, voicemail:101
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

function toText(values: CliValues): string {
  const text = stringOption(values, 'to');
  if (text === undefined) throw new UsageError('--to DEST is required (e.g. --to extension:101)');
  return text;
}

function numberAdd(store: Store, country: CountryCode, args: string[], values: CliValues, json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number add');
  const added = addNumber(store, country, text as string, toText(values));
  if (json) printJson({ number: added.number, destination: formatDestination(added.destination) });
  else out(`number ${added.number} (${displayNumber(added.number, country)}) → ${formatDestination(added.destination)}`);
}

function numberSet(store: Store, country: CountryCode, args: string[], values: CliValues, json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number set');
  const updated = pointNumber(store, country, text as string, toText(values));
  if (json) printJson({ number: updated.number, destination: formatDestination(updated.destination) });
  else out(`number ${updated.number} → ${formatDestination(updated.destination)}`);
}

function numberList(store: Store, country: CountryCode, args: string[], json: boolean): void {
  positionals(args, [], 'number list');
  const bill = listNumbers(store, country);
  if (json) {
    printJson({
      numbers: bill.numbers.map((n) => ({ ...n, monthlyCents: undefined, monthlyPrice: (n.monthlyCents / 100).toFixed(2) })),
      monthlyTotal: (bill.monthlyCents / 100).toFixed(2),
      currency: CURRENCY,
      vatIncluded: true,
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
      bill.numbers.map((n) => [n.number + (n.main ? ' (main)' : ''), n.national, n.destination, n.user ?? '-', formatEuros(n.monthlyCents), n.reason]),
    ),
  );
  out(`total per month: ${formatEuros(bill.monthlyCents)} (VAT included)`);
}

function numberRemove(store: Store, country: CountryCode, args: string[], json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number remove');
  const removed = removeNumber(store, country, text as string);
  if (json) printJson({ removed });
  else out(`number ${removed} removed`);
}

function numberMain(store: Store, country: CountryCode, args: string[], json: boolean): void {
  const [text] = positionals(args, ['NUMBER'], 'number main');
  const main = setMainNumber(store, country, text as string);
  if (json) printJson({ main });
  else out(`main number is ${main}`);
}

/** `pbxctl extension set NUMBER [--international on|off] [--did NUMBER|none]` (hooked in extension.ts). */
export function extensionSet(store: Store, countryText: string, args: string[], values: CliValues, json: boolean, print = true): ExtensionRouting {
  const country = countryCode(countryText);
  const [extension] = positionals(args, ['NUMBER'], 'extension set');
  const international = stringOption(values, 'international');
  const did = stringOption(values, 'did');
  if (international === undefined && did === undefined) throw new UsageError('extension set needs --international on|off and/or --did NUMBER|none');
  if (international !== undefined && international !== 'on' && international !== 'off') throw new UsageError('--international must be on or off');
  const result = setExtensionRouting(store, country, extension as string, {
    ...(international !== undefined && { international: international === 'on' }),
    ...(did !== undefined && { directNumber: did === 'none' ? null : did }),
  });
  if (!print) return result;
  if (json) printJson(result);
  else out(`extension ${result.extension}: direct number ${result.directNumber ?? 'none'}, international and premium calls ${result.international ? 'allowed' : 'not allowed'}`);
  return result;
}

export const extensionSetOptions = {
  international: { type: 'string' },
  did: { type: 'string' },
} as const;
