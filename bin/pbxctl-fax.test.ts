/**
 * `pbxctl fax` without a pbx running: send queues (PDF checked and converted, files in place),
 * list shows, remove deletes row and files, t38 toggles the setting, bad input is refused clearly.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../services/store/index.js';

const PBXCTL = fileURLToPath(new URL('./pbxctl.js', import.meta.url));

function pbxctl(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dir, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

test('pbxctl fax send | list | remove | t38', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-fax-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ country: 'FR' }));
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-01' });
  store.close();
  const ps = path.join(dir, 'two.ps');
  const pdf = path.join(dir, 'two.pdf');
  fs.writeFileSync(ps, '/Helvetica findfont 30 scalefont setfont\n72 600 moveto (one) show showpage 72 600 moveto (two) show showpage\n');
  execFileSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dSAFER', '-sDEVICE=pdfwrite', `-sOutputFile=${pdf}`, ps]);
  try {
    const sent = await pbxctl(dir, ['fax', 'send', '101', '01 55 55 01 99', pdf, '--json']);
    assert.equal(sent.code, 0, sent.stderr);
    const fax = JSON.parse(sent.stdout) as { id: number; pages: number; status: string; document: string };
    assert.deepEqual([fax.pages, fax.status], [2, 'queued']);
    assert.ok(fs.existsSync(path.join(dir, fax.document)), 'the PDF is kept');
    const outbox = fs.readdirSync(path.join(dir, 'fax', 'outbox'));
    assert.equal(outbox.length, 1, 'its TIFF waits in the outbox');
    const tiffinfo = execFileSync('tiffinfo', [path.join(dir, 'fax', 'outbox', outbox[0] ?? '')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal((tiffinfo.match(/^TIFF Directory/gm) ?? []).length, 2);
    assert.match(tiffinfo, /Image Width: 1728/);
    const listed = await pbxctl(dir, ['fax', 'list']);
    assert.match(listed.stdout, new RegExp(`^${fax.id}\\s+out\\s+101\\s+queued\\s+0155550199\\s+-\\s+2\\s+-\\s+0/3`, 'm'));
    for (const [args, code, message] of [
      [['fax', 'send', '999', '0155550199', pdf], 2, /extension 999 does not exist/],
      [['fax', 'send', '101', '01-55;rm', pdf], 1, /fax number/],
      [['fax', 'send', '101', '0155550199', path.join(dir, 'missing.pdf')], 2, /cannot read/],
      [['fax', 'send', '101', '112', pdf], 2, /emergency/],
      [['fax', 'send', '101'], 1, /needs a NUMBER FILE.pdf/],
      [['fax', 'remove', 'abc'], 1, /positive integer/],
      [['fax', 't38', 'maybe'], 1, /on or off/],
    ] as const) {
      const r = await pbxctl(dir, [...args]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(JSON.parse((await pbxctl(dir, ['fax', 't38', '--json'])).stdout), { t38: true });
    assert.match((await pbxctl(dir, ['fax', 't38', 'off'])).stdout, /off/);
    assert.deepEqual(JSON.parse((await pbxctl(dir, ['fax', 't38', '--json'])).stdout), { t38: false });
    const removed = await pbxctl(dir, ['fax', 'remove', String(fax.id)]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(fs.existsSync(path.join(dir, fax.document)), false);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'fax', 'outbox')), []);
    assert.match((await pbxctl(dir, ['fax', 'list'])).stdout, /no faxes/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
