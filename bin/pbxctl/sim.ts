/**
 * `pbxctl sim`: drives the virtual analog board (device/sim) over its control socket, as a
 * technician without hardware (or a test) would drive a phone, a fax and the landline.
 */
import { CtlClient } from '../../services/ctl/client.js';
import { CtlError, type CtlMethod, type CtlParams, type CtlResult } from '../../services/ctl/protocol.js';
import { simControlSocket } from '../../device/driver/paths.js';
import type { FxoPortStatus, FxsPortStatus, SimStatus } from '../../device/sim/virtual-board.js';
import '../../device/sim/control.js';
import { SIM_FAX_USAGE, runSimFax } from './sim-fax.js';
import { Failure, UsageError, out, printJson, stringOption, table, type CommandGroup, type CommandContext } from './cli.js';

const USAGE = `  sim status [--json]      the virtual board: each device's hook, ringing, caller ID, what it hears
  sim fxs N offhook|onhook|flash
  sim fxs N dial DIGITS [--pulse]   in-band DTMF (default) or rotary pulses
  sim fxs N tone HZ|off    the device sends a steady tone (talk path tests)
  sim fxs N attach phone|fax
  sim fxs N cidcw D|A|off  how the phone answers caller ID on call waiting (D: type II, A: ADSI, off: no ACK)
  sim fxo ring [--caller-id NUMBER] [--name NAME]   the landline rings (caller ID after the first ring)
  sim fxo hangup           the landline's far end hangs up
  sim fxo answer|busy|no-answer   how the exchange treats the next outbound call
  sim fxo tone HZ|off      the far end sends a steady tone once connected
  sim board reset|unplug|plug|power-off|power-on
  sim board garble [--bytes N] [--frames N]   line noise toward the host
  sim button [--seconds N]  hold the front panel's reset button (0.5 s: restart; 10 s: factory reset)
${SIM_FAX_USAGE}`;

async function call<M extends CtlMethod>(ctx: CommandContext, method: M, params: CtlParams<M>): Promise<CtlResult<M>> {
  const socket = simControlSocket(ctx.config.dataDir);
  let client: CtlClient;
  try {
    client = await CtlClient.connect(socket, { timeoutMs: 5000 });
  } catch (error) {
    if (error instanceof CtlError && error.code === 'unavailable') throw new Failure(`no virtual board listens on ${socket} (is the board-sim app running? simulation mode only)`);
    throw new Failure(`the virtual board did not answer on ${socket}: ${(error as Error).message}`);
  }
  try {
    return await (client.request as (m: M, p: CtlParams<M>) => Promise<CtlResult<M>>).call(client, method, params);
  } catch (error) {
    if (error instanceof CtlError && error.code === 'invalid-params') throw new UsageError(error.message);
    throw new Failure((error as Error).message);
  } finally {
    client.close();
  }
}

function toneHz(word: string | undefined): number | null {
  if (word === 'off') return null;
  const hz = Number(word);
  if (word === undefined || !Number.isFinite(hz) || hz < 100 || hz > 3900) throw new UsageError('tone needs a frequency 100-3900 (Hz) or off');
  return hz;
}

function intOption(ctx: CommandContext, name: string): number | undefined {
  const v = stringOption(ctx.values, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

function hears(h: { hears: string; dominantHz: number | null }): string {
  return h.hears === 'other' && h.dominantHz !== null ? `other (${h.dominantHz} Hz)` : h.hears;
}

function printStatus(s: SimStatus): void {
  const b = s.board;
  out(`virtual board ${b.firmware} (${b.country}) on ${b.hostTty}: ${b.plugged ? 'plugged' : 'UNPLUGGED'}, ${b.powered ? 'powered' : 'UNPOWERED'}, ${b.mode}, relay ${b.relayEngaged ? 'ENGAGED' : 'released'}`);
  out(`  link: frames in ${b.link.framesIn} out ${b.link.framesOut}, checksum errors ${b.link.checksumErrors}, garbage ${b.link.garbageBytes} B, sequence gaps ${b.link.sequenceGaps}`);
  const rows = s.ports.map((p) => {
    if (p.device === 'central-office') {
      const c = p as FxoPortStatus;
      const line = [c.seized ? 'seized' : 'idle', c.ringing ? 'ringing' : '', c.loopCurrent ? 'loop' : '', c.polarityReversed ? 'reversed' : ''].filter(Boolean).join(',');
      const cid = c.callerIdSent ? `sent ${c.callerIdSent.number ?? 'private'}` : '-';
      return [c.port, 'central-office', `${c.state} (${line})`, c.ringing ? 'yes' : 'no', cid, hears(c.hears), c.dialled || '-'];
    }
    const f = p as FxsPortStatus;
    const cid = f.callerId ? `${f.callerId.number ?? f.callerId.numberAbsent ?? '?'}${f.callerId.name ? ` "${f.callerId.name}"` : ''}` : '-';
    const ring = f.ringing ? 'yes' : f.boardRinging ? 'cadence' : 'no';
    return [f.port, f.device, `${f.hook}-hook`, ring, cid, hears(f.hears), f.ringCadenceMs ? f.ringCadenceMs.join('/') : '-'];
  });
  out(table(['PORT', 'DEVICE', 'LINE', 'RINGING', 'CALLER ID', 'HEARS', 'CADENCE/DIALLED'], rows));
  const leds = s.panel.leds;
  out(`panel: ${leds === null ? 'no panel process on the simulated chip' : Object.entries(leds).map(([k, v]) => `${k} ${v ? 'ON' : 'off'}`).join(', ')}${s.panel.buttonPressed ? '; reset button HELD' : ''}`);
}

export const simCommands: CommandGroup = {
  name: 'sim',
  usage: USAGE,
  needsDatabase: false,
  options: {
    'caller-id': { type: 'string' },
    pulse: { type: 'boolean', default: false },
    bytes: { type: 'string' },
    frames: { type: 'string' },
    seconds: { type: 'string' },
    ident: { type: 'string' },
  },
  async run(ctx, args) {
    const [what, ...rest] = args;
    switch (what) {
      case 'status': {
        if (rest.length > 0) throw new UsageError(`sim status takes no argument (got ${rest[0]})`);
        const s = await call(ctx, 'sim.status', undefined);
        if (ctx.json) printJson(s);
        else printStatus(s);
        return;
      }
      case 'fxs': {
        const [n, action, arg, ...extra] = rest;
        if (n === undefined || !/^[1-9][0-9]?$/.test(n)) throw new UsageError('sim fxs needs a port number (1, 2 …)');
        if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
        const port = Number(n);
        let result: FxsPortStatus;
        switch (action) {
          case 'offhook':
          case 'onhook':
          case 'flash':
            if (arg !== undefined) throw new UsageError(`unexpected argument: ${arg}`);
            result = await call(ctx, 'sim.fxs', { port, action });
            break;
          case 'dial':
            if (arg === undefined) throw new UsageError('sim fxs N dial needs DIGITS');
            result = await call(ctx, 'sim.fxs', { port, action, digits: arg, mode: ctx.values.pulse === true ? 'pulse' : 'dtmf' });
            break;
          case 'tone':
            result = await call(ctx, 'sim.fxs', { port, action, hz: toneHz(arg) });
            break;
          case 'attach':
            if (arg !== 'phone' && arg !== 'fax') throw new UsageError('sim fxs N attach needs phone or fax');
            result = await call(ctx, 'sim.fxs', { port, action, device: arg });
            break;
          case 'cidcw':
            if (arg !== 'D' && arg !== 'A' && arg !== 'off') throw new UsageError('sim fxs N cidcw needs D, A or off');
            result = await call(ctx, 'sim.fxs', { port, action, ack: arg === 'off' ? null : arg });
            break;
          default:
            throw new UsageError('sim fxs N needs offhook, onhook, flash, dial DIGITS, tone HZ|off, attach phone|fax or cidcw D|A|off');
        }
        if (ctx.json) printJson(result);
        else out(`fxs${port}: ${result.device} ${result.hook}-hook, sending ${result.sending}`);
        return;
      }
      case 'fxo': {
        const [action, arg, ...extra] = rest;
        if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
        let result: FxoPortStatus;
        switch (action) {
          case 'ring': {
            const callerId = stringOption(ctx.values, 'caller-id') ?? null;
            if (callerId !== null && !/^[0-9+*#]{1,20}$/.test(callerId)) throw new UsageError('--caller-id must be 1-20 digits');
            result = await call(ctx, 'sim.fxo', { action: 'ring', callerId, name: stringOption(ctx.values, 'name') ?? null });
            break;
          }
          case 'hangup':
            result = await call(ctx, 'sim.fxo', { action: 'hangup' });
            break;
          case 'answer':
          case 'busy':
          case 'no-answer':
            result = await call(ctx, 'sim.fxo', { action: 'answer-mode', mode: action });
            break;
          case 'tone':
            result = await call(ctx, 'sim.fxo', { action: 'tone', hz: toneHz(arg) });
            break;
          default:
            throw new UsageError('sim fxo needs ring, hangup, answer, busy, no-answer or tone HZ|off');
        }
        if (ctx.json) printJson(result);
        else out(`fxo1: central office ${result.state}${result.ringing ? ', ringing' : ''}`);
        return;
      }
      case 'board': {
        const [action, ...extra] = rest;
        if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
        let result;
        switch (action) {
          case 'reset':
          case 'unplug':
          case 'plug':
          case 'power-off':
          case 'power-on':
            result = await call(ctx, 'sim.board', { action });
            break;
          case 'garble':
            result = await call(ctx, 'sim.board', { action, bytes: intOption(ctx, 'bytes') ?? 256, frames: intOption(ctx, 'frames') ?? 10 });
            break;
          default:
            throw new UsageError('sim board needs reset, unplug, plug, power-off, power-on or garble');
        }
        if (ctx.json) printJson(result);
        else out(`board: ${result.plugged ? 'plugged' : 'unplugged'}, ${result.powered ? 'powered' : 'unpowered'}, relay ${result.relayEngaged ? 'engaged' : 'released'}`);
        return;
      }
      case 'button': {
        if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
        const raw = stringOption(ctx.values, 'seconds') ?? '0.5';
        const seconds = Number(raw);
        if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || seconds < 0.05 || seconds > 30) throw new UsageError('--seconds must be 0.05 to 30');
        const result = await call(ctx, 'sim.board', { action: 'button', seconds });
        if (ctx.json) printJson(result);
        else out(`reset button held for ${seconds} s`);
        return;
      }
      case 'fax':
        return runSimFax(ctx, rest, call);
      default:
        throw new UsageError('sim needs status, fxs, fxo, board, button or fax');
    }
  },
};
