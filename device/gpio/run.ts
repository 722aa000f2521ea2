/**
 * The front panel's loop: LEDs and the reset button, on the GPIO character device (PBX_GPIOCHIP,
 * /dev/gpiochip0) or, in simulation, on the simulated chip in `<dataDir>/sim/` (pressed with
 * `pbxctl sim button`). LEDs follow the pbx's live status over its control socket every 2 s: power
 * on; network on while the pbx answers and every trunk is registered (slow blink otherwise); line in
 * use while a call is up; voicemail waiting while any box holds a new message (read from the store,
 * so it is right even while the pbx restarts).
 *
 * It runs inside the `analog` process on the appliance (device/gateway/main.ts: one Node process
 * less, ~60 MB of RSS, docs/decisions.md) and alone from device/gpio/main.ts. It never throws out:
 * a missing chip leaves the panel dark and the process running.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CtlClient } from '../../services/ctl/client.js';
import type { RuntimeConfig } from '../../services/config.js';
import type { Logger } from '../../services/log.js';
import { DB_FILE } from '../../services/store/db.js';
import { openStore, type Store } from '../../services/store/index.js';
import { applianceActions } from './actions.js';
import { ChardevGpioChip } from './chardev.js';
import type { GpioChip } from './chip.js';
import { DEFAULT_PINS, FrontPanel } from './panel.js';
import { SimGpioChip } from './sim-chip.js';

export interface RunningPanel {
  close(): void;
}

/**
 * Starts the panel. `store`: the process's own store when it has one (the analog gateway's), else
 * the panel opens one once the pbx has made the database (it never creates it).
 */
export function startPanel(config: RuntimeConfig, log: Logger, store?: Store): RunningPanel {
  const chipPath = process.env.PBX_GPIOCHIP ?? '/dev/gpiochip0';
  let chip: GpioChip;
  try {
    chip = config.simulation ? new SimGpioChip(path.join(config.dataDir, 'sim')) : new ChardevGpioChip(chipPath);
  } catch (err) {
    log.error({ err, chip: chipPath }, 'no GPIO chip: the panel is off (LEDs dark, button ignored)');
    return { close: () => undefined };
  }
  const panel = new FrontPanel(chip, DEFAULT_PINS, applianceActions(config.dataDir, log));
  panel.set('power', 'on');
  log.info({ chip: chip.label, simulation: config.simulation }, 'front panel running');
  let own: Store | null = null;
  const readable = (): Store | null => {
    if (store !== undefined) return store;
    if (own === null && fs.existsSync(path.join(config.dataDir, DB_FILE))) own = openStore(config.dataDir);
    return own;
  };
  const newMessages = (): boolean => {
    const s = readable();
    if (s === null) return false;
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
  return {
    close: () => {
      clearInterval(timer);
      (own as Store | null)?.close();
      panel.close();
      chip.close();
    },
  };
}
