/**
 * The pbx process's traps (issue 21 item 6), with the real process and real files: a deleted or
 * replaced database file stops it (exit 3) instead of serving a file nobody reads; a bad
 * PBX_LOG_LEVEL is named; the log goes to <dataDir>/logs; the WAL is checkpointed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../store/index.js';
import { startPbx } from './app.js';
import { loadConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { spawnPbx } from './spawn-pbx.js';
import { trimStderrFile } from './stderr-file.js';

const STARTED = /"msg":"pbx started"/;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-runtime-'));
}

function env(dir: string): Record<string, string> {
  return { PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_HTTP_PORT: '0' };
}

for (const how of ['deleted', 'replaced'] as const) {
  test(`the database file ${how} under the running pbx: it logs an error and stops with exit 3`, async () => {
    const dir = tempDir();
    const pbx = spawnPbx(env(dir));
    try {
      await pbx.waitFor(STARTED);
      const db = path.join(dir, 'pbx.sqlite');
      for (const suffix of ['', '-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
      if (how === 'replaced') openStore(dir).close();
      const exited = new Promise<number | null>((resolve) => pbx.child.once('exit', (code) => resolve(code)));
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 12_000))]);
      assert.equal(code, 3, pbx.output());
      assert.match(pbx.output(), /"level":50[^\n]*was deleted or replaced while the pbx was running/);
      const log = fs.readFileSync(path.join(dir, 'logs/pbx.log'), 'utf8');
      assert.match(log, /stopped, to be restarted on the real file/, 'the reason reached the log file before exit');
    } finally {
      await pbx.stop('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('PBX_LOG_LEVEL=loud: exit 2 naming the variable and the allowed values', async () => {
  const dir = tempDir();
  const pbx = spawnPbx({ ...env(dir), PBX_LOG_LEVEL: 'loud' });
  const code = await new Promise<number | null>((resolve) => pbx.child.once('exit', (c) => resolve(c)));
  assert.equal(code, 2);
  assert.match(pbx.output(), /PBX_LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/);
  assert.ok(!fs.existsSync(path.join(dir, 'pbx.sqlite')), 'nothing created');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('logs go to <dataDir>/logs/pbx.log as JSON lines, and only there with PBX_LOG_STDOUT=0', async () => {
  const dir = tempDir();
  const pbx = spawnPbx({ ...env(dir), PBX_LOG_STDOUT: '0' });
  try {
    await pbx.waitFor(/listening on/);
    const file = path.join(dir, 'logs/pbx.log');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(fs.existsSync(file) && /pbx started/.test(fs.readFileSync(file, 'utf8')))) await new Promise((r) => setTimeout(r, 100));
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; name: string });
    assert.ok(lines.some((l) => l.msg === 'pbx started' && l.name === 'pbx'));
    assert.doesNotMatch(pbx.output(), /"msg":/, 'no JSON log line on stdout');
    assert.match(pbx.output(), /FIRST START/, 'the password box still reaches the console');
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /password:/, 'and never the log file');
  } finally {
    await pbx.stop('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the WAL is checkpointed into the main file on a timer', async () => {
  const dir = tempDir();
  const config = loadConfig({ ...env(dir), PBX_SIP_TLS_PORT: '0' });
  const app = await startPbx(config, { log: silentLogger(), print: () => undefined, checkpointMs: 200 });
  try {
    for (let i = 0; i < 200; i++) app.store.extensions.add({ number: String(1000 + i), displayName: `Ext ${i}`, secret: `secret-${i}-long-enough` });
    const wal = path.join(dir, 'pbx.sqlite-wal');
    assert.ok(fs.statSync(wal).size > 0, 'writes went to the WAL');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && fs.statSync(wal).size > 0) await new Promise((r) => setTimeout(r, 100));
    assert.equal(fs.statSync(wal).size, 0, 'the WAL was checkpointed and truncated');
    assert.ok(fs.statSync(path.join(dir, 'pbx.sqlite')).size > 20_000, 'the data is in the main file');
  } finally {
    await app.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the stderr file pm2 appends to is trimmed to its tail at start', () => {
  const dir = tempDir();
  const file = path.join(dir, 'pbx.stderr.log');
  fs.writeFileSync(file, Array.from({ length: 3000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n') + '\n');
  assert.equal(trimStderrFile(dir, 64 * 1024, 4096), true);
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.length <= 4096 + 100);
  assert.match(text, /^\[[^\]]+\] \(older lines trimmed by the pbx at start\)\nline \d+ x+\n/);
  assert.match(text, /line 2999 x+\n$/);
  assert.equal(trimStderrFile(dir, 64 * 1024, 4096), false, 'small enough now');
  fs.rmSync(dir, { recursive: true, force: true });
});
