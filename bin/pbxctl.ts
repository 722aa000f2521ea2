#!/usr/bin/env node
/**
 * pbxctl: the technician's tool. Writes go straight to SQLite (the running pbx reads extensions at
 * every lookup, so nothing needs reloading); live state (registrations, calls) comes from the
 * running pbx over its control socket, with the stored registrations as the fallback.
 *
 * Exit codes: 0 ok, 1 usage or invalid value, 2 failure.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type RuntimeConfig } from '../services/config.js';
import { CtlClient } from '../services/ctl/client.js';
import { CtlError, type StatusRegistration, type StatusResult } from '../services/ctl/protocol.js';
import { LANGUAGES, openStore, StoreError, type Extension, type Language, type Store } from '../services/store/index.js';

const USAGE = `usage: pbxctl [--data-dir DIR] <command>

commands:
  extension add NUMBER --name NAME --secret SECRET|- [--pin PIN] [--language ${LANGUAGES.join('|')}]
                           (--secret - reads the secret from stdin, keeping it out of ps)
  extension list [--json]
  extension remove NUMBER
  status [--json]          registrations and calls (live from the running pbx, else the stored ones)

options:
  --data-dir DIR           data directory (default: $PBX_DATA_DIR or ./var)
  -h, --help               this text
`;

class UsageError extends Error {}
class Failure extends Error {}

const OPTIONS = {
  'data-dir': { type: 'string' },
  name: { type: 'string' },
  secret: { type: 'string' },
  pin: { type: 'string' },
  language: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return;
  }
  const env = { ...process.env };
  if (values['data-dir'] !== undefined) env.PBX_DATA_DIR = values['data-dir'];
  let config: RuntimeConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Failure(error.message);
    throw error;
  }

  const [command, sub, ...rest] = positionals;
  if (command === 'extension') {
    if (sub === 'add') return withStore(config, (store) => extensionAdd(store, rest, values));
    if (sub === 'list') return withStore(config, (store) => extensionList(store, rest, values.json));
    if (sub === 'remove') return withStore(config, (store) => extensionRemove(store, rest));
    throw new UsageError(sub ? `unknown extension command: ${sub}` : 'extension needs a command: add, list, remove');
  }
  if (command === 'status') {
    if (sub !== undefined) throw new UsageError(`status takes no argument (got ${sub})`);
    return status(config, values.json);
  }
  throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
}

async function withStore(config: RuntimeConfig, fn: (store: Store) => void | Promise<void>): Promise<void> {
  const store = openStore(config.dataDir, { defaultLanguage: config.defaultLanguage });
  try {
    await fn(store);
  } finally {
    store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function extensionAdd(store: Store, args: string[], values: Values): Promise<void> {
  const [number, ...extra] = args;
  if (number === undefined) throw new UsageError('extension add needs a NUMBER');
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  if (values.name === undefined) throw new UsageError('extension add needs --name');
  if (values.secret === undefined) throw new UsageError('extension add needs --secret');
  if (values.language !== undefined && !(LANGUAGES as readonly string[]).includes(values.language)) {
    throw new UsageError(`--language must be one of ${LANGUAGES.join(', ')}`);
  }
  const secret = values.secret === '-' ? await readStdin() : values.secret;
  const added = store.extensions.add({
    number,
    displayName: values.name,
    secret,
    voicemailPin: values.pin ?? null,
    ...(values.language !== undefined ? { language: values.language as Language } : {}),
  });
  out(`extension ${added.number} (${added.displayName}) added`);
}

function extensionList(store: Store, args: string[], json: boolean): void {
  if (args.length > 0) throw new UsageError(`unexpected argument: ${args[0]}`);
  const extensions = store.extensions.list();
  if (json) {
    // Secrets and PINs stay out of the listing; the web UI shows them to an admin on demand.
    out(JSON.stringify(extensions.map(publicExtension), null, 2));
    return;
  }
  if (extensions.length === 0) {
    out('no extensions');
    return;
  }
  out(table(['NUMBER', 'NAME', 'LANG', 'VOICEMAIL PIN'], extensions.map((e) => [e.number, e.displayName, e.language, e.voicemailPin ? 'set' : '-'])));
}

function publicExtension(e: Extension): Omit<Extension, 'secret' | 'voicemailPin'> & { voicemailPinSet: boolean } {
  return {
    number: e.number,
    displayName: e.displayName,
    language: e.language,
    voicemailPinSet: e.voicemailPin !== null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function extensionRemove(store: Store, args: string[]): void {
  const [number, ...extra] = args;
  if (number === undefined) throw new UsageError('extension remove needs a NUMBER');
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  if (!store.extensions.remove(number)) throw new Failure(`extension ${number} does not exist`);
  out(`extension ${number} removed`);
}

async function status(config: RuntimeConfig, json: boolean): Promise<void> {
  let live: StatusResult | null = null;
  try {
    const client = await CtlClient.connect(config.ctlSocket, { timeoutMs: 3000 });
    try {
      live = await client.request('status');
    } finally {
      client.close();
    }
  } catch (error) {
    if (!(error instanceof CtlError && error.code === 'unavailable')) {
      throw new Failure(`the pbx did not answer on ${config.ctlSocket}: ${(error as Error).message}`);
    }
  }

  if (live) {
    if (json) {
      out(JSON.stringify({ running: true, ...live }, null, 2));
      return;
    }
    out(`pbx running (pid ${live.pid}, up ${live.uptimeSeconds} s), SIP on ${live.bind}:${live.sip.udp}`);
    printRegistrations(live.registrations);
    out(`calls: ${live.calls.length}`);
    for (const call of live.calls) {
      out(`  ${call.id}  ${call.from} -> ${call.to}  ${call.state}`);
      if (call.media) {
        for (const [side, leg] of Object.entries(call.media)) {
          out(`    ${side.padEnd(7)} rtp in ${leg.packetsIn} out ${leg.packetsOut}  lost ${leg.lost}  jitter ${leg.jitterMs} ms  from ${leg.remote ?? '-'}`);
        }
      }
    }
    return;
  }

  let stored: StatusRegistration[] = [];
  await withStore(config, (store) => {
    stored = store.registrations.all();
  });
  if (json) {
    out(JSON.stringify({ running: false, registrations: stored, calls: [] }, null, 2));
    return;
  }
  out(`pbx is not running (no control socket at ${config.ctlSocket}); stored registrations:`);
  printRegistrations(stored);
}

function printRegistrations(registrations: StatusRegistration[]): void {
  const now = Date.now();
  out(`registrations: ${registrations.length}`);
  if (registrations.length === 0) return;
  out(
    table(
      ['EXT', 'CONTACT', 'FROM', 'EXPIRES IN', 'USER AGENT'],
      registrations.map((r) => [
        r.aor,
        r.contactUri,
        `${r.transport.toLowerCase()}:${r.sourceAddress}:${r.sourcePort}`,
        r.expiresAt > now ? `${Math.round((r.expiresAt - now) / 1000)} s` : 'expired',
        r.userAgent ?? '-',
      ]),
    ),
  );
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`pbxctl: ${error.message}\n\n${USAGE}`);
      process.exit(1);
    }
    if (error instanceof StoreError) {
      process.stderr.write(`pbxctl: ${error.message}\n`);
      process.exit(error.code === 'invalid' ? 1 : 2);
    }
    process.stderr.write(`pbxctl: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
