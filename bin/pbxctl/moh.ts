/**
 * `pbxctl moh ...`: music-on-hold classes (playlists of uploaded WAV/MP3 files converted at upload to 8 kHz mono),
 * which class an extension, number or ring group plays to the callers it holds, and the transfer
 * settings (transfer music instead of ringback, recall time). The pbx reads them at each hold.
 */
import fs from 'node:fs';
import path from 'node:path';
import { addMohClass, addMohFile, chooseMohClass, removeMohClass, removeMohFile, type MohTarget } from '../../services/office/moh.js';
import { DEFAULT_MOH_CLASS, validMohClassName } from '../../services/store/in-call-schema.js';
import { StoreError, type Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const mohCommands: CommandGroup = {
  name: 'moh',
  usage: `  moh add NAME FILE [--append]              music-on-hold class from a WAV or MP3 (converted to 8 kHz mono);
                                             --append: add the file to the class's playlist instead of replacing it
  moh list [--json]                          classes, their files and who uses which
  moh remove NAME [--file STORED]            the class, or one file of its playlist (STORED as listed)
  moh use CLASS|none (--extension N | --number +E164 | --ring-group NAME | --default)   class played to callers held by / calling it (--default: when no other rule names one)
  moh transfer [--transfer-music on|off] [--recall-seconds N] [--json]      callers being transferred hear music; recall time`,
  options: {
    'ring-group': { type: 'string' },
    number: { type: 'string' },
    'transfer-music': { type: 'string' },
    'recall-seconds': { type: 'string' },
    default: { type: 'boolean' },
    append: { type: 'boolean' },
    file: { type: 'string' },
  },
  async run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'add') return withStore(config, (store) => add(store, config.dataDir, rest, values['append'] === true));
    if (sub === 'list') return withStore(config, (store) => list(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => remove(store, config.dataDir, rest, stringOption(values, 'file')));
    if (sub === 'use') return withStore(config, (store) => use(store, rest, values));
    if (sub === 'transfer') return withStore(config, (store) => transfer(store, rest, values, json));
    throw new UsageError(sub ? `unknown moh command: ${sub}` : 'moh needs a command: add, list, remove, use, transfer');
  },
};

async function add(store: Store, dataDir: string, args: string[], append: boolean): Promise<void> {
  const [name, file] = positionals(args, ['NAME', 'FILE'], 'moh add') as [string, string];
  if (!validMohClassName(name)) throw new UsageError(`class name ${JSON.stringify(name)}: lower-case letters, digits, - and _ (at most 32)`);
  if (!fs.existsSync(file)) throw new Failure(`${file}: no such file`);
  let stored: { seconds: number; files: unknown[] };
  try {
    stored = append ? await addMohFile(store, dataDir, name, file, path.basename(file)) : await addMohClass(store, dataDir, name, file, path.basename(file));
  } catch (error) {
    throw new Failure(error instanceof Error ? error.message : String(error));
  }
  out(append ? `music-on-hold class ${name}: ${path.basename(file)} added, ${stored.files.length} files, ${stored.seconds.toFixed(1)} s` : `music-on-hold class ${name}: ${stored.seconds.toFixed(1)} s from ${path.basename(file)}`);
}

function list(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'moh list');
  const classes = store.moh.list();
  const choices = store.moh.choices();
  const builtIn = !classes.some((c) => c.name === DEFAULT_MOH_CLASS);
  if (json) {
    printJson({ classes: classes.map((c) => ({ name: c.name, seconds: c.seconds, source: c.sourceName, createdAt: c.createdAt, files: c.files.map((f) => ({ file: f.file, source: f.sourceName, seconds: f.seconds })) })), builtInDefault: builtIn, choices, transfer: store.moh.transfer() });
    return;
  }
  const rows = classes.map((c) => [c.name, c.seconds.toFixed(1), c.files.map((f) => f.sourceName).join(', '), choices.filter((u) => u.className === c.name).map((u) => u.owner).join(' ') || '-']);
  if (builtIn) rows.unshift([DEFAULT_MOH_CLASS, '8.0', '(built in)', choices.filter((u) => u.className === DEFAULT_MOH_CLASS).map((u) => u.owner).join(' ') || '-']);
  out(table(['CLASS', 'SECONDS', 'FILES', 'USED BY'], rows));
}

function remove(store: Store, dataDir: string, args: string[], file: string | undefined): void {
  const [name] = positionals(args, ['NAME'], 'moh remove') as [string];
  if (file !== undefined) {
    const removed = removeMohFile(store, dataDir, name, file);
    if (removed === null) throw new Failure(`music-on-hold class ${name} has no file ${file}`);
    out(removed === 'class' ? `${file} was the last file: music-on-hold class ${name} removed` : `${file} removed from music-on-hold class ${name}`);
    return;
  }
  if (!removeMohClass(store, dataDir, name)) throw new Failure(`no music-on-hold class ${name}`);
  out(`music-on-hold class ${name} removed`);
}

function use(store: Store, args: string[], values: CliValues): void {
  const [cls] = positionals(args, ['CLASS'], 'moh use') as [string];
  const extension = stringOption(values, 'extension');
  const number = stringOption(values, 'number');
  const group = stringOption(values, 'ring-group');
  const targets: MohTarget[] = [];
  if (extension !== undefined) targets.push({ kind: 'extension', number: extension });
  if (number !== undefined) targets.push({ kind: 'number', e164: number });
  if (group !== undefined) targets.push({ kind: 'ring-group', name: group });
  if (values['default'] === true) targets.push({ kind: 'default' });
  const [target] = targets;
  if (target === undefined || targets.length !== 1) throw new UsageError('moh use needs exactly one of --extension N, --number +E164, --ring-group NAME, --default');
  let owner: string;
  try {
    owner = chooseMohClass(store, target, cls === 'none' ? null : cls);
  } catch (error) {
    if (error instanceof StoreError && error.code === 'not-found' && target.kind === 'extension') throw new Failure(error.message);
    throw error;
  }
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
  chooseMohClass(store, { kind: 'extension', number: extension }, cls === 'none' ? null : cls);
  out(cls === 'none' ? `extension ${extension}: default music on hold` : `extension ${extension}: music on hold ${cls}`);
  if (Object.entries(values).some(([k, v]) => v !== undefined && (k === 'international' || k === 'did'))) rest();
}
