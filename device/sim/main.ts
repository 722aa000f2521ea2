#!/usr/bin/env node
/**
 * The virtual board process (`board-sim` under pm2 in simulation mode): a socat pty pair whose host
 * end is `<dataDir>/sim/ttyACM0` (or PBX_SERIAL), the board firmware model on the other end, a phone
 * on each FXS port (PBX_SIM_FXS=phone,fax …), a central office on FXO, and the control socket
 * `<dataDir>/board-sim.sock` for `pbxctl sim`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../services/config.js';
import { createLogger, flushLogs } from '../../services/log.js';
import { parseCountry } from '../../services/media/tones/table.js';
import { boardSerialPath, simControlSocket } from '../driver/paths.js';
import { startSimControl } from './control.js';
import { VirtualBoard, type FxsDeviceKind } from './virtual-board.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('board-sim', { dir: path.join(config.dataDir, 'logs') });
  const hostPath = boardSerialPath({ dataDir: config.dataDir, simulation: true });
  fs.mkdirSync(path.dirname(hostPath), { recursive: true });
  const boardPath = path.join(path.dirname(hostPath), `${path.basename(hostPath)}.board`);
  const country = parseCountry(process.env.PBX_SIM_COUNTRY ?? config.country) ?? 'US';
  const fxs = (process.env.PBX_SIM_FXS ?? 'phone,phone').split(',').map((s) => s.trim());
  if (!fxs.every((k): k is FxsDeviceKind => k === 'phone' || k === 'fax') || fxs.length < 1 || fxs.length > 8) {
    throw new Error(`PBX_SIM_FXS=${process.env.PBX_SIM_FXS}: a comma-separated list of phone|fax (1 to 8 ports)`);
  }
  const board = new VirtualBoard({ hostPath, boardPath, country, fxs: fxs as FxsDeviceKind[], log });
  await board.start();
  const ctl = await startSimControl(simControlSocket(config.dataDir), board, log);
  log.info({ tty: hostPath, country, fxs, socket: ctl.path }, 'virtual board running');
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await ctl.close();
    await board.stop();
    await flushLogs();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`board-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
