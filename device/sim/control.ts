/**
 * The virtual board's control socket (JSON lines, the same protocol as services/ctl): what
 * `pbxctl sim` and the hw-tests drive. Parameters are parsed here with zod; a device refusing an
 * action (dial while on-hook) is an `invalid-params` error with the reason.
 */
import { z } from 'zod';
import type { Logger } from '../../services/log.js';
import { CtlError } from '../../services/ctl/protocol.js';
import { startCtlServer, type CtlServer } from '../../services/ctl/server.js';
import { AnalogPhone, SimError } from './devices.js';
import { registerFaxControl } from './fax-control.js';
import type { BoardStatus, FxoPortStatus, FxsPortStatus, SimStatus, VirtualBoard } from './virtual-board.js';

export const fxsParams = z.discriminatedUnion('action', [
  z.object({ port: z.number().int().min(1), action: z.enum(['offhook', 'onhook', 'flash']) }),
  z.object({ port: z.number().int().min(1), action: z.literal('dial'), digits: z.string().min(1).max(64), mode: z.enum(['dtmf', 'pulse']).default('dtmf') }),
  z.object({ port: z.number().int().min(1), action: z.literal('tone'), hz: z.number().min(100).max(3900).nullable() }),
  z.object({ port: z.number().int().min(1), action: z.literal('attach'), device: z.enum(['phone', 'fax']) }),
  z.object({ port: z.number().int().min(1), action: z.literal('cidcw'), ack: z.enum(['D', 'A']).nullable() }),
]);

export const fxoParams = z.discriminatedUnion('action', [
  z.object({ action: z.literal('ring'), callerId: z.string().regex(/^[0-9+*#]{1,20}$/).nullable().default(null), name: z.string().max(15).nullable().default(null) }),
  z.object({ action: z.literal('hangup') }),
  z.object({ action: z.literal('answer-mode'), mode: z.enum(['answer', 'busy', 'no-answer']) }),
  z.object({ action: z.literal('tone'), hz: z.number().min(100).max(3900).nullable() }),
]);

export const boardParams = z.discriminatedUnion('action', [
  z.object({ action: z.enum(['reset', 'unplug', 'plug', 'power-off', 'power-on']) }),
  z.object({ action: z.literal('garble'), bytes: z.number().int().min(0).max(65536).default(256), frames: z.number().int().min(0).max(10000).default(10) }),
  z.object({ action: z.literal('button'), seconds: z.number().min(0.05).max(30).default(0.5) }),
  /** Raw bytes (base64) onto the line toward the host: the fuzz test. */
  z.object({ action: z.literal('inject'), base64: z.string().max(1_000_000) }),
]);

declare module '../../services/ctl/protocol.js' {
  interface CtlMethods {
    'sim.status': { params: void; result: SimStatus };
    'sim.fxs': { params: z.input<typeof fxsParams>; result: FxsPortStatus };
    'sim.fxo': { params: z.input<typeof fxoParams>; result: FxoPortStatus };
    'sim.board': { params: z.input<typeof boardParams>; result: BoardStatus };
  }
}

function parse<S extends z.ZodTypeAny>(schema: S, params: unknown): z.infer<S> {
  const r = schema.safeParse(params);
  if (!r.success) throw new CtlError('invalid-params', r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; '));
  return r.data as z.infer<S>;
}

function simCall<R>(fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SimError) throw new CtlError('invalid-params', err.message);
    throw err;
  }
}

export async function startSimControl(socketPath: string, board: VirtualBoard, log: Logger): Promise<CtlServer> {
  const ctl = await startCtlServer(socketPath, log);
  const portStatus = (name: string): FxsPortStatus | FxoPortStatus => {
    const s = board.status().ports.find((p) => p.port === name);
    if (s === undefined) throw new CtlError('invalid-params', `no port ${name}`);
    return s;
  };
  ctl.handle('ping', () => ({ pong: true, pid: process.pid }));
  ctl.handle('sim.status', () => board.status());
  registerFaxControl(ctl, board);
  ctl.handle('sim.fxs', (params) =>
    simCall(() => {
      const p = parse(fxsParams, params);
      const dev = board.fxsDevice(p.port);
      switch (p.action) {
        case 'offhook':
          dev.offhook();
          break;
        case 'onhook':
          dev.onhook();
          break;
        case 'flash':
          dev.flash();
          break;
        case 'dial':
          dev.dial(p.digits, p.mode);
          break;
        case 'tone':
          dev.tone(p.hz);
          break;
        case 'attach':
          board.attach(p.port, p.device);
          break;
        case 'cidcw':
          if (!(dev instanceof AnalogPhone)) throw new SimError(`fxs${p.port} has a ${dev.kind}, not a phone`);
          dev.cidcwAck = p.ack;
          break;
      }
      return portStatus(`fxs${p.port}`) as FxsPortStatus;
    }),
  );
  ctl.handle('sim.fxo', (params) =>
    simCall(() => {
      const p = parse(fxoParams, params);
      switch (p.action) {
        case 'ring':
          board.co.ring(p.callerId === null && p.name === null ? null : { number: p.callerId, name: p.name });
          break;
        case 'hangup':
          board.co.hangup();
          break;
        case 'answer-mode':
          board.co.answerMode = p.mode;
          break;
        case 'tone':
          board.co.tone(p.hz);
          break;
      }
      return portStatus('fxo1') as FxoPortStatus;
    }),
  );
  ctl.handle('sim.board', async (params) => {
    const p = parse(boardParams, params);
    switch (p.action) {
      case 'reset':
        board.reset();
        break;
      case 'unplug':
        await board.unplug();
        break;
      case 'plug':
        await board.plug();
        break;
      case 'power-off':
        board.power(false);
        break;
      case 'power-on':
        board.power(true);
        break;
      case 'garble':
        board.garble(p.bytes, p.frames);
        break;
      case 'button':
        board.pressButton(p.seconds);
        break;
      case 'inject':
        board.rawToHost(Buffer.from(p.base64, 'base64'));
        break;
    }
    return board.status().board;
  });
  return ctl;
}
