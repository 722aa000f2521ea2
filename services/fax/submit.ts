/**
 * Queueing a fax to send and removing one, from outside the pbx (`pbxctl fax`, the web UI): the same
 * checks for both. The number is dialled as the user would dial it (national or `+` form); an
 * emergency number is refused; international and premium numbers need the extension's
 * international permission (toll fraud: the pbx checks again when it sends). The document must be a
 * PDF poppler can read (1 to 500 pages); ghostscript converts it to the TIFF-F the modem sends, and
 * only then are the files committed and the row queued, so a refused document leaves nothing.
 */
import fs from 'node:fs';
import { classifyOutbound, needsInternationalPermission } from '../pbx/routing/outbound.js';
import type { CountryCode } from '../pbx/routing/phone-numbers.js';
import { ANALOG_T38_SETTING, FAX_T38_SETTING, faxNumberSchema, type FaxRecord } from '../store/fax-schema.js';
import type { Store } from '../store/index.js';
import { commitFile, pdfPages, pdfToTiff, resolveStored, tmpPath } from './documents.js';

/** The largest document accepted (pbxctl and the web UI). */
export const FAX_MAX_BYTES = 50 * 1024 * 1024;
export const FAX_MAX_PAGES = 500;

export type FaxRefusal = 'no-extension' | 'fax-number' | 'emergency' | 'international' | 'not-pdf' | 'no-pages' | 'too-many-pages' | 'convert' | 'sending';

export class FaxRefused extends Error {
  constructor(
    readonly code: FaxRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'FaxRefused';
  }
}

/** Spaces, dots, dashes and brackets as people write numbers go; the rest is checked. */
export function checkFaxDestination(store: Pick<Store, 'extensions' | 'extensionRouting'>, country: CountryCode, extension: string, rawNumber: string): string {
  if (store.extensions.get(extension) === null) throw new FaxRefused('no-extension', `extension ${extension} does not exist`);
  const number = rawNumber.replace(/[\s().-]/g, '');
  const valid = faxNumberSchema.safeParse(number);
  if (!valid.success) throw new FaxRefused('fax-number', valid.error.issues[0]?.message ?? 'bad fax number');
  const call = classifyOutbound(number, country);
  if (call.kind === 'emergency') throw new FaxRefused('emergency', `${number} is an emergency number: not a fax destination`);
  if (needsInternationalPermission(call) && store.extensionRouting.get(extension)?.international !== true) {
    throw new FaxRefused(
      'international',
      `${call.e164} is ${call.kind === 'premium' ? 'a premium-rate' : 'an international'} number and extension ${extension} may not call those (pbxctl extension set ${extension} --international on)`,
    );
  }
  return number;
}

/**
 * Queues `pdf` (a file in the fax temp directory, `tmpPath(dataDir, 'pdf')`, that this function
 * owns: committed on success, removed on any refusal) from `extension` to `number` (already checked
 * by `checkFaxDestination`).
 */
export async function queueFax(store: Pick<Store, 'faxes'>, dataDir: string, extension: string, number: string, pdf: string, label = 'the document'): Promise<FaxRecord> {
  const tiffTmp = tmpPath(dataDir, 'tif');
  let document: string | null = null;
  let image: string | null = null;
  try {
    let pages: number;
    try {
      // The header within the first 1024 bytes, as PDF readers accept it (ISO 32000 Annex H.3): a
      // text file or an image is refused before a converter sees it.
      const head = Buffer.alloc(1024);
      const fd = fs.openSync(pdf, 'r');
      let read: number;
      try {
        read = fs.readSync(fd, head, 0, head.length, 0);
      } finally {
        fs.closeSync(fd);
      }
      if (!head.subarray(0, read).includes('%PDF-')) throw new Error('no PDF header');
      pages = await pdfPages(pdf);
    } catch {
      throw new FaxRefused('not-pdf', `${label} is not a readable PDF`);
    }
    if (pages < 1) throw new FaxRefused('no-pages', `${label} has no page`);
    if (pages > FAX_MAX_PAGES) throw new FaxRefused('too-many-pages', `${label} has ${pages} pages (at most ${FAX_MAX_PAGES})`);
    try {
      await pdfToTiff(pdf, tiffTmp);
    } catch (error) {
      throw new FaxRefused('convert', `${label} could not be converted for faxing: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
    document = commitFile(dataDir, pdf, extension);
    image = commitFile(dataDir, tiffTmp, 'outbox');
    return store.faxes.queue({ extension, remoteNumber: number, pages, document, image });
  } catch (error) {
    for (const p of [pdf, tiffTmp]) fs.rmSync(p, { force: true });
    for (const p of [document, image]) if (p !== null) fs.rmSync(resolveStored(dataDir, p), { force: true });
    throw error;
  }
}

/** A temp path for a document about to be queued. */
export function faxUploadPath(dataDir: string): string {
  return tmpPath(dataDir, 'pdf');
}

/** Row first, files after: a crash in between leaves a file no row names, never a row without its file. */
export function removeFax(store: Pick<Store, 'faxes'>, dataDir: string, fax: FaxRecord): void {
  if (fax.status === 'sending') throw new FaxRefused('sending', `fax ${fax.id} is being sent now; remove it once the call is over`);
  store.faxes.remove(fax.id);
  for (const p of [fax.document, fax.image]) {
    if (p === null) continue;
    try {
      fs.rmSync(resolveStored(dataDir, p), { force: true });
    } catch {
      // a path outside the data directory is never removed
    }
  }
}

/** The user's fax numbers: the numbers mapped to `fax:EXT` (a user has a fax line when there is one). */
export function faxLineNumbers(store: Pick<Store, 'numbers'>, extension: string): string[] {
  return store.numbers
    .list()
    .filter((n) => n.destination.kind === 'fax' && n.destination.extension === extension)
    .map((n) => n.number);
}

/** A fax as `pbxctl fax list --json` and the web UI show it. */
export function faxView(f: FaxRecord): Record<string, unknown> {
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

/**
 * The fax transports, one switch each (pbxctl `fax t38` / `fax analog-t38`, and the web's Faxes
 * page): T.38 on the fax line's calls (on by default; off: G.711 only, for carriers whose T.38
 * fails) and the T.38 relay on the analog fax ports (off by default: G.711 passthrough).
 */
export const FAX_SWITCHES = {
  t38: { setting: FAX_T38_SETTING, byDefault: true },
  analogT38: { setting: ANALOG_T38_SETTING, byDefault: false },
} as const;
export type FaxSwitch = keyof typeof FAX_SWITCHES;

export function faxSwitch(store: Pick<Store, 'settings'>, name: FaxSwitch): boolean {
  const sw = FAX_SWITCHES[name];
  const stored = store.settings.get<boolean>(sw.setting, sw.byDefault);
  return sw.byDefault ? stored !== false : stored === true;
}

export function setFaxSwitch(store: Pick<Store, 'settings'>, name: FaxSwitch, on: boolean): void {
  store.settings.set(FAX_SWITCHES[name].setting, on);
}
