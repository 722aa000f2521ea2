/**
 * `pbxctl port` as the technician types it (real pbxctl process, real SQLite): assign an FXS port to
 * an extension, per-port country, the FXO line's number in any usual form, the listing with the
 * analog process's live state; bad input gets exit code 1 and a clear message, nothing written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../services/store/index.js';

const PBXCTL = fileURLToPath(new URL('../pbxctl.js', import.meta.url));

function pbxctl(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dir, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(dir: string, args: string[]): Promise<string> {
  const r = await pbxctl(dir, args);
  assert.equal(r.code, 0, `pbxctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('port assign/set/list: extension, country, FXO number; live state from the analog process', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-port-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ country: 'MX' }));
  const store = openStore(dir);
  store.extensions.add({ number: '201', displayName: 'Fax room', secret: 'secret-201-x' });
  store.close();

  assert.match(await ok(dir, ['port', 'assign', 'fxs1', '201']), /fxs1 registers as extension 201/);
  await ok(dir, ['port', 'set', 'fxs1', '--country', 'fr']);
  await ok(dir, ['port', 'set', 'fxo1', '--number', '55 1234 5600']);
  let rows = JSON.parse(await ok(dir, ['port', 'list', '--json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.map((r) => [r.port, r.extension, r.number, r.country, r.countryIsDefault, r.state]), [
    ['fxs1', '201', null, 'FR', false, 'not reported'],
    ['fxo1', null, '+525512345600', 'MX', true, 'not reported'],
  ]);

  // What the analog process reports is shown while fresh.
  const live = openStore(dir);
  live.analog.report([
    { name: 'fxs1', state: 'registered', detail: 'idle' },
    { name: 'fxs2', state: 'unassigned', detail: null },
    { name: 'board', state: 'up', detail: 'firmware 1.0' },
  ]);
  live.close();
  rows = JSON.parse(await ok(dir, ['port', 'list', '--json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.map((r) => [r.port, r.state]), [['fxs1', 'registered'], ['fxs2', 'unassigned'], ['fxo1', 'not reported']]);
  const text = await ok(dir, ['port', 'list']);
  assert.match(text, /fxo1\s+55 1234 5600\s+MX \(box\)/);
  const status = await ok(dir, ['status']);
  assert.match(status, /board: up \(firmware 1\.0\)/);
  assert.match(status, /fxs1\s+201\s+FR\s+registered\s+idle/);

  // Bad input: exit 1, a message, nothing written.
  const bad = [
    [['port', 'assign', 'fxs1', '999'], /extension 999 does not exist/],
    [['port', 'assign', 'fxo1', '201'], /only FXS ports take an extension/],
    [['port', 'assign', 'fxz1', '201'], /not a port name/],
    [['port', 'set', 'fxs1', '--country', 'DE'], /country must be one of/],
    [['port', 'set', 'fxs1', '--number', '5512345600'], /only an FXO port/],
    [['port', 'set', 'fxo1', '--number', '12'], /not a valid phone number/],
  ] as const;
  for (const [args, message] of bad) {
    const r = await pbxctl(dir, [...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
  }
  rows = JSON.parse(await ok(dir, ['port', 'list', '--json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.find((r) => r.port === 'fxs1')?.country, 'FR');

  // Removing the extension takes the port out of service rather than failing.
  const s = openStore(dir);
  s.extensions.remove('201');
  assert.equal(s.analog.get('fxs1')?.extension, null);
  s.close();
  await ok(dir, ['port', 'unassign', 'fxs1']);
});
