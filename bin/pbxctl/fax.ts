/**
 * `pbxctl fax send|list|remove`: the virtual fax line from the technician's side. `send` checks the
 * document (a PDF poppler can read), converts it to TIFF-F with ghostscript and queues it in SQLite;
 * the pbx sends it within seconds as the user (the dial plan and the international permission
 * apply there too, and are checked here first for a clear answer). `list` shows received and sent
 * faxes with their status, the far fax ID, pages and the last error.
 */
import fs from 'node:fs';
import { commitFile, pdfPages, pdfToTiff, resolveStored, tmpPath } from '../../services/fax/documents.js';
import { classifyOutbound, needsInternationalPermission } from '../../services/pbx/routing/outbound.js';
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import { ANALOG_T38_SETTING, FAX_T38_SETTING, faxNumberSchema, type FaxRecord } from '../../services/store/fax-schema.js';
import type { Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, table, UsageError, withStore, type CommandGroup } from './cli.js';
import type { RuntimeConfig } from '../../services/config.js';

export const faxCommands: CommandGroup = {
  name: 'fax',
  usage: `  fax send EXT NUMBER FILE.pdf   queue a fax from EXT's fax line to NUMBER (as dialled by EXT)
  fax list [EXT] [--json]        received and sent faxes, newest first, with status and errors
  fax remove ID                  delete a fax and its files
  fax t38 [on|off]               T.38 for fax calls (default on; off: G.711 only, for carriers whose T.38 fails)
  fax analog-t38 [on|off]        T.38 relay on the analog fax ports (default off: G.711 passthrough)`,
  async run({ config, json }, [sub, ...rest]) {
    if (sub === 'send') return withStore(config, (store) => faxSend(store, config, rest, json));
    if (sub === 'list') return withStore(config, (store) => faxList(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => faxRemove(store, config, rest, json));
    if (sub === 't38') return withStore(config, (store) => faxT38(store, rest, json));
    if (sub === 'analog-t38') return withStore(config, (store) => analogT38(store, rest, json));
    throw new UsageError(sub ? `unknown fax command: ${sub}` : 'fax needs a command: send, list, remove, t38, analog-t38');
  },
};

async function faxSend(store: Store, config: RuntimeConfig, args: string[], json: boolean): Promise<void> {
  const [extension, rawNumber, file] = positionals(args, ['EXT', 'NUMBER', 'FILE.pdf'], 'fax send') as [string, string, string];
  if (store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  const number = rawNumber.replace(/[\s().-]/g, '');
  const valid = faxNumberSchema.safeParse(number);
  if (!valid.success) throw new UsageError(valid.error.issues[0]?.message ?? 'bad fax number');
  const call = classifyOutbound(number, countryCode(config.country));
  if (call.kind === 'emergency') throw new Failure(`${number} is an emergency number: not a fax destination`);
  if (needsInternationalPermission(call) && store.extensionRouting.get(extension)?.international !== true) {
    throw new Failure(`${call.e164} is ${call.kind === 'premium' ? 'a premium-rate' : 'an international'} number and extension ${extension} may not call those (pbxctl extension set ${extension} --international on)`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new Failure(`cannot read ${file}`);
  }
  if (!stat.isFile()) throw new Failure(`${file} is not a file`);
  if (stat.size > 50 * 1024 * 1024) throw new Failure(`${file} is larger than 50 MB`);
  // Copies first: the user's file may change or vanish while we convert it.
  const pdfTmp = tmpPath(config.dataDir, 'pdf');
  const tiffTmp = tmpPath(config.dataDir, 'tif');
  let document: string | null = null;
  let image: string | null = null;
  try {
    fs.copyFileSync(file, pdfTmp);
    let pages: number;
    try {
      pages = await pdfPages(pdfTmp);
    } catch {
      throw new Failure(`${file} is not a readable PDF`);
    }
    if (pages < 1) throw new Failure(`${file} has no page`);
    if (pages > 500) throw new Failure(`${file} has ${pages} pages (at most 500)`);
    try {
      await pdfToTiff(pdfTmp, tiffTmp);
    } catch (error) {
      throw new Failure(`${file} could not be converted for faxing: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
    document = commitFile(config.dataDir, pdfTmp, extension);
    image = commitFile(config.dataDir, tiffTmp, 'outbox');
    const fax = store.faxes.queue({ extension, remoteNumber: number, pages, document, image });
    if (json) printJson(view(fax));
    else out(`fax ${fax.id} queued: ${pages} ${pages === 1 ? 'page' : 'pages'} from ${extension} to ${number} (the pbx sends it; pbxctl fax list shows its status)`);
  } catch (error) {
    for (const p of [pdfTmp, tiffTmp]) fs.rmSync(p, { force: true });
    for (const p of [document, image]) if (p !== null) fs.rmSync(resolveStored(config.dataDir, p), { force: true });
    throw error;
  }
}

function view(f: FaxRecord): Record<string, unknown> {
  return {
    id: f.id,
    direction: f.direction,
    extension: f.extension,
    status: f.status,
    number: f.remoteNumber,
    faxId: f.remoteIdent,
    pages: f.pages,
    transport: f.transport,
    attempts: f.attempts,
    maxAttempts: f.maxAttempts,
    nextAttemptAt: f.nextAttemptAt === null ? null : new Date(f.nextAttemptAt).toISOString(),
    error: f.error,
    document: f.document,
    mailId: f.mailId,
    createdAt: f.createdAt,
    completedAt: f.completedAt,
  };
}

function faxList(store: Store, args: string[], json: boolean): void {
  if (args.length > 1) throw new UsageError(`unexpected argument: ${args[1]}`);
  const extension = args[0];
  if (extension !== undefined && store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  const faxes = store.faxes.list({ ...(extension !== undefined && { extension }), limit: 200 });
  if (json) {
    printJson({ faxes: faxes.map(view) });
    return;
  }
  if (faxes.length === 0) {
    out('no faxes');
    return;
  }
  out(
    table(
      ['ID', 'DIR', 'EXT', 'STATUS', 'NUMBER', 'FAX ID', 'PAGES', 'VIA', 'TRIES', 'WHEN', 'ERROR'],
      faxes.map((f) => [
        String(f.id),
        f.direction === 'in' ? 'in' : 'out',
        f.extension,
        f.status,
        f.remoteNumber,
        f.remoteIdent ?? '-',
        String(f.pages),
        f.transport === 't38' ? 'T.38' : f.transport === 'audio' ? 'G.711' : '-',
        f.direction === 'out' ? `${f.attempts}/${f.maxAttempts}` : '-',
        (f.completedAt ?? f.createdAt).replace('T', ' ').slice(0, 19),
        f.error ?? '',
      ]),
    ),
  );
}

function faxRemove(store: Store, config: RuntimeConfig, args: string[], json: boolean): void {
  const [text] = positionals(args, ['ID'], 'fax remove');
  const id = Number(text);
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`fax id must be a positive integer (got "${text}")`);
  const fax = store.faxes.get(id);
  if (fax === null) throw new Failure(`fax ${id} does not exist`);
  if (fax.status === 'sending') throw new Failure(`fax ${id} is being sent now; remove it once the call is over`);
  store.faxes.remove(id);
  // Row first, files after: a crash in between leaves a file no row names, never a row without its file.
  for (const p of [fax.document, fax.image]) {
    if (p === null) continue;
    try {
      fs.rmSync(resolveStored(config.dataDir, p), { force: true });
    } catch {
      // a path outside the data directory is never removed
    }
  }
  if (json) printJson({ removed: id });
  else out(`fax ${id} removed`);
}

function faxT38(store: Store, args: string[], json: boolean): void {
  if (args.length > 1) throw new UsageError(`unexpected argument: ${args[1]}`);
  const value = args[0];
  if (value !== undefined) {
    if (value !== 'on' && value !== 'off') throw new UsageError(`fax t38 takes on or off (got "${value}")`);
    store.settings.set(FAX_T38_SETTING, value === 'on');
  }
  const on = store.settings.get<boolean>(FAX_T38_SETTING, true) !== false;
  if (json) printJson({ t38: on });
  else out(`T.38 for fax calls: ${on ? 'on' : 'off'}${value !== undefined ? ' (from the next call)' : ''}`);
}

function analogT38(store: Store, args: string[], json: boolean): void {
  if (args.length > 1) throw new UsageError(`unexpected argument: ${args[1]}`);
  const value = args[0];
  if (value !== undefined) {
    if (value !== 'on' && value !== 'off') throw new UsageError(`fax analog-t38 takes on or off (got "${value}")`);
    store.settings.set(ANALOG_T38_SETTING, value === 'on');
  }
  const on = store.settings.get<boolean>(ANALOG_T38_SETTING, false) === true;
  if (json) printJson({ analogT38: on });
  else out(`T.38 relay on the analog fax ports: ${on ? 'on' : 'off (G.711 passthrough)'}${value !== undefined ? ' (from the next call)' : ''}`);
}
