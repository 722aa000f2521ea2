/**
 * Fax documents on disk, beside SQLite: `<dataDir>/fax/<extension>/<stamp>-<random>.pdf` (received
 * and sent documents), `<dataDir>/fax/outbox/<stamp>-<random>.tif` (pages waiting to be sent),
 * `<dataDir>/fax/tmp/` (files being written: TIFF from the modem, PDF from tiff2pdf). A file is moved
 * into place only whole (fsync, rename, fsync of the directory) before its row is committed, so a
 * crash leaves a stray temp file (swept at start) but never a row naming a partial document.
 *
 * Conversions by well-kept tools, not by hand: tiff2pdf (libtiff-tools) for received pages,
 * ghostscript's tiffg4 device for documents to send, pdfinfo (poppler-utils) to count pages.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Conversions of a large document are bounded: a hung converter must not hold a fax forever. */
const CONVERT_TIMEOUT_MS = 120_000;

export function faxRoot(dataDir: string): string {
  return path.join(dataDir, 'fax');
}

export function faxTmpDir(dataDir: string): string {
  return path.join(faxRoot(dataDir), 'tmp');
}

/** A fresh name: time first (listing order), then randomness (two faxes in one millisecond). */
export function newName(ext: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}.${ext}`;
}

/** A path in the temp directory (created). */
export function tmpPath(dataDir: string, ext: string): string {
  fs.mkdirSync(faxTmpDir(dataDir), { recursive: true });
  return path.join(faxTmpDir(dataDir), newName(ext));
}

function fsyncPath(p: string, flags = 'r'): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Moves a complete temp file to `<fax>/<folder>/<name>` durably; returns the path relative to the
 * data directory (what the `faxes` row stores).
 */
export function commitFile(dataDir: string, tmp: string, folder: string): string {
  const dir = path.join(faxRoot(dataDir), folder);
  fs.mkdirSync(dir, { recursive: true });
  fsyncPath(tmp);
  const name = path.basename(tmp);
  fs.renameSync(tmp, path.join(dir, name));
  fsyncPath(dir);
  return path.relative(dataDir, path.join(dir, name));
}

/** The absolute path of a stored document; refuses anything that would leave the data directory. */
export function resolveStored(dataDir: string, relative: string): string {
  const root = path.resolve(dataDir);
  const full = path.resolve(root, relative);
  if (!full.startsWith(root + path.sep)) throw new Error(`stored path leaves the data directory: ${relative}`);
  return full;
}

/** Temp files a stopped process left (a fax interrupted mid-call): removed at start. */
export function sweepTmp(dataDir: string): number {
  const dir = faxTmpDir(dataDir);
  let removed = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed++;
    } catch {
      // another process's file vanished first
    }
  }
  return removed;
}

/** Received pages (TIFF-F) → PDF, one PDF page per fax page, at the fax's resolution. */
export async function tiffToPdf(tiff: string, pdf: string): Promise<void> {
  await run('tiff2pdf', ['-o', pdf, tiff], { timeout: CONVERT_TIMEOUT_MS });
}

/**
 * A PDF to send → TIFF-F that spandsp reads: G4 (T.6) at fine resolution (204×196 dpi), pages 1728
 * pixels wide (A4/Letter, T.4 §2.2), the content scaled to fit. `-dSAFER`: the PDF is a user's file.
 */
export async function pdfToTiff(pdf: string, tiff: string): Promise<void> {
  await run('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dSAFER', '-sDEVICE=tiffg4', '-r204x196', '-g1728x2156', '-dFIXEDMEDIA', '-dPDFFitPage', `-sOutputFile=${tiff}`, pdf], {
    timeout: CONVERT_TIMEOUT_MS,
  });
}

/** Pages of a PDF as poppler counts them; throws when it is not a readable PDF. */
export async function pdfPages(pdf: string): Promise<number> {
  const { stdout } = await run('pdfinfo', [pdf], { timeout: 30_000 });
  const match = /^Pages:\s+(\d+)\s*$/m.exec(stdout);
  if (match === null) throw new Error('pdfinfo gave no page count');
  return Number(match[1]);
}
