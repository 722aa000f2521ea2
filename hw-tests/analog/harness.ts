/**
 * The analog rig: the pbx as the trunk tests start it (hw-tests/trunk/harness.ts: real store, SIP on
 * loopback, anchored media, office routing), the analog gateway on the serial driver, and the board:
 * the virtual board (device/sim) on a socat pty by default, with its scripted phone, fax and central
 * office; a real board when HIL_SERIAL names its tty (scenarios that need scripted devices on the
 * lines are then skipped, and the run says so).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, isLogLevel, silentLogger, type Logger } from '../../services/log.js';
import type { Country } from '../../services/media/tones/table.js';
import type { Store } from '../../services/store/types.js';
import type { AnalogBoard } from '../../device/board.js';
import { openSerialBoard } from '../../device/driver/serial-board.js';
import { AnalogGateway, type GatewayOptions } from '../../device/gateway/gateway.js';
import { VirtualBoard, type FxsDeviceKind } from '../../device/sim/virtual-board.js';
import { startTrunkTestPbx, type TrunkTestPbx } from '../trunk/harness.js';
import { toneShare, until } from '../support/rtp-phone.js';
import { muLawDecode } from '../../services/media/codec/g711.js';
import { toneShare as groupShare } from '../../device/dsp/tone-detect.js';

export const HIL_SERIAL = process.env.HIL_SERIAL ?? '';
/** Which board the suite runs on, printed by each test file. */
export const BOARD_KIND = HIL_SERIAL === '' ? 'virtual board (device/sim on a socat pty)' : `real board on ${HIL_SERIAL}`;

export interface AnalogRig {
  pbx: TrunkTestPbx;
  store: Store;
  board: VirtualBoard;
  serial: AnalogBoard;
  gateway: AnalogGateway;
  logger: Logger;
  /** Waits until the port's extension has a registered contact at the pbx. */
  registered(extension: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export interface AnalogRigOptions {
  country: Country;
  extensions: Array<{ number: string; secret: string; name?: string }>;
  fxs?: FxsDeviceKind[];
  setup?(store: Store): void;
  /** Passed to the pbx (hw-tests/trunk/harness.ts). */
  pbx?: { timers?: Partial<import('../../services/sip/transaction/timers.js').TimerSettings>; failoverHoldMs?: number; qualifyMs?: number; inCall?: boolean };
  gateway?: Partial<Pick<GatewayOptions, 'fxsTiming' | 'fxoTiming' | 'relayAfterMs' | 'registration'>>;
}

export async function startAnalogRig(o: AnalogRigOptions): Promise<AnalogRig> {
  const pbx = await startTrunkTestPbx({ country: o.country, extensions: o.extensions, ...(o.setup !== undefined && { setup: o.setup }), ...o.pbx });
  for (const e of o.extensions) if (e.name !== undefined) pbx.store.extensions.update(e.number, { displayName: e.name });
  // ANALOG_TEST_LOG=debug|info shows the gateway's and the board's log.
  const level = process.env.ANALOG_TEST_LOG;
  const logger = level ? createLogger('analog', isLogLevel(level) ? level : 'debug') : silentLogger();
  const hostPath = path.join(pbx.dir, 'sim', 'ttyACM0');
  fs.mkdirSync(path.dirname(hostPath), { recursive: true });
  const board = new VirtualBoard({ hostPath, boardPath: `${hostPath}.board`, country: o.country, fxs: o.fxs ?? ['phone', 'fax'], log: logger.child({ layer: 'board-sim' }) });
  await board.start();
  const serial = openSerialBoard(hostPath, { log: logger.child({ layer: 'driver' }) });
  const gateway = await AnalogGateway.start({
    board: serial,
    store: pbx.store,
    logger,
    pbx: pbx.address,
    bind: '127.0.0.1',
    trunk: { address: '127.0.0.19', port: 0 },
    country: o.country,
    pollMs: 200,
    reportMs: 500,
    registration: { expiresSeconds: 60, retryMinMs: 300, retryMaxMs: 2000 },
    ...o.gateway,
  });
  await until(() => serial.link === 'up', 5000, 'the board link');
  return {
    pbx,
    store: pbx.store,
    board,
    serial,
    gateway,
    logger,
    async registered(extension, ms = 5000) {
      await until(() => pbx.sip.registration.registrar.lookup(extension).length > 0, ms, `extension ${extension} registered by the gateway`);
    },
    async close() {
      await gateway.close();
      await serial.close();
      await board.stop();
      await pbx.close();
    },
  };
}

/** Polls until `read()` satisfies `ok`, returning the last value (for messages on failure). */
export async function waitFor<T>(read: () => T, ok: (value: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let value = read();
  while (!ok(value)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
    value = read();
  }
  return value;
}

/**
 * The share of `freq` in received audio, judged per 20 ms frame (the median frame): a lost or late
 * packet under load breaks the phase between frames, which would smear a long Goertzel window.
 */
export function frameShare(pcm: Int16Array, freq: number): number {
  const shares: number[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) shares.push(toneShare(pcm.subarray(i, i + 160), freq));
  if (shares.length === 0) return 0;
  shares.sort((a, b) => a - b);
  return shares[Math.floor(shares.length / 2)] as number;
}

/**
 * Everything the simulated device on an FXS port hears from now on, frame by frame (a tap at its
 * ear, as a line monitor would clip onto the pair): a 100 ms tone is not missed by a test that
 * polls the device's status while the machine is busy.
 */
export function earTap(device: { hear(frame: Buffer): void }): { frames: Int16Array[]; framesOf(freqs: number[], share?: number): number; stop(): void } {
  const frames: Int16Array[] = [];
  const original = device.hear;
  device.hear = function (this: unknown, frame: Buffer) {
    frames.push(muLawDecode(frame));
    original.call(this, frame);
  };
  return {
    frames,
    framesOf: (freqs, share = 0.6) => frames.filter((f) => groupShare(f, [freqs]) > share).length,
    stop: () => {
      device.hear = original;
    },
  };
}
