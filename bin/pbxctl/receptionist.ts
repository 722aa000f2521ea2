/**
 * `pbxctl receptionist ...`: virtual receptionists (menus, schedule, greetings) in SQLite. The pbx
 * reads a receptionist at each call, so an edit applies to the next caller without a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { importGreeting } from '../../services/pbx/receptionist/greetings.js';
import { formatHours, menuAt, parseHours } from '../../services/pbx/receptionist/schedule.js';
import { LANGUAGES, StoreError, type Store } from '../../services/store/index.js';
import { LABELS, MENUS, type MenuName, type MenuOption, type Receptionist, type ReceptionistInput } from '../../services/store/routing-schema.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';
import { intOption, keepOrClear } from './ring-group.js';

export const receptionistCommands: CommandGroup = {
  name: 'receptionist',
  usage: `  receptionist add NAME [--extension NUMBER] [--timezone Europe/Stockholm] [--language ${LANGUAGES.join('|')}]
                           [--operator DEST] [--timeout SECONDS] [--attempts N]
  receptionist set NAME [the options of add]  (none clears --extension or --operator)
  receptionist hours NAME DAYS HH:MM-HH:MM     business hours, e.g. mon-fri 09:00-17:00 (adds); hours NAME clear
  receptionist holiday NAME YYYY-MM-DD [--remove]
  receptionist option NAME --menu ${MENUS.join('|')} DIGIT TARGET [--label ${LABELS.join('|')}]
                           TARGET: extension:101, ring-group:NAME, voicemail:101, conference:8001,
                           receptionist:NAME, dial-by-extension, repeat, operator, or none (removes)
  receptionist greeting NAME --menu ${MENUS.join('|')} FILE.wav|none   (any WAV; stored as 8 kHz mono)
  receptionist list [--json]
  receptionist show NAME [--json]
  receptionist remove NAME`,
  options: {
    timezone: { type: 'string' },
    operator: { type: 'string' },
    timeout: { type: 'string' },
    attempts: { type: 'string' },
    menu: { type: 'string' },
    label: { type: 'string' },
    remove: { type: 'boolean' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    const edit = (fn: (store: Store, r: Receptionist, args: string[]) => ReceptionistInput | Promise<ReceptionistInput>, usage: string[]) =>
      withStore(config, async (store) => {
        const [name, ...args] = positionals(rest, ['NAME', ...usage], `receptionist ${sub}`);
        const current = store.routing.receptionists.get(name as string);
        if (current === null) throw new Failure(`receptionist ${name} does not exist`);
        const saved = store.routing.receptionists.put(await fn(store, current, args), { replace: true });
        if (json) printJson(saved);
        else out(show(saved));
      });
    switch (sub) {
      case 'add':
        return withStore(config, (store) => add(store, rest, values, json, config.defaultLanguage));
      case 'set':
        return edit((_s, r) => settings(r, values), []);
      case 'hours':
        if (rest[1] === 'clear') return edit((_s, r) => ({ ...r, hours: [] }), ['clear']);
        return edit((_s, r, [days, span]) => ({ ...r, hours: mergeHours(r, days as string, span as string) }), ['DAYS', 'HH:MM-HH:MM']);
      case 'holiday':
        return edit(
          (_s, r, [date]) => ({
            ...r,
            holidays: values.remove === true ? r.holidays.filter((d) => d !== date) : [...new Set([...r.holidays, date as string])].sort(),
          }),
          ['YYYY-MM-DD'],
        );
      case 'option':
        return edit((_s, r, [digit, target]) => withOption(r, menuOf(values), digit as string, target as string, stringOption(values, 'label')), ['DIGIT', 'TARGET']);
      case 'greeting':
        return edit(async (_s, r, [file]) => {
          const menu = menuOf(values);
          let greeting: string | null = null;
          if (file !== 'none') {
            let bytes: Buffer;
            try {
              bytes = fs.readFileSync(path.resolve(file as string));
            } catch (error) {
              throw new Failure(`cannot read ${file}: ${(error as Error).message}`);
            }
            try {
              greeting = (await importGreeting(config.dataDir, r.name, menu, bytes)).file;
            } catch (error) {
              throw new StoreError('invalid', `${file} is not a usable WAV file: ${(error as Error).message}`);
            }
          }
          return { ...r, menus: { ...r.menus, [menu]: { ...r.menus[menu], greeting } } };
        }, ['FILE.wav']);
      case 'list':
        return withStore(config, (store) => {
          positionals(rest, [], 'receptionist list');
          const all = store.routing.receptionists.list();
          if (json) return printJson(all);
          if (all.length === 0) return out('no receptionists');
          out(
            table(
              ['NAME', 'NUMBER', 'TIMEZONE', 'LANG', 'NOW', 'BUSINESS KEYS', 'AFTER-HOURS KEYS'],
              all.map((r) => [r.name, r.extension ?? '-', r.timezone, r.language, menuAt(r, new Date()), keysOf(r, 'business'), keysOf(r, 'after-hours')]),
            ),
          );
        });
      case 'show':
        return withStore(config, (store) => {
          const [name] = positionals(rest, ['NAME'], 'receptionist show');
          const r = store.routing.receptionists.get(name as string);
          if (r === null) throw new Failure(`receptionist ${name} does not exist`);
          if (json) printJson({ ...r, menuNow: menuAt(r, new Date()) });
          else out(show(r));
        });
      case 'remove':
        return withStore(config, (store) => {
          const [name] = positionals(rest, ['NAME'], 'receptionist remove');
          if (!store.routing.receptionists.remove(name as string)) throw new Failure(`receptionist ${name} does not exist`);
          out(`receptionist ${name} removed`);
        });
      default:
        throw new UsageError(sub ? `unknown receptionist command: ${sub}` : 'receptionist needs a command: add, set, hours, holiday, option, greeting, list, show, remove');
    }
  },
};

function menuOf(values: CliValues): MenuName {
  const menu = stringOption(values, 'menu');
  if (menu === undefined) throw new UsageError(`--menu ${MENUS.join('|')} is needed`);
  if (!(MENUS as readonly string[]).includes(menu)) throw new UsageError(`--menu must be ${MENUS.join(' or ')}`);
  return menu as MenuName;
}

function settings(r: ReceptionistInput, values: CliValues): ReceptionistInput {
  return {
    ...r,
    extension: keepOrClear(stringOption(values, 'extension'), r.extension),
    timezone: stringOption(values, 'timezone') ?? r.timezone,
    language: (stringOption(values, 'language') ?? r.language) as ReceptionistInput['language'],
    operator: keepOrClear(stringOption(values, 'operator'), r.operator),
    timeoutSeconds: intOption(values, 'timeout') ?? r.timeoutSeconds,
    maxAttempts: intOption(values, 'attempts') ?? r.maxAttempts,
  };
}

function add(store: Store, args: string[], values: CliValues, json: boolean, defaultLanguage: string): void {
  const [name] = positionals(args, ['NAME'], 'receptionist add');
  const empty = { options: [], greeting: null };
  const input = settings(
    {
      name: name as string,
      extension: null,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      language: ((LANGUAGES as readonly string[]).includes(defaultLanguage) ? defaultLanguage : 'en') as ReceptionistInput['language'],
      hours: parseHours('mon-fri', '09:00-17:00'),
      holidays: [],
      menus: { business: empty, 'after-hours': empty },
      operator: null,
      timeoutSeconds: 5,
      maxAttempts: 3,
    },
    values,
  );
  const saved = store.routing.receptionists.put(input);
  if (json) printJson(saved);
  else out(`receptionist ${saved.name} added\n${show(saved)}`);
}

function mergeHours(r: Receptionist, days: string, span: string): ReceptionistInput['hours'] {
  let added;
  try {
    added = parseHours(days, span);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const key = (h: { day: number; opens: string; closes: string }): string => `${h.day} ${h.opens} ${h.closes}`;
  const all = new Map([...r.hours, ...added].map((h) => [key(h), h]));
  return [...all.values()].sort((a, b) => a.day - b.day || a.opens.localeCompare(b.opens));
}

function withOption(r: Receptionist, menu: MenuName, digit: string, target: string, label: string | undefined): ReceptionistInput {
  const others = r.menus[menu].options.filter((o) => o.digit !== digit);
  const options = target === 'none' ? others : [...others, { digit, target, ...(label !== undefined && { label }) } as MenuOption];
  return { ...r, menus: { ...r.menus, [menu]: { ...r.menus[menu], options } } };
}

function keysOf(r: Receptionist, menu: MenuName): string {
  return r.menus[menu].options.map((o) => `${o.digit}→${o.target}`).join(' ') || '-';
}

function show(r: Receptionist): string {
  const lines = [
    `receptionist ${r.name}${r.extension ? ` (number ${r.extension})` : ''}: ${r.timezone}, ${r.language}, now ${menuAt(r, new Date())}`,
    `  hours:     ${r.hours.map(formatHours).join(', ') || 'none (always after hours)'}`,
    `  holidays:  ${r.holidays.join(', ') || 'none'}`,
    `  operator:  ${r.operator ?? 'none'}; timeout ${r.timeoutSeconds} s, ${r.maxAttempts} attempts`,
  ];
  for (const menu of MENUS) {
    const m = r.menus[menu];
    lines.push(`  ${menu} menu: greeting ${m.greeting ?? 'default prompts'}`);
    for (const o of m.options) lines.push(`    ${o.digit}  ${o.target}${o.label ? ` ("${o.label}")` : ''}`);
  }
  return lines.join('\n');
}
