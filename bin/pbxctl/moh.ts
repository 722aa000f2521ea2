/**
 * `pbxctl moh ...`: music-on-hold classes (uploaded WAV/MP3 converted at upload to 8 kHz mono),
 * which class an extension, number or ring group plays to the callers it holds, and the transfer
 * settings (transfer music instead of ringback, recall time). The pbx reads them at each hold.
 */
import fs from 'node:fs';
import path from 'node:path';
import { importMohFile, mohDir } from '../../services/pbx/features/in-call/moh-files.js';
import { DEFAULT_MOH_CLASS, validMohClassName } from '../../services/store/in-call-schema.js';
import type { Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const mohCommands: CommandGroup = {
  name: 'moh',
  usage: `  moh add NAME FILE                          music-on-hold class from a WAV or MP3 (converted to 8 kHz mono)
  moh list [--json]                          classes and who uses which
  moh remove NAME
  moh use CLASS|none (--extension N | --number +E164 | --ring-group NAME)   class played to callers held by / calling it
  moh transfer [--transfer-music on|off] [--recall-seconds N] [--json]      callers being transferred hear music; recall time`,
  options: {
    'ring-group': { type: 'string' },
    number: { type: 'string' },
    'transfer-music': { type: 'string' },
    'recall-seconds': { type: 'string' },
  },
  async run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'add') return withStore(config, (store) => add(store, config.dataDir, rest));
    if (sub === 'list') return withStore(config, (store) => list(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => remove(store, config.dataDir, rest));
    if (sub === 'use') return withStore(config, (store) => use(store, rest, values));
    if (sub === 'transfer') return withStore(config, (store) => transfer(store, rest, values, json));
    throw new UsageError(sub ? `unknown moh command: ${sub}` : 'moh needs a command: add, list, remove, use, transfer');
  },
};

async function add(store: Store, dataDir: string, args: string[]): Promise<void> {
  const [name, file] = positionals(args, ['NAME', 'FILE'], 'moh add') as [string, string];
  if (!validMohClassName(name)) throw new UsageError(`class name ${JSON.stringify(name)}: lower-case letters, digits, - and _ (at most 32)`);
  if (!fs.existsSync(file)) throw new Failure(`${file}: no such file`);
  let stored: { file: string; seconds: number };
  try {
    stored = await importMohFile(dataDir, name, file);
  } catch (error) {
    throw new Failure(error instanceof Error ? error.message : String(error));
  }
  store.moh.put({ name, file: stored.file, sourceName: path.basename(file), seconds: stored.seconds });
  out(`music-on-hold class ${name}: ${stored.seconds.toFixed(1)} s from ${path.basename(file)}`);
}

function list(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'moh list');
  const classes = store.moh.list();
  const choices = store.moh.choices();
  const builtIn = !classes.some((c) => c.name === DEFAULT_MOH_CLASS);
  if (json) {
    printJson({ classes: classes.map((c) => ({ name: c.name, seconds: c.seconds, source: c.sourceName, createdAt: c.createdAt })), builtInDefault: builtIn, choices, transfer: store.moh.transfer() });
    return;
  }
  const rows = classes.map((c) => [c.name, c.seconds.toFixed(1), c.sourceName, choices.filter((u) => u.className === c.name).map((u) => u.owner).join(' ') || '-']);
  if (builtIn) rows.unshift([DEFAULT_MOH_CLASS, '8.0', '(built in)', choices.filter((u) => u.className === DEFAULT_MOH_CLASS).map((u) => u.owner).join(' ') || '-']);
  out(table(['CLASS', 'SECONDS', 'SOURCE', 'USED BY'], rows));
}

function remove(store: Store, dataDir: string, args: string[]): void {
  const [name] = positionals(args, ['NAME'], 'moh remove') as [string];
  const row = store.moh.get(name);
  if (!store.moh.remove(name)) throw new Failure(`no music-on-hold class ${name}`);
  if (row !== null) fs.rmSync(path.join(mohDir(dataDir), row.file), { force: true });
  out(`music-on-hold class ${name} removed`);
}

function use(store: Store, args: string[], values: CliValues): void {
  const [cls] = positionals(args, ['CLASS'], 'moh use') as [string];
  const extension = stringOption(values, 'extension');
  const number = stringOption(values, 'number');
  const group = stringOption(values, 'ring-group');
  const owners = [extension && `extension:${extension}`, number && `number:${number}`, group && `ring-group:${group}`].filter((o): o is string => typeof o === 'string');
  if (owners.length !== 1) throw new UsageError('moh use needs exactly one of --extension N, --number +E164, --ring-group NAME');
  const owner = owners[0] as string;
  if (extension !== undefined && store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  store.moh.choose(owner, cls === 'none' ? null : cls);
  out(cls === 'none' ? `${owner}: default music on hold` : `${owner}: music on hold ${cls}`);
}

function transfer(store: Store, args: string[], values: CliValues, json: boolean): void {
  positionals(args, [], 'moh transfer');
  const music = stringOption(values, 'transfer-music');
  const recall = stringOption(values, 'recall-seconds');
  if (music !== undefined && music !== 'on' && music !== 'off') throw new UsageError('--transfer-music is on or off');
  if (recall !== undefined && !/^\d+$/.test(recall)) throw new UsageError('--recall-seconds needs a whole number');
  const now =
    music === undefined && recall === undefined
      ? store.moh.transfer()
      : store.moh.setTransfer({ ...(music !== undefined && { music: music === 'on' }), ...(recall !== undefined && { recallSeconds: Number(recall) }) });
  if (json) printJson(now);
  else out(`transfer: callers hear ${now.music ? 'their music on hold' : 'ringback'}; the transferor gets the call back after ${now.recallSeconds} s`);
}

/** `extension set N --moh CLASS|none` (with the other `extension set` options, if any, after it). */
export function extensionMoh(store: Store, args: string[], values: CliValues, rest: () => void): void {
  const [extension] = positionals(args, ['NUMBER'], 'extension set') as [string];
  const cls = stringOption(values, 'moh') as string;
  if (store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  store.moh.choose(`extension:${extension}`, cls === 'none' ? null : cls);
  out(cls === 'none' ? `extension ${extension}: default music on hold` : `extension ${extension}: music on hold ${cls}`);
  if (Object.entries(values).some(([k, v]) => v !== undefined && (k === 'international' || k === 'did'))) rest();
}
