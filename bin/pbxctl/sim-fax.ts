/**
 * `pbxctl sim fax N …`: the virtual board's fax machine (device/sim/fax-machine.ts). `send` loads a
 * PDF or TIFF-F and dials; `status` lists what it sent and received (received pages are TIFF-F
 * files the board-sim process wrote, under `<dataDir>/sim/fax/`).
 */
import path from 'node:path';
import type { CtlMethod, CtlParams, CtlResult } from '../../services/ctl/protocol.js';
import type { FaxJobReport, FaxMachineReport } from '../../device/sim/fax-machine.js';
import '../../device/sim/fax-control.js';
import { UsageError, out, printJson, stringOption, table, type CommandContext } from './cli.js';

export const SIM_FAX_USAGE = `  sim fax N send FILE to NUMBER [--ident TSI]   the fax machine on fxsN dials NUMBER and sends FILE (PDF or TIFF-F)
  sim fax N status [--json]   what it sends now, what it sent and received (received pages: TIFF files)
  sim fax N answer-after RINGS   it answers after RINGS rings (default 2)`;

type Call = <M extends CtlMethod>(ctx: CommandContext, method: M, params: CtlParams<M>) => Promise<CtlResult<M>>;

function row(r: FaxJobReport): string[] {
  const pages = r.direction === 'send' ? r.pagesTx : r.pagesRx;
  return [r.direction, r.number ?? '-', r.remoteIdent || '-', String(pages), r.done ? r.resultText : 'in progress', r.bitRate > 0 ? `${r.bitRate}${r.ecm ? ' ECM' : ''}` : '-', r.file ?? '-'];
}

function print(port: string, s: FaxMachineReport): void {
  out(`${port}: fax machine "${s.ident}", ${s.state}, answers after ${s.answerAfterRings} ${s.answerAfterRings === 1 ? 'ring' : 'rings'}`);
  const jobs = [...s.sent, ...s.received].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  if (s.job !== null && !s.job.done) jobs.push(s.job);
  if (jobs.length === 0) {
    out('  no fax sent or received yet');
    return;
  }
  out(table(['DIR', 'NUMBER', 'FAR FAX ID', 'PAGES', 'RESULT', 'BIT/S', 'FILE'], jobs.map(row)));
}

export async function runSimFax(ctx: CommandContext, args: string[], call: Call): Promise<void> {
  const [n, action, ...rest] = args;
  if (n === undefined || !/^[1-9][0-9]?$/.test(n)) throw new UsageError('sim fax needs a port number (the FXS port of the fax machine: 1, 2 …)');
  const port = Number(n);
  let result: CtlResult<'sim.fax'>;
  switch (action) {
    case 'send': {
      const [file, to, number, ...extra] = rest;
      if (file === undefined || to !== 'to' || number === undefined) throw new UsageError('usage: sim fax N send FILE to NUMBER');
      if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
      const digits = number.replace(/[\s.()-]/g, '');
      if (!/^[0-9*#]{1,32}$/.test(digits)) throw new UsageError('NUMBER: digits, * and # (what the fax machine dials)');
      const ident = stringOption(ctx.values, 'ident');
      result = await call(ctx, 'sim.fax', { port, action, file: path.resolve(file), number: digits, ...(ident !== undefined && { ident }) });
      break;
    }
    case 'status':
      if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
      result = await call(ctx, 'sim.fax', { port, action });
      break;
    case 'answer-after': {
      const [rings, ...extra] = rest;
      if (rings === undefined || !/^[0-9]{1,2}$/.test(rings) || extra.length > 0) throw new UsageError('usage: sim fax N answer-after RINGS (1-10)');
      result = await call(ctx, 'sim.fax', { port, action, rings: Number(rings) });
      break;
    }
    default:
      throw new UsageError('sim fax N needs send FILE to NUMBER, status or answer-after RINGS');
  }
  if (ctx.json) printJson(result);
  else if (action === 'send') out(`${result.port}: dialling ${result.job?.number ?? ''} (pbxctl sim fax ${port} status shows the outcome)`);
  else print(result.port, result);
}
