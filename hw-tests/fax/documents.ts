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
