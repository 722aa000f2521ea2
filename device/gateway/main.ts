#!/usr/bin/env node
/**
 * Entry point of the `analog` process (pm2 app `analog`): opens the board (the serial driver on
 * /dev/ttyACM0, or the virtual board's pty in simulation, or PBX_SERIAL), and runs the gateway.
 * Its own process: a crash here drops no call between desk phones, and the pbx sees the ports'
 * registrations expire at worst (they re-register when it is back).
 * The front panel (LEDs, reset button: device/gpio/run.ts) runs here too, with its own log
 * (panel.log): one Node process less on the box (docs/decisions.md). PBX_PANEL=0 leaves it out
 * (device/gpio/main.ts then runs it alone).
 *
 * Environment: PBX_ANALOG_TRUNK_ADDRESS (default 127.0.0.19) and PBX_ANALOG_TRUNK_PORT (5070): where
 * the FXO trunk listens (a loopback address of its own, so the pbx knows the trunk by address);
 * PBX_ANALOG_SIP_PORT (0: any) for the FXS user agents.
 * Exit codes: 0 stopped, 1 crashed, 2 bad configuration.
 */
import net from 'node:net';
import { ConfigError, loadConfig } from '../../services/config.js';
import { createLogger, flushLogs } from '../../services/log.js';
import { openStore } from '../../services/store/index.js';
import { boardSerialPath } from '../driver/paths.js';
import { startPanel } from '../gpio/run.js';
import { openSerialBoard } from '../driver/serial-board.js';
import { AnalogGateway } from './gateway.js';
import { compactAfterStart, keepMemoryCompact } from '../../services/memory/keeper.js';

process.title = 'pbx-analog';

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be a port number 0-65535`);
  return Number(raw);
}

async function main(): Promise<void> {
  let config;
  let trunkAddress: string;
  let trunkPort: number;
  let sipPort: number;
  let panelOn: boolean;
  try {
    config = loadConfig();
    trunkAddress = process.env.PBX_ANALOG_TRUNK_ADDRESS || '127.0.0.19';
    if (net.isIP(trunkAddress) !== 4) throw new ConfigError(`PBX_ANALOG_TRUNK_ADDRESS=${JSON.stringify(trunkAddress)}: must be an IPv4 address`);
    trunkPort = envPort('PBX_ANALOG_TRUNK_PORT', 5070);
    sipPort = envPort('PBX_ANALOG_SIP_PORT', 0);
    const panelEnv = process.env.PBX_PANEL ?? '';
    if (!['', '0', '1'].includes(panelEnv)) throw new ConfigError(`PBX_PANEL=${JSON.stringify(panelEnv)}: must be 0 or 1`);
    panelOn = panelEnv !== '0';
  } catch (error) {
    process.stderr.write(`analog: bad configuration: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger('analog', { level: config.log.level, dir: config.log.dir, stdout: config.log.stdout });
  const store = openStore(config.dataDir, { defaultLanguage: config.defaultLanguage });
  // First, so the LEDs come up while the board's link is still being opened.
  const panel =
    !panelOn ? null : startPanel(config, createLogger('panel', { level: config.log.level, dir: config.log.dir, stdout: config.log.stdout }), store);
  const tty = boardSerialPath(config);
  const board = openSerialBoard(tty, { log: log.child({ layer: 'driver' }) });
  // The pbx listens on config.bind; a wildcard bind is reached on loopback.
  const pbxAddress = config.bind === '0.0.0.0' || config.bind === '::' ? '127.0.0.1' : config.bind;
  const gateway = await AnalogGateway.start({
    board,
    store,
    logger: log,
    pbx: { address: pbxAddress, port: config.sip.port },
    bind: '127.0.0.1',
    sipPort,
    trunk: { address: trunkAddress, port: trunkPort },
    country: config.country,
  });
  log.info({ tty, pbx: `${pbxAddress}:${config.sip.port}`, ...gateway.addresses() }, 'analog gateway running');
  const keeper = keepMemoryCompact({ quiet: () => gateway.quiet, logger: log, checkMs: 30_000, regrowBytes: 1024 * 1024 });
  void compactAfterStart({ quiet: () => gateway.quiet, logger: log });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    keeper.stop();
    await gateway.close();
    await board.close();
    panel?.close();
    store.close();
    await flushLogs();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'analog gateway crashed');
    void flushLogs().finally(() => process.exit(1));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`analog: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
