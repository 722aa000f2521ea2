/**
 * The fax machine's part of the virtual board's control socket (`sim.fax`, driven by
 * `pbxctl sim fax N …` and the hw-tests): load a document and send it to a number, set after how
 * many rings it answers, read what it sent and received (the received pages' TIFF-F paths).
 */
import path from 'node:path';
import { z } from 'zod';
import { CtlError } from '../../services/ctl/protocol.js';
import type { CtlServer } from '../../services/ctl/server.js';
import { SimError } from './devices.js';
import { FaxMachine, type FaxMachineReport } from './fax-machine.js';
import type { VirtualBoard } from './virtual-board.js';

export const faxParams = z.discriminatedUnion('action', [
  z.object({
    port: z.number().int().min(1),
    action: z.literal('send'),
    /** absolute path of a PDF or TIFF-F, read by the board-sim process */
    file: z.string().min(1).max(4096).refine((f) => path.isAbsolute(f), 'must be an absolute path'),
    number: z.string().regex(/^[0-9*#]{1,32}$/, 'digits, * and # only'),
    ident: z.string().regex(/^[\x20-\x7e]{1,20}$/, '1-20 printable ASCII characters').optional(),
  }),
  z.object({ port: z.number().int().min(1), action: z.literal('status') }),
  z.object({ port: z.number().int().min(1), action: z.literal('answer-after'), rings: z.number().int().min(1).max(10) }),
]);

export type SimFaxResult = FaxMachineReport & { port: string };

declare module '../../services/ctl/protocol.js' {
  interface CtlMethods {
    'sim.fax': { params: z.input<typeof faxParams>; result: SimFaxResult };
  }
}

export function registerFaxControl(ctl: CtlServer, board: VirtualBoard): void {
  ctl.handle('sim.fax', async (params) => {
    const r = faxParams.safeParse(params);
    if (!r.success) throw new CtlError('invalid-params', r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; '));
    const p = r.data;
    try {
      const device = board.fxsDevice(p.port);
      if (!(device instanceof FaxMachine)) throw new SimError(`fxs${p.port} has a ${device.kind}, not a fax machine (pbxctl sim fxs ${p.port} attach fax)`);
      if (p.action === 'send') await device.send(p.file, p.number, p.ident);
      if (p.action === 'answer-after') device.answerAfterRings = p.rings;
      return { port: `fxs${p.port}`, ...device.faxStatus() };
    } catch (error) {
      if (error instanceof SimError) throw new CtlError('invalid-params', error.message);
      throw error;
    }
  });
}
