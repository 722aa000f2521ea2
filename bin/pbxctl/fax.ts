/**
 * `pbxctl fax send|list|remove`: the virtual fax line from the technician's side. `send` checks the
 * document (a PDF poppler can read), converts it to TIFF-F with ghostscript and queues it in SQLite;
 * the pbx sends it within seconds as the user (the dial plan and the international permission
 * apply there too, and are checked here first for a clear answer). `list` shows received and sent
 * faxes with their status, the far fax ID, pages and the last error.
 */
import fs from 'node:fs';
import { checkFaxDestination, FAX_MAX_BYTES, FaxRefused, faxSwitch, faxUploadPath, faxView, queueFax, removeFax, setFaxSwitch, type FaxSwitch } from '../../services/fax/submit.js';
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import type { FaxRecord } from '../../services/store/fax-schema.js';
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
    if (sub === 't38') return withStore(config, (store) => faxSwitchCommand(store, FAX_T38, rest, json));
    if (sub === 'analog-t38') return withStore(config, (store) => faxSwitchCommand(store, ANALOG_T38, rest, json));
    throw new UsageError(sub ? `unknown fax command: ${sub}` : 'fax needs a command: send, list, remove, t38, analog-t38');
  },
};

async function faxSend(store: Store, config: RuntimeConfig, args: string[], json: boolean): Promise<void> {
  const [extension, rawNumber, file] = positionals(args, ['EXT', 'NUMBER', 'FILE.pdf'], 'fax send') as [string, string, string];
  let number: string;
  try {
    number = checkFaxDestination(store, countryCode(config.country), extension, rawNumber);
  } catch (error) {
    if (error instanceof FaxRefused) throw error.code === 'fax-number' ? new UsageError(error.message) : new Failure(error.message);
    throw error;
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new Failure(`cannot read ${file}`);
  }
  if (!stat.isFile()) throw new Failure(`${file} is not a file`);
  if (stat.size > FAX_MAX_BYTES) throw new Failure(`${file} is larger than 50 MB`);
  // A copy first: the user's file may change or vanish while we convert it.
  const pdfTmp = faxUploadPath(config.dataDir);
  let fax: FaxRecord;
  try {
    fs.copyFileSync(file, pdfTmp);
    fax = await queueFax(store, config.dataDir, extension, number, pdfTmp, file);
  } catch (error) {
    fs.rmSync(pdfTmp, { force: true });
    if (error instanceof FaxRefused) throw new Failure(error.message);
    throw error;
  }
  if (json) printJson(faxView(fax));
  else out(`fax ${fax.id} queued: ${fax.pages} ${fax.pages === 1 ? 'page' : 'pages'} from ${extension} to ${number} (the pbx sends it; pbxctl fax list shows its status)`);
}

function faxList(store: Store, args: string[], json: boolean): void {
  if (args.length > 1) throw new UsageError(`unexpected argument: ${args[1]}`);
  const extension = args[0];
  if (extension !== undefined && store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  const faxes = store.faxes.list({ ...(extension !== undefined && { extension }), limit: 200 });
  if (json) {
    printJson({ faxes: faxes.map(faxView) });
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
  try {
    removeFax(store, config.dataDir, fax);
  } catch (error) {
    if (error instanceof FaxRefused) throw new Failure(error.message);
    throw error;
  }
  if (json) printJson({ removed: id });
  else out(`fax ${id} removed`);
}

/** `fax t38` and `fax analog-t38`: the switches of services/fax/submit.ts, as pbxctl shows them. */
interface Switch {
  command: string;
  name: FaxSwitch;
  label: string;
  offText: string;
}
const FAX_T38: Switch = { command: 't38', name: 't38', label: 'T.38 for fax calls', offText: 'off' };
const ANALOG_T38: Switch = { command: 'analog-t38', name: 'analogT38', label: 'T.38 relay on the analog fax ports', offText: 'off (G.711 passthrough)' };

function faxSwitchCommand(store: Store, sw: Switch, args: string[], json: boolean): void {
  if (args.length > 1) throw new UsageError(`unexpected argument: ${args[1]}`);
  const value = args[0];
  if (value !== undefined) {
    if (value !== 'on' && value !== 'off') throw new UsageError(`fax ${sw.command} takes on or off (got "${value}")`);
    setFaxSwitch(store, sw.name, value === 'on');
  }
  const on = faxSwitch(store, sw.name);
  if (json) printJson({ [sw.name]: on });
  else out(`${sw.label}: ${on ? 'on' : sw.offText}${value !== undefined ? ' (from the next call)' : ''}`);
}
