/** `pbxctl ring-group add|set|list|remove`: ring groups in SQLite; the pbx reads them at each call. */
import type { Store } from '../../services/store/index.js';
import { RING_STRATEGIES, type RingGroup, type RingGroupInput, type RingGroupMember } from '../../services/store/routing-schema.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const ringGroupCommands: CommandGroup = {
  name: 'ring-group',
  usage: `  ring-group add NAME --members 101,102[:SECONDS] [--strategy ${RING_STRATEGIES.join('|')}] [--ring-seconds N]
                           [--no-answer DEST] [--extension NUMBER]
                           (members ring in this order when sequential; 101:15 gives 101 its own ring time;
                            DEST: extension:101, ring-group:NAME, receptionist:NAME, conference:8001, voicemail:101, none)
  ring-group set NAME [the options of add]
  ring-group list [--json]
  ring-group remove NAME`,
  options: {
    members: { type: 'string' },
    strategy: { type: 'string' },
    'ring-seconds': { type: 'string' },
    'no-answer': { type: 'string' },
    extension: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'add') return withStore(config, (store) => save(store, rest, values, json, false));
    if (sub === 'set') return withStore(config, (store) => save(store, rest, values, json, true));
    if (sub === 'list') return withStore(config, (store) => list(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => remove(store, rest));
    throw new UsageError(sub ? `unknown ring-group command: ${sub}` : 'ring-group needs a command: add, set, list, remove');
  },
};

export function parseMembers(text: string): RingGroupMember[] {
  return text
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0)
    .map((m) => {
      const [extension, seconds] = m.split(':');
      if (seconds === undefined) return { extension: extension as string };
      if (!/^\d+$/.test(seconds)) throw new UsageError(`member ring time must be whole seconds (got "${m}")`);
      return { extension: extension as string, ringSeconds: Number(seconds) };
    });
}

export function intOption(values: CliValues, name: string): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number (got "${text}")`);
  return Number(text);
}

/** An optional text setting: absent keeps `old`, `none` clears it. */
export function keepOrClear(text: string | undefined, old: string | null): string | null {
  if (text === undefined) return old;
  return text === 'none' ? null : text;
}

function save(store: Store, args: string[], values: CliValues, json: boolean, replace: boolean): void {
  const [name] = positionals(args, ['NAME'], replace ? 'ring-group set' : 'ring-group add');
  const existing = replace ? store.routing.ringGroups.get(name as string) : null;
  if (replace && existing === null) throw new Failure(`ring group ${name} does not exist`);
  const members = stringOption(values, 'members');
  if (!replace && members === undefined) throw new UsageError('ring-group add needs --members 101,102');
  const input: RingGroupInput = {
    name: name as string,
    extension: keepOrClear(stringOption(values, 'extension'), existing?.extension ?? null),
    strategy: (stringOption(values, 'strategy') ?? existing?.strategy ?? 'simultaneous') as RingGroupInput['strategy'],
    ringSeconds: intOption(values, 'ring-seconds') ?? existing?.ringSeconds ?? 20,
    members: members !== undefined ? parseMembers(members) : (existing?.members ?? []),
    noAnswer: keepOrClear(stringOption(values, 'no-answer'), existing?.noAnswer ?? null),
  };
  const saved = store.routing.ringGroups.put(input, { replace });
  if (json) printJson(saved);
  else out(`ring group ${saved.name} ${replace ? 'updated' : 'added'}: ${describe(saved)}`);
}

function describe(g: RingGroup): string {
  const members = g.members.map((m) => (m.ringSeconds === undefined ? m.extension : `${m.extension}:${m.ringSeconds}`)).join(',');
  return `${g.strategy} ${members}, ${g.ringSeconds} s${g.extension ? `, number ${g.extension}` : ''}${g.noAnswer ? `, no answer → ${g.noAnswer}` : ''}`;
}

function list(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'ring-group list');
  const groups = store.routing.ringGroups.list();
  if (json) {
    printJson(groups);
    return;
  }
  if (groups.length === 0) {
    out('no ring groups');
    return;
  }
  out(
    table(
      ['NAME', 'NUMBER', 'STRATEGY', 'MEMBERS', 'RING', 'NO ANSWER'],
      groups.map((g) => [
        g.name,
        g.extension ?? '-',
        g.strategy,
        g.members.map((m) => (m.ringSeconds === undefined ? m.extension : `${m.extension}:${m.ringSeconds}`)).join(','),
        `${g.ringSeconds} s`,
        g.noAnswer ?? '-',
      ]),
    ),
  );
}

function remove(store: Store, args: string[]): void {
  const [name] = positionals(args, ['NAME'], 'ring-group remove');
  if (!store.routing.ringGroups.remove(name as string)) throw new Failure(`ring group ${name} does not exist`);
  out(`ring group ${name} removed`);
}
