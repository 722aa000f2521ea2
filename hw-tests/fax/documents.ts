/**
 * Test documents for the fax tests: a PDF of N pages made by ghostscript from PostScript text
 * (each page says its number), and its TIFF-F as the sending fax machine reads it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function makePdf(dir: string, pages: number, name = 'document'): string {
  const ps = path.join(dir, `${name}.ps`);
  const pdf = path.join(dir, `${name}.pdf`);
  fs.writeFileSync(
    ps,
    `/Helvetica findfont 36 scalefont setfont\n1 1 ${pages} { /n exch def 72 600 moveto (Fax test page ) show n 3 string cvs show 72 500 moveto (The quick brown fox jumps) show showpage } for\n`,
  );
  execFileSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dSAFER', '-sDEVICE=pdfwrite', `-sOutputFile=${pdf}`, ps]);
  return pdf;
}

export function pdfToFaxTiff(pdf: string, tiff: string): string {
  execFileSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dSAFER', '-sDEVICE=tiffg4', '-r204x196', '-g1728x2156', '-dFIXEDMEDIA', '-dPDFFitPage', `-sOutputFile=${tiff}`, pdf]);
  return tiff;
}

/** Pages as poppler's pdfinfo counts them (a judge that is not ours). */
export function pdfPageCount(pdf: string): number {
  const out = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
  const m = /^Pages:\s+(\d+)/m.exec(out);
  if (m === null) throw new Error(`pdfinfo: no page count for ${pdf}`);
  return Number(m[1]);
}

/** Pages of a TIFF as libtiff's tiffinfo counts them. */
export function tiffPageCount(tiff: string): number {
  const out = execFileSync('tiffinfo', [tiff], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (out.match(/^TIFF Directory at offset/gm) ?? []).length;
}

/** One page as a 1-bit bitmap (PBM P4 rows, 1 = black). */
export interface PageBitmap {
  width: number;
  height: number;
  bits: Buffer;
}

/**
 * The pages of a PDF rendered by poppler (pdftoppm, monochrome) at the fax's fine resolution,
 * 204×196 dpi: a page of the fax as its pixels, whatever made the PDF.
 */
export function renderPdfPages(pdf: string, dir: string, name: string): PageBitmap[] {
  const prefix = path.join(dir, name);
  execFileSync('pdftoppm', ['-mono', '-rx', '204', '-ry', '196', pdf, prefix]);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.pbm')).sort();
  return files.map((f) => parsePbm(fs.readFileSync(path.join(dir, f))));
}

/** A fax TIFF (as the machine received it) rendered the same way: tiff2pdf, then pdftoppm. */
export function renderTiffPages(tiff: string, dir: string, name: string): PageBitmap[] {
  const pdf = path.join(dir, `${name}.pdf`);
  execFileSync('tiff2pdf', ['-o', pdf, tiff]);
  return renderPdfPages(pdf, dir, name);
}

function parsePbm(data: Buffer): PageBitmap {
  // "P4" whitespace width whitespace height, one whitespace, then rows padded to bytes.
  const header = /^P4\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s/.exec(data.subarray(0, 200).toString('latin1'));
  if (header === null) throw new Error('not a P4 PBM');
  const width = Number(header[1]);
  const height = Number(header[2]);
  return { width, height, bits: data.subarray(header[0].length, header[0].length + Math.ceil(width / 8) * height) };
}

function popcount(byte: number): number {
  let n = 0;
  for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}

export function blackPixels(page: PageBitmap): number {
  let n = 0;
  for (const byte of page.bits) n += popcount(byte);
  return n;
}

/** Pixels that differ between two pages of the same size, over the black pixels of `a` (0 = identical). */
export function pageDifference(a: PageBitmap, b: PageBitmap): number {
  if (a.width !== b.width || a.height !== b.height) return Infinity;
  let diff = 0;
  for (let i = 0; i < a.bits.length; i++) diff += popcount((a.bits[i] as number) ^ (b.bits[i] as number));
  return diff / Math.max(1, blackPixels(a));
}
