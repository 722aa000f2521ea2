/**
 * `make run`'s process model, for real: scripts/run.sh → pm2-runtime → the pbx app, in a temp data
 * dir on free ports. Ctrl-C (SIGINT to the foreground process group) must stop everything, exit 0,
 * and leave no process behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pbxListenEnv } from '../hw-tests/support/pbx-env.js';
import { CtlClient } from '../services/ctl/client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('run.sh starts pbx under pm2-runtime; SIGINT stops everything cleanly', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-run-'));
  const child = spawn('bash', [path.join(ROOT, 'scripts/run.sh')], {
    cwd: ROOT,
    detached: true, // its own process group, like a terminal's foreground job
    env: {
      ...process.env,
      ...pbxListenEnv(dir, 0),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let pbxPid = 0;
  try {
    const deadline = Date.now() + 45_000;
    while (!(/"msg":"pbx started"/.test(output) && /"msg":"web UI listening"/.test(output)) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(output, /"msg":"pbx started"/, output);
    // The web UI is its own pm2 app, on HTTPS.
    assert.match(output, /"url":"https:\/\/127\.0\.0\.1:\d+\/","msg":"web UI listening"/, output);
    assert.match(output, /FIRST START: web UI administrator created/);
    assert.match(output, /SIP udp\s+sip:127\.0\.0\.1:\d+/);
    assert.ok(fs.existsSync(path.join(dir, 'pm2')), 'PM2_HOME is inside the data dir');

    const client = await CtlClient.connect(path.join(dir, 'pbx.sock'));
    pbxPid = (await client.request('ping')).pid;
    client.close();
    assert.equal(fs.readFileSync(`/proc/${pbxPid}/comm`, 'utf8').trim(), 'pbx-sip');

    process.kill(-(child.pid ?? 0), 'SIGINT');
    const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, output);
    assert.match(output, /"signal":"SIGINT","msg":"stopping"/);
    assert.match(output, /"msg":"pbx stopped"/);
    assert.ok(!alive(pbxPid), 'the pbx process is gone');
    assert.ok(!fs.existsSync(path.join(dir, 'pbx.sock')));
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
    if (pbxPid && alive(pbxPid)) process.kill(pbxPid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run.sh refuses a bad config.json before starting pm2, naming the field', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-run-bad-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ sip: { port: 'five' } }));
  const child = spawn('bash', [path.join(ROOT, 'scripts/run.sh')], {
    cwd: ROOT,
    env: { ...process.env, PBX_DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 2, output);
  assert.match(output, /configuration error: .*config\.json: field sip\.port/);
  assert.doesNotMatch(output, /PM2/);
  fs.rmSync(dir, { recursive: true, force: true });
});
