/**
 * What the reset button does on the appliance.
 *   restartServices: `pm2 restart all` through the pm2 CLI of this install (PM2_HOME is inherited
 *     from the pm2 that runs us), as the "a short press restarts the services".
 *   factoryReset: the database (with its WAL) and the audio it references are moved into
 *     `<dataDir>/factory-reset-<time>/` — not deleted, so a press by mistake loses nothing a
 *     technician cannot put back — then the services restart on an empty store, which prints a
 *     new admin password as at first start.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../services/log.js';
import type { PanelActions } from './panel.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Everything in the data dir that makes up the configuration and stored calls/messages. */
export function factoryResetEntries(dataDir: string): string[] {
  if (!fs.existsSync(dataDir)) return [];
  return fs.readdirSync(dataDir).filter((name) => /^pbx\.sqlite(?:-wal|-shm)?$/.test(name) || name === 'config.json' || name === 'audio' || name === 'voicemail');
}

/** Moves the appliance's state aside; returns the folder it went to (null when there was nothing). */
export function moveStateAside(dataDir: string, now = new Date()): string | null {
  const entries = factoryResetEntries(dataDir);
  if (entries.length === 0) return null;
  const target = path.join(dataDir, `factory-reset-${now.toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(target, { recursive: true });
  for (const name of entries) fs.renameSync(path.join(dataDir, name), path.join(target, name));
  return target;
}

export function applianceActions(dataDir: string, log: Logger): PanelActions {
  const restart = (): void => {
    const pm2 = path.join(ROOT, 'node_modules/.bin/pm2');
    const child = spawn(pm2, ['restart', 'all', '--update-env'], { stdio: 'ignore', detached: true });
    child.on('error', (err) => log.error({ err }, 'restart through pm2 failed'));
    child.unref();
  };
  return {
    restartServices: () => {
      log.warn('reset button: short press, restarting the services');
      restart();
    },
    factoryReset: () => {
      try {
        const where = moveStateAside(dataDir);
        log.warn({ savedTo: where }, 'reset button: long press, factory settings restored (previous state kept aside)');
      } catch (err) {
        log.error({ err }, 'factory reset: moving the state aside failed; nothing restarted');
        return;
      }
      restart();
    },
  };
}
