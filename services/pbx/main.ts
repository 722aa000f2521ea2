/**
 * Entry point of the pbx process (pm2 app `pbx`): reads the configuration, starts the app, and
 * stops it cleanly on SIGINT/SIGTERM (pm2 sends SIGINT on stop and Ctrl-C).
 *
 * Exit codes: 0 stopped, 1 crashed or could not start, 2 bad configuration, 3 the database file was
 * deleted or replaced. pm2 restarts after every one of them (with a growing delay, image/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type RuntimeConfig } from '../config.js';
import { createLogger, flushLogs, type Logger } from '../log.js';
import { compactAfterStart } from '../memory/keeper.js';
import { DB_FILE } from '../store/db.js';
import { openStore } from '../store/index.js';
import { startPbx, type PbxApp } from './app.js';
import { recordExit } from './run-record.js';
import { STDERR_FILE, trimStderrFile } from './stderr-file.js';

// A distinctive name so benchmarks and technicians find this process (ps, top, /proc/PID/comm).
process.title = 'pbx-sip';

let log: Logger | null = null;
let config: RuntimeConfig | null = null;
let app: PbxApp | null = null;
let exiting = false;

/** Records why this run ends (for `pbxctl status` and the next start), flushes the log, exits. */
async function die(code: number, error: unknown, message: string): Promise<never> {
  if (!exiting) {
    exiting = true;
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    if (log) log.fatal({ err: error instanceof Error ? error : { message: text }, exitCode: code }, message);
    else process.stderr.write(`pbx: ${message}: ${text}\n`);
    if (config !== null) recordCrash(config, code, `${message}: ${error instanceof Error ? error.message : text}`);
    await flushLogs();
  }
  process.exit(code);
}

function recordCrash(c: RuntimeConfig, code: number, reason: string): void {
  try {
    // Never create a database just to say that we failed.
    if (!fs.existsSync(path.join(c.dataDir, DB_FILE))) return;
    const store = app?.store ?? openStore(c.dataDir);
    try {
      recordExit(store, process.pid, code, reason);
    } finally {
      if (store !== app?.store) store.close();
    }
  } catch {
    // The database is what failed: the log line above is the record.
  }
}

async function main(): Promise<void> {
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pbx: bad configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  log = createLogger('pbx', { level: config.log.level, dir: config.log.dir, stdout: config.log.stdout });
  if (trimStderrFile(config.log.dir)) log.info({ file: STDERR_FILE }, 'stderr file trimmed');
  // Signals are taken from now on: one that arrives while starting stops the pbx once it is up.
  let signalled: NodeJS.Signals | null = null;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (signalled !== null) return;
    signalled = signal;
    if (app !== null) stopOn(app, signal);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  const running = await startPbx(config, {
    log,
    onDatabaseLost: (reason) => {
      if (exiting) return;
      exiting = true;
      running.stop().finally(() => {
        log?.error({ exitCode: 3 }, `${reason}: stopped, to be restarted on the real file`);
        void flushLogs().then(() => process.exit(3));
      });
    },
  });
  app = running;
  if (signalled !== null) stopOn(running, signalled);
  else void compactAfterStart({ logger: log, quiet: () => !exiting });
  // Under pm2 (wait_ready, image/ecosystem.config.cjs): the next apps start once the pbx answers,
  // so they do not take the CPU from its start.
  if (signalled === null) process.send?.('ready');
}

function stopOn(running: PbxApp, signal: NodeJS.Signals): void {
  log?.info({ signal }, 'stopping');
  running.stop().then(
    () => flushLogs().then(() => process.exit(0)),
    (error: unknown) => void die(1, error, 'stop failed'),
  );
}

process.on('uncaughtException', (error) => void die(1, error, 'uncaught exception'));
process.on('unhandledRejection', (error) => void die(1, error, 'unhandled promise rejection'));

main().catch((error: unknown) => die(1, error, 'start failed'));
