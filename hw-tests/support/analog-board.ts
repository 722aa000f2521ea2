/**
 * The analog board the hw-tests run against: the virtual board (a real `board-sim` process on a
 * socat pty pair, driven over its control socket) by default, or a real board when HIL_SERIAL names
 * its tty (e.g. HIL_SERIAL=/dev/ttyACM0). `bench.target` says which; tests that need to script the
 * devices on the lines (a phone, the exchange) need the virtual board and skip on a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtlClient } from '../../services/ctl/client.js';
import type { CtlMethod, CtlParams, CtlResult } from '../../services/ctl/protocol.js';
import '../../device/sim/control.js';
import { openSerialBoard, type SerialAnalogBoard, type SerialBoardOptions } from '../../device/driver/serial-board.js';
import type { LinkState, PortEvent, PortId } from '../../device/board.js';

// This file runs from dist/hw-tests/support/.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface SimControl {
  call<M extends CtlMethod>(method: M, params: CtlParams<M>): Promise<CtlResult<M>>;
}

export interface AnalogBench {
  target: 'virtual' | 'real';
  tty: string;
  dataDir: string;
  /** The virtual board's control; null on a real board. */
  sim: SimControl | null;
  /** The board-sim process (virtual only): tests check it never crashed. */
  simProcess: ChildProcess | null;
  simStderr(): string;
  close(): Promise<void>;
}

export function hilSerial(): string | null {
  const v = process.env.HIL_SERIAL;
  return v !== undefined && v !== '' ? v : null;
}

export function targetLine(): string {
  const real = hilSerial();
  return real === null ? 'analog hw-tests: running on the VIRTUAL board (device/sim on a socat pty)' : `analog hw-tests: running on the REAL board at ${real} (HIL_SERIAL)`;
}

export async function startAnalogBench(options: { fxs?: string; country?: string } = {}): Promise<AnalogBench> {
  const real = hilSerial();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'analog-hil-'));
  if (real !== null) {
    return { target: 'real', tty: real, dataDir, sim: null, simProcess: null, simStderr: () => '', close: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const socket = path.join(dataDir, 'board-sim.sock');
  let stderr = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/device/sim/main.js')], {
    env: { ...process.env, PBX_DATA_DIR: dataDir, PBX_LOG_STDOUT: '0', PBX_SIM_FXS: options.fxs ?? 'phone,fax', PBX_SIM_COUNTRY: options.country ?? 'US', PBX_SERIAL: '', PBX_SIM_SOCKET: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10000;
  while (!fs.existsSync(socket)) {
    if (child.exitCode !== null) throw new Error(`board-sim exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`board-sim did not open ${socket} within 10 s: ${stderr}`);
    await sleep(50);
  }
  const client = await CtlClient.connect(socket, { timeoutMs: 5000 });
  const sim: SimControl = {
    call: (method, params) => (client.request as (m: typeof method, p: typeof params) => Promise<CtlResult<typeof method>>).call(client, method, params),
  };
  return {
    target: 'virtual',
    tty: path.join(dataDir, 'sim', 'ttyACM0'),
    dataDir,
    sim,
    simProcess: child,
    simStderr: () => stderr,
    close: async () => {
      client.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or throws after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The driver under test, with everything it reported recorded. */
export interface DriverProbe {
  board: SerialAnalogBoard;
  events: PortEvent[];
  links: LinkState[];
  /** µ-law frames received per port name. */
  audio: Map<string, Buffer[]>;
  up(ms?: number): Promise<void>;
  close(): Promise<void>;
}

export function probeDriver(tty: string, options: SerialBoardOptions = {}): DriverProbe {
  const board = openSerialBoard(tty, { keepaliveMs: 250, linkTimeoutMs: 1000, reopenMaxMs: 1000, ...options });
  const events: PortEvent[] = [];
  const links: LinkState[] = [];
  const audio = new Map<string, Buffer[]>();
  board.onEvent((e) => events.push(e));
  board.onLink((s) => links.push(s));
  board.onAudio((port: PortId, frame: Buffer) => {
    const key = `${port.kind}${port.index}`;
    let list = audio.get(key);
    if (list === undefined) audio.set(key, (list = []));
    list.push(Buffer.from(frame));
    if (list.length > 1000) list.splice(0, list.length - 1000);
  });
  return {
    board,
    events,
    links,
    audio,
    up: async (ms = 8000) => {
      await waitFor('the link to be up', () => board.link === 'up', ms);
    },
    close: () => board.close(),
  };
}
