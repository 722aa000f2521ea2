/**
 * What every pbxctl command group shares: its declaration (`CommandGroup`), the two error kinds that
 * pick the exit code, and the small output helpers. Each group lives in its own module beside this
 * one and is listed once in `bin/pbxctl.ts`, so adding an object to the CLI touches one new file.
 *
 * Exit codes: 0 ok, 1 usage or invalid value (`UsageError`, `StoreError` 'invalid'), 2 failure.
 */
import type { ParseArgsConfig } from 'node:util';
import type { RuntimeConfig } from '../../services/config.js';
import { openStore, type Store } from '../../services/store/index.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
/** Parsed option values: every group sees all options (they share one command line). */
export type CliValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  config: RuntimeConfig;
  values: CliValues;
  json: boolean;
}

export interface CommandGroup {
  /** First positional word: `extension`, `status`, ... */
  name: string;
  /** Lines for the usage text, already indented by two spaces. */
  usage: string;
  /** Options this group adds to the shared command line (names must not clash with other groups' meaning). */
  options?: OptionSpec;
  /** False for a group that never opens the store (it talks to another process only). */
  needsDatabase?: boolean;
  run(ctx: CommandContext, args: string[]): void | Promise<void>;
}

export class UsageError extends Error {}
export class Failure extends Error {}

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export async function withStore<T>(config: RuntimeConfig, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore(config.dataDir, { defaultLanguage: config.defaultLanguage });
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A string option, or undefined; a boolean where a string is expected is a usage error. */
export function stringOption(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`--${name} needs a value`);
  return value;
}

/** Exactly the positionals named in `names` (their names appear in the usage message). */
export function positionals(args: string[], names: string[], command: string): string[] {
  if (args.length < names.length) throw new UsageError(`${command} needs a ${names.slice(args.length).join(' ')}`);
  if (args.length > names.length) {
    throw new UsageError(names.length === 0 ? `${command} takes no argument (got ${args[0]})` : `unexpected argument: ${args[names.length]}`);
  }
  return args;
}
