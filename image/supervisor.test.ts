/**
 * The supervisor never gives up (issue 21 item 2), with the real pm2-runtime and the supervision
 * settings of image/ecosystem.config.cjs:
 * - an app that crashes 25 times in a row, each time at once, is still restarted (pm2's default
 *   would mark it errored after 16 unstable restarts) and then stays up;
 * - pm2-runtime does not exit while the only app waits out a long backoff (without --no-auto-exit it
 *   quits after ~12 s with no app online);
 * - the real pbx in a crash loop (its SIP port taken) shows the loop and the last error in
 *   `pbxctl status` and in its log, creates no admin while it cannot listen, and comes up by itself
 *   once the port is free.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { CtlClient } from '../services/ctl/client.js';
import { openStore } from '../services/store/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** pm2-runtime as the appliance runs it (its node flags and deferred modules: image/supervisor.cjs). */
const PM2_RUNTIME = path.join(ROOT, 'image/supervisor.cjs');
const PBXCTL = path.join(ROOT, 'dist/bin/pbxctl.js');
const require = createRequire(import.meta.url);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Runtime {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** pm2-runtime in its own process group (so every child can be killed), with the flags of run.sh. */
function pm2Runtime(ecosystem: string, env: Record<string, string>): Runtime {
  const child = spawn(PM2_RUNTIME, ['start', '--no-auto-exit', ecosystem], { cwd: ROOT, detached: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      process.kill(-(child.pid ?? 0), 'SIGINT');
      const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A test app: counts its starts in a file; crashes at once for the first `crashes` starts. */
function crasher(dir: string, crashes: number): { script: string; starts(): number } {
  const counter = path.join(dir, 'starts');
  const script = path.join(dir, 'crasher.cjs');
  fs.writeFileSync(
    script,
    `const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(counter)}, 'x');
const n = fs.readFileSync(${JSON.stringify(counter)}, 'utf8').length;
if (n <= ${crashes}) { console.error('crash number ' + n); process.exit(1); }
setInterval(() => undefined, 1000);
process.on('SIGINT', () => process.exit(0));
`,
  );
  return { script, starts: () => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').length : 0) };
}

/** An ecosystem for `script` with the appliance's own supervision settings, only the first delay changed. */
function ecosystemWith(dir: string, script: string, firstDelayMs: number): string {
  const appliance = require(path.join(ROOT, 'image/ecosystem.config.cjs')) as { apps: Array<Record<string, unknown>> };
  const pbx = appliance.apps.find((app) => app.name === 'pbx');
  assert.ok(pbx, 'the appliance ecosystem has the pbx app');
  assert.ok(Number(pbx.max_restarts) >= 1e6, 'max_restarts out of reach');
  assert.ok(Number(pbx.exp_backoff_restart_delay) > 0, 'exponential backoff on');
  const file = path.join(dir, 'ecosystem.config.cjs');
  const app = {
    ...pbx,
    name: 'crasher',
    script,
    cwd: dir,
    node_args: [],
    out_file: '/dev/null',
    error_file: '/dev/null',
    exp_backoff_restart_delay: firstDelayMs,
  };
  fs.writeFileSync(file, `module.exports = ${JSON.stringify({ apps: [app] }, null, 2)};\n`);
  return file;
}

test('an app that crashes 25 times in a row is restarted every time, then stays up', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-loop-'));
  const app = crasher(dir, 25);
  // A 1 ms first delay stays at 1 ms (pm2 grows it by floor(x * 1.5)): 25 crashes in a few seconds.
  const runtime = pm2Runtime(ecosystemWith(dir, app.script, 1), { PM2_HOME: path.join(dir, 'pm2') });
  try {
    const deadline = Date.now() + 60_000;
    while (app.starts() < 26 && Date.now() < deadline && runtime.child.exitCode === null) await sleep(100);
    assert.equal(app.starts(), 26, `26 starts (25 crashes) seen; pm2 said:\n${runtime.output()}`);
    await sleep(1500);
    assert.equal(app.starts(), 26, 'then it stays up');
    assert.equal(runtime.child.exitCode, null, 'pm2-runtime is still running');
    assert.doesNotMatch(runtime.output(), /too many unstable restarts/);
  } finally {
    await runtime.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pm2-runtime stays up while its only app waits 14 s before its next restart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-wait-'));
  const app = crasher(dir, 1);
  const runtime = pm2Runtime(ecosystemWith(dir, app.script, 14_000), { PM2_HOME: path.join(dir, 'pm2') });
  try {
    const deadline = Date.now() + 40_000;
    while (app.starts() < 2 && Date.now() < deadline && runtime.child.exitCode === null) await sleep(200);
    assert.equal(runtime.child.exitCode, null, `pm2-runtime must not exit with no app online:\n${runtime.output()}`);
    assert.equal(app.starts(), 2, 'restarted after the backoff');
  } finally {
    await runtime.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function pbxctl(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dir, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

test('the pbx in a crash loop (SIP port taken): visible in pbxctl status and the log, no admin created, up by itself once the port is free', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-loop-'));
  const blocker = net.createServer();
  const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
  const run = spawn('bash', [path.join(ROOT, 'scripts/run.sh')], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PBX_DATA_DIR: dir, PBX_SIP_PORT: String(port), PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0', PBX_HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  run.stdout.on('data', (d: Buffer) => (output += d.toString()));
  run.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));
  let blocked = true;
  try {
    let status = '';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && run.exitCode === null) {
      await sleep(500);
      if (!fs.existsSync(path.join(dir, 'pbx.sqlite'))) continue;
      status = (await pbxctl(dir, ['status'])).stdout;
      if (/CRASH LOOP/.test(status)) break;
    }
    assert.match(status, /pbx is not running/, output);
    assert.match(status, /CRASH LOOP: started \d+ times in the last 5 min/, output);
    assert.match(status, /last exit: \S+ pid \d+ code 1: start failed: .*EADDRINUSE/, status);
    const json = JSON.parse((await pbxctl(dir, ['status', '--json'])).stdout) as { process: { crashLoop: boolean; lastExit: { error: string } } };
    assert.equal(json.process.crashLoop, true);

    const log = fs.readFileSync(path.join(dir, 'logs/pbx.log'), 'utf8');
    assert.match(log, /"level":60[^\n]*EADDRINUSE[^\n]*"msg":"start failed"/);
    assert.match(log, /"level":40[^\n]*"msg":"crash loop: the pbx keeps restarting"/);
    assert.doesNotMatch(output, /FIRST START/, 'no password shown while the pbx cannot listen');
    const store = openStore(dir);
    assert.deepEqual(store.users.list(), [], 'no admin committed before the listeners are bound');
    store.close();

    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    blocked = false;
    let pid = 0;
    const upBy = Date.now() + 40_000;
    // The ctl socket answers before the SIP listeners are bound, and the first-start line reaches
    // us through pm2's log pipe a little later: wait for both.
    while (Date.now() < upBy && (pid === 0 || !/FIRST START/.test(output))) {
      await sleep(500);
      try {
        const client = await CtlClient.connect(path.join(dir, 'pbx.sock'), { timeoutMs: 2000 });
        pid = (await client.request('ping')).pid;
        client.close();
      } catch {
        pid = 0;
      }
    }
    assert.ok(pid > 0 && alive(pid), `the pbx came up by itself:\n${output.slice(-3000)}`);
    assert.match(output, /FIRST START: web UI administrator created/);
    const live = (await pbxctl(dir, ['status'])).stdout;
    assert.match(live, /^pbx running/m);
    assert.match(live, /last exit: .*EADDRINUSE/);
  } finally {
    if (blocked) blocker.close();
    if (run.exitCode === null) process.kill(-(run.pid ?? 0), 'SIGINT');
    const timer = setTimeout(() => process.kill(-(run.pid ?? 0), 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the systemd unit restarts pm2-runtime forever and runs it the way run.sh does', () => {
  const unit = fs.readFileSync(path.join(ROOT, 'image/pbx.service'), 'utf8');
  const values = (key: string): string[] => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim());
  assert.deepEqual(values('Restart'), ['always']);
  assert.deepEqual(values('StartLimitIntervalSec'), ['0']);
  assert.match(values('ExecStart')[0] ?? '', /^\/opt\/pbx\/image\/supervisor\.cjs start --no-auto-exit \/opt\/pbx\/image\/ecosystem\.config\.cjs$/);
  assert.deepEqual(values('KillSignal'), ['SIGINT']);
  assert.ok(values('Environment').includes('PBX_DATA_DIR=/var/lib/pbx'));
  assert.match(fs.readFileSync(path.join(ROOT, 'scripts/run.sh'), 'utf8'), /^exec image\/supervisor\.cjs start --no-auto-exit image\/ecosystem\.config\.cjs$/m);
  // The supervisor's node flags travel in its first line (env -S), so both starts get them.
  const shebang = fs.readFileSync(path.join(ROOT, 'image/supervisor.cjs'), 'utf8').split('\n')[0] ?? '';
  assert.match(shebang, /^#!\/usr\/bin\/env -S node --jitless /);
  assert.ok((fs.statSync(path.join(ROOT, 'image/supervisor.cjs')).mode & 0o111) !== 0, 'image/supervisor.cjs is executable');
});
