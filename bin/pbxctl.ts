#!/usr/bin/env node
/**
 * pbxctl: the technician's tool. Writes go straight to SQLite (the running pbx reads what it needs
 * at each use, so nothing needs reloading); live state (registrations, calls) comes from the
 * running pbx over its control socket, with the stored state as the fallback.
 *
 * Each object's commands are one module in `bin/pbxctl/` (a `CommandGroup`), listed in GROUPS.
 * Exit codes: 0 ok, 1 usage or invalid value, 2 failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ConfigError, loadConfig, type RuntimeConfig } from '../services/config.js';
import { StoreError } from '../services/store/index.js';
import { Failure, UsageError, type CommandGroup, type OptionSpec } from './pbxctl/cli.js';
import { blockCommands } from './pbxctl/block.js';
import { extensionCommands } from './pbxctl/extension.js';
import { numberCommands } from './pbxctl/number.js';
import { statusCommands } from './pbxctl/status.js';
import { trunkCommands } from './pbxctl/trunk.js';
import { portCommands } from './pbxctl/port.js';
import { backupCommands } from './pbxctl/backup.js';
import { cdrCommands } from './pbxctl/cdr.js';
import { conferenceCommands } from './pbxctl/conference.js';
import { logsCommands } from './pbxctl/logs.js';
import { receptionistCommands } from './pbxctl/receptionist.js';
import { ringGroupCommands } from './pbxctl/ring-group.js';
import { simCommands } from './pbxctl/sim.js';
import { portingCommands } from './pbxctl/porting.js';
import { mohCommands } from './pbxctl/moh.js';
import { mailCommands } from './pbxctl/mail.js';
import { voicemailCommands } from './pbxctl/voicemail.js';
import { faxCommands } from './pbxctl/fax.js';
import { DB_FILE } from '../services/store/db.js';

const GROUPS: readonly CommandGroup[] = [
  extensionCommands,
  trunkCommands,
  numberCommands,
  statusCommands,
  ringGroupCommands,
  receptionistCommands,
  conferenceCommands,
  mohCommands,
  blockCommands,
  cdrCommands,
  logsCommands,
  backupCommands,
  portCommands,
  simCommands,
  portingCommands,
  mailCommands,
  voicemailCommands,
  faxCommands,
];

const COMMON_OPTIONS: OptionSpec = {
  'data-dir': { type: 'string' },
  init: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const OPTIONS: OptionSpec = Object.assign({}, COMMON_OPTIONS, ...GROUPS.map((g) => g.options ?? {})) as OptionSpec;

const USAGE = `usage: pbxctl [--data-dir DIR] <command>

commands:
${GROUPS.map((g) => g.usage).join('\n')}

options:
  --data-dir DIR           data directory (default: $PBX_DATA_DIR or ./var)
  --init                   create the appliance database if the data directory has none
  --json                   machine-readable output (every listing and status)
  -h, --help               this text
`;

async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const env = { ...process.env };
  const dataDir = values['data-dir'];
  if (typeof dataDir === 'string') env.PBX_DATA_DIR = dataDir;
  let config: RuntimeConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Failure(error.message);
    throw error;
  }

  const [command, ...rest] = positionals;
  const group = GROUPS.find((g) => g.name === command);
  if (!group) throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
  if (values.init !== true && group.needsDatabase !== false) checkDatabase(config.dataDir);
  await group.run({ config, values, json: values.json === true }, rest);
}

/**
 * A typo in --data-dir must not create a second, empty appliance that the running pbx never reads:
 * without --init, the directory must already hold the appliance database.
 */
function checkDatabase(dataDir: string): void {
  const file = path.join(dataDir, DB_FILE);
  if (!fs.existsSync(file)) {
    throw new Failure(`no appliance database in ${dataDir} (no ${DB_FILE}): check --data-dir or PBX_DATA_DIR; give --init to create one there`);
  }
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare('SELECT MAX(version) FROM schema_migrations').get();
  } catch {
    throw new Failure(`${file} is not an appliance database (no schema_migrations table)`);
  } finally {
    db?.close();
  }
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
