/**
 * `pbxctl trunk add|list|remove`: carrier trunks, written to SQLite; the running pbx picks changes up
 * within a second (registers a new trunk, unregisters a removed one).
 */
import { TRUNK_TRANSPORTS, type Store, type Trunk, type TrunkTransport } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, readStdin, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const trunkCommands: CommandGroup = {
  name: 'trunk',
  usage: `  trunk add NAME --host HOST [--port PORT] [--transport ${TRUNK_TRANSPORTS.join('|')}] [--username USER --secret SECRET|-] [--max-calls N]
                           with --username the trunk registers to the carrier (digest auth);
                           without, it is an IP-authenticated peer (calls from HOST's address are the carrier's)
  trunk list [--json]
  trunk remove NAME`,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    transport: { type: 'string' },
    username: { type: 'string' },
    'max-calls': { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'add') return withStore(config, (store) => trunkAdd(store, rest, values, json));
    if (sub === 'list') return withStore(config, (store) => trunkList(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => trunkRemove(store, rest, json));
    throw new UsageError(sub ? `unknown trunk command: ${sub}` : 'trunk needs a command: add, list, remove');
  },
};

function integerOption(values: CliValues, name: string): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`--${name} must be a whole number (got "${text}")`);
  return Number(text);
}

async function trunkAdd(store: Store, args: string[], values: CliValues, json: boolean): Promise<void> {
  const [name] = positionals(args, ['NAME'], 'trunk add');
  const host = stringOption(values, 'host');
  if (host === undefined) throw new UsageError('trunk add needs --host');
  const transport = stringOption(values, 'transport');
  if (transport !== undefined && !(TRUNK_TRANSPORTS as readonly string[]).includes(transport)) {
    throw new UsageError(`--transport must be one of ${TRUNK_TRANSPORTS.join(', ')}`);
  }
  const username = stringOption(values, 'username');
  const secretOption = stringOption(values, 'secret');
  if ((username === undefined) !== (secretOption === undefined)) throw new UsageError('a registering trunk needs both --username and --secret');
  const secret = secretOption === '-' ? await readStdin() : secretOption;
  const trunk = store.trunks.add({
    name: name as string,
    host,
    port: integerOption(values, 'port') ?? null,
    ...(transport !== undefined && { transport: transport as TrunkTransport }),
    username: username ?? null,
    secret: secret ?? null,
    maxCalls: integerOption(values, 'max-calls') ?? null,
  });
  if (json) printJson(publicTrunk(trunk));
  else out(`trunk ${trunk.name} added (${trunk.username === null ? `IP-authenticated peer ${trunk.host}` : `registers as ${trunk.username} at ${trunk.host}`})`);
}

function publicTrunk(t: Trunk): Omit<Trunk, 'secret'> & { kind: 'registration' | 'ip'; secretSet: boolean } {
  const { secret, ...rest } = t;
  return { ...rest, kind: t.username === null ? 'ip' : 'registration', secretSet: secret !== null };
}

function trunkList(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'trunk list');
  const trunks = store.trunks.list();
  if (json) {
    // The secret stays out of listings, as extensions' secrets do.
    printJson(trunks.map(publicTrunk));
    return;
  }
  if (trunks.length === 0) {
    out('no trunks');
    return;
  }
  out(
    table(
      ['NAME', 'KIND', 'HOST', 'PORT', 'TRANSPORT', 'USERNAME', 'MAX CALLS'],
      trunks.map((t) => [t.name, t.username === null ? 'ip' : 'registration', t.host, String(t.port ?? (t.transport === 'tls' ? 5061 : 5060)), t.transport, t.username ?? '-', t.maxCalls === null ? 'unlimited' : String(t.maxCalls)]),
    ),
  );
}

function trunkRemove(store: Store, args: string[], json: boolean): void {
  const [name] = positionals(args, ['NAME'], 'trunk remove');
  if (!store.trunks.remove(name as string)) throw new Failure(`trunk ${name} does not exist`);
  if (json) printJson({ removed: name });
  else out(`trunk ${name} removed`);
}
