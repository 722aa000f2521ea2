import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CtlClient } from '../ctl/client.js';
import { openStore } from '../store/index.js';
import { spawnPbx } from './spawn-pbx.js';

const STARTED = /"msg":"pbx started"/;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-main-'));
}

test('main: starts, prints the admin password once, answers on ctl, exits 0 on SIGTERM and SIGINT', async () => {
  const dir = tempDir();
  const env = { PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' };
  const first = spawnPbx(env);
  try {
    await first.waitFor(STARTED);
    const password = /password: (\S+)/.exec(first.output())?.[1];
    assert.ok(password, `no password box in:\n${first.output()}`);
    assert.match(first.output(), /listening on 127\.0\.0\.1/);
    assert.equal(fs.readFileSync(`/proc/${first.child.pid}/comm`, 'utf8').trim(), 'pbx-sip');

    const client = await CtlClient.connect(path.join(dir, 'pbx.sock'));
    const pong = await client.request('ping');
    assert.equal(pong.pid, first.child.pid);
    const status = await client.request('status');
    assert.equal(status.bind, '127.0.0.1');
    assert.deepEqual(status.calls, []);
    client.close();

    assert.equal(await first.stop('SIGTERM'), 0);
    assert.ok(!fs.existsSync(path.join(dir, 'pbx.sock')), 'the socket file is removed on stop');
    // Only the hash is stored, and it matches the password that was printed.
    const store = openStore(dir);
    assert.equal(store.users.verifyPassword('admin', password)?.role, 'admin');
    store.close();
  } finally {
    await first.stop('SIGKILL');
  }

  const second = spawnPbx(env);
  try {
    await second.waitFor(STARTED);
    assert.doesNotMatch(second.output(), /password/i);
    assert.equal(await second.stop('SIGINT'), 0);
  } finally {
    await second.stop('SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('main: a crashed pbx left its socket file; the next one replaces it', async () => {
  const dir = tempDir();
  const env = { PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' };
  const crashed = spawnPbx(env);
  await crashed.waitFor(STARTED);
  assert.equal(await crashed.stop('SIGKILL'), null);
  assert.ok(fs.existsSync(path.join(dir, 'pbx.sock')));
  const next = spawnPbx(env);
  try {
    await next.waitFor(STARTED);
    const client = await CtlClient.connect(path.join(dir, 'pbx.sock'));
    assert.equal((await client.request('ping')).pid, next.child.pid);
    client.close();
    assert.equal(await next.stop('SIGTERM'), 0);
  } finally {
    await next.stop('SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('main: a bad config file stops it with exit 2 and names the field', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ registrar: { maxExpires: 'long' } }));
  const pbx = spawnPbx({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' });
  const code = await new Promise<number | null>((resolve) => pbx.child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(pbx.output(), /field registrar\.maxExpires/);
  fs.rmSync(dir, { recursive: true, force: true });
});
