#!/usr/bin/env node
/**
 * The front panel alone (device/gpio/run.ts): on the appliance it runs inside the `analog` process
 * (device/gateway/main.ts); this entry runs it by itself (tests, a box without the analog board).
 */
import path from 'node:path';
import { loadConfig } from '../../services/config.js';
import { createLogger, flushLogs } from '../../services/log.js';
import { startPanel } from './run.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('panel', { dir: path.join(config.dataDir, 'logs') });
  const panel = startPanel(config, log);
  // Stay up without a chip too: a crash loop under pm2 would not bring the chip back.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = async (): Promise<void> => {
    clearInterval(keepAlive);
    panel.close();
    await flushLogs();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`panel: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
