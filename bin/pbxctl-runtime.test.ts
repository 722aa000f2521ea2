/** pbxctl's runtime commands: the --init guard, `backup`, `logs` (with --follow), against real files. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../services/store/index.js';
import { PBXCTL, pbxctl } from '../hw-tests/support/pbxctl.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-rt-'));

test('a data dir without the appliance database is refused (a typo must not create a second box) unless --init', async () => {
  const dir = tempDir();
  const typo = path.join(dir, 'vra');
  let r = await pbxctl(['--data-dir', typo, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no appliance database in .*vra \(no pbx\.sqlite\): check --data-dir or PBX_DATA_DIR; give --init to create one there/);
  assert.ok(!fs.existsSync(path.join(typo, 'pbx.sqlite')), 'nothing created');
  r = await pbxctl(['--data-dir', typo, 'status']);
  assert.equal(r.code, 2);

  fs.writeFileSync(path.join(dir, 'pbx.sqlite'), 'not a database at all');
  r = await pbxctl(['--data-dir', dir, 'extension', 'list']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not an appliance database/);

  r = await pbxctl(['--data-dir', typo, '--init', 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse']);
  assert.equal(r.code, 0, r.stderr);
  r = await pbxctl(['--data-dir', typo, 'extension', 'list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^101\s+Ana/m);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('backup FILE: a consistent copy by the online backup API, with the live WAL content in it', async () => {
  const dir = tempDir();
  const store = openStore(dir);
  for (let i = 0; i < 50; i++) store.extensions.add({ number: String(200 + i), displayName: `E${i}`, secret: `secret-${i}-long` });
  // Left open: the rows sit in the WAL of a live writer, as with a running pbx.
  const target = path.join(dir, 'backups', 'copy.sqlite');
  let r = await pbxctl(['--data-dir', dir, 'backup', target]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /database backed up to .*copy\.sqlite/);
  const copyDir = path.join(dir, 'restored');
  fs.mkdirSync(copyDir);
  fs.copyFileSync(target, path.join(copyDir, 'pbx.sqlite'));
  const copy = openStore(copyDir);
  assert.equal(copy.extensions.list().length, 50);
  copy.close();
  r = await pbxctl(['--data-dir', dir, 'backup', target]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /exists: choose a new file name/);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('logs: merged by time across processes and rotated files, filtered by --call and --level; --follow prints what is appended', async () => {
  const dir = tempDir();
  openStore(dir).close();
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const line = (time: string, level: number, name: string, msg: string, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ level, time, pid: 1, hostname: 'box', name, ...extra, msg });
  fs.writeFileSync(path.join(logs, 'pbx.log.1'), line('2026-12-01T10:00:00.000Z', 30, 'pbx', 'pbx started') + '\n');
  fs.writeFileSync(path.join(logs, 'pbx.log'), [
    line('2026-12-01T10:00:02.000Z', 30, 'pbx', 'call answered', { callId: 'abc@1' }),
    line('2026-12-01T10:00:04.000Z', 40, 'pbx', 'authentication failed', { source: '192.0.2.7', extension: '101' }),
    line('2026-12-01T10:00:05.000Z', 20, 'pbx', 'relayed request', { callId: 'abc@1' }),
  ].join('\n') + '\n');
  fs.writeFileSync(path.join(logs, 'web.log'), line('2026-12-01T10:00:03.000Z', 30, 'web', 'login', { user: 'admin' }) + '\n');

  let r = await pbxctl(['--data-dir', dir, 'logs']);
  assert.equal(r.code, 0, r.stderr);
  const msgs = r.stdout.trim().split('\n').map((l) => / (?:pbx|web): (.*?)(?:  |$)/.exec(l)?.[1]);
  assert.deepEqual(msgs, ['pbx started', 'call answered', 'login', 'authentication failed', 'relayed request']);
  assert.match(r.stdout, /^2026-12-01T10:00:04\.000Z WARN  pbx: authentication failed  source=192\.0\.2\.7 extension=101$/m);

  r = await pbxctl(['--data-dir', dir, 'logs', '--call', 'abc@1', '--json']);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['call answered', 'relayed request']);
  r = await pbxctl(['--data-dir', dir, 'logs', '--level', 'warn']);
  assert.deepEqual(r.stdout.trim().split('\n').length, 1);
  r = await pbxctl(['--data-dir', dir, 'logs', '--lines', '2']);
  assert.equal(r.stdout.trim().split('\n').length, 2);
  r = await pbxctl(['--data-dir', dir, 'logs', '--level', 'loud']);
  assert.equal(r.code, 1);

  const follower = spawn(process.execPath, [PBXCTL, '--data-dir', dir, 'logs', '--follow', '--lines', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  follower.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  // Appended until seen: the follower's own start-up time is not ours to guess.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !/call lost/.test(seen)) {
    fs.appendFileSync(path.join(logs, 'pbx.log'), line('2026-12-01T10:00:09.000Z', 40, 'pbx', 'call lost in a pbx restart: phones sent BYE') + '\n');
    await new Promise((r2) => setTimeout(r2, 500));
  }
  follower.kill('SIGINT');
  await new Promise((r2) => follower.once('exit', r2));
  assert.match(seen, /WARN  pbx: call lost in a pbx restart/);
  assert.doesNotMatch(seen, /pbx started/, '--lines 0: only what is new');
  fs.rmSync(dir, { recursive: true, force: true });
});
