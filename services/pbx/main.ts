/**
 * Entry point of the pbx process (pm2 app `pbx`): reads the configuration, starts the app, and
 * stops it cleanly on SIGINT/SIGTERM (pm2 sends SIGINT on stop and Ctrl-C).
 */
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startPbx } from './app.js';

// A distinctive name so benchmarks and technicians find this process (ps, top, /proc/PID/comm).
process.title = 'pbx-sip';

const log = createLogger('pbx');

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      log.fatal({ err: error }, 'bad configuration');
      process.stderr.write(`pbx: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await startPbx(config, { log });

  let signalled = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    log.info({ signal }, 'stopping');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

process.on('uncaughtException', (error) => {
  log.fatal({ err: error }, 'uncaught exception');
  process.exit(1);
});

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'start failed');
  process.exit(1);
});
