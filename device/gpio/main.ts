#!/usr/bin/env node
/**
 * The front panel process (`panel` under pm2): LEDs and the reset button, on the GPIO character
 * device (PBX_GPIOCHIP, /dev/gpiochip0) or, in simulation, on the simulated chip in
 * `<dataDir>/sim/` (pressed with `pbxctl sim button`). LEDs follow the pbx's live status over its
 * control socket every 2 s: power on; network on while the pbx answers and every trunk is
 * registered (slow blink otherwise); line in use while a call is up; voicemail waiting while any
 * box holds a new message (read from the store, so it is right even while the pbx restarts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CtlClient } from '../../services/ctl/client.js';
import { loadConfig } from '../../services/config.js';
import { createLogger, flushLogs } from '../../services/log.js';
import { DB_FILE } from '../../services/store/db.js';
import { openStore, type Store } from '../../services/store/index.js';
import { applianceActions } from './actions.js';
import { ChardevGpioChip } from './chardev.js';
import type { GpioChip } from './chip.js';
import { DEFAULT_PINS, FrontPanel } from './panel.js';
import { SimGpioChip } from './sim-chip.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('panel', { dir: path.join(config.dataDir, 'logs') });
  const chipPath = process.env.PBX_GPIOCHIP ?? '/dev/gpiochip0';
  let chip: GpioChip;
  try {
    chip = config.simulation ? new SimGpioChip(path.join(config.dataDir, 'sim')) : new ChardevGpioChip(chipPath);
  } catch (err) {
    log.error({ err, chip: chipPath }, 'no GPIO chip: the panel is off (LEDs dark, button ignored)');
    await flushLogs();
    // Stay up without a chip: a crash loop under pm2 would not bring the chip back.
    setInterval(() => {}, 1 << 30);
    return;
  }
  const panel = new FrontPanel(chip, DEFAULT_PINS, applianceActions(config.dataDir, log));
  panel.set('power', 'on');
  log.info({ chip: chip.label, simulation: config.simulation }, 'front panel running');
  // The store is opened once the pbx has made it (never created here).
  let store: Store | null = null;
  const newMessages = (): boolean => {
    if (store === null && fs.existsSync(path.join(config.dataDir, DB_FILE))) store = openStore(config.dataDir);
    if (store === null) return false;
    const s = store;
    return s.voicemail.boxesWithMessages().some((box) => s.voicemail.counts(box).new > 0);
  };
  const refresh = async (): Promise<void> => {
    try {
      panel.set('voicemail', newMessages() ? 'on' : 'off');
    } catch (err) {
      log.warn({ err }, 'voicemail LED: store not readable');
    }
    try {
      const client = await CtlClient.connect(config.ctlSocket, { timeoutMs: 1500, connectTimeoutMs: 1000 });
      try {
        const s = await client.request('status');
        const trunksOk = (s.trunks ?? []).every((t) => t.state === 'registered' || t.state === 'ip-peer');
        panel.set('network', trunksOk ? 'on' : 'blink-slow');
        panel.set('lineInUse', s.calls.length > 0 ? 'on' : 'off');
      } finally {
        client.close();
      }
    } catch {
      panel.set('network', 'blink-slow');
      panel.set('lineInUse', 'off');
    }
  };
  const timer = setInterval(() => void refresh(), 2000);
  void refresh();
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    store?.close();
    panel.close();
    chip.close();
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
