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
import { pidsWithEnv, readProcStat } from '../hw-tests/support/proc.js';
import { WebClient } from '../hw-tests/support/web.js';
import { CtlClient } from '../services/ctl/client.js';
import type { StatusResult } from '../services/ctl/protocol.js';
import { certificatePaths } from '../services/tls/certificate.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The pid of the process titled `comm` among those of the data dir `dir`. */
function pidOf(comm: string, dir: string): number {
  const found = pidsWithEnv(`PBX_DATA_DIR=${dir}`).find((pid) => readProcStat(pid)?.comm === comm);
  if (found === undefined) throw new Error(`no ${comm} process for ${dir}`);
  return found;
}

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
      // the gateway's landline trunk listens on a fixed port by default: another appliance of the
      // suite (the supervisor tests) may be up at the same time
      PBX_ANALOG_TRUNK_PORT: String(40000 + Math.floor(Math.random() * 20000)),
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
    assert.equal(fs.readFileSync(`/proc/${pbxPid}/comm`, 'utf8').trim(), 'pbx-sip');
    // The apps run bundled (image/bundle.ts, dist/app/<name>/): the web UI serves its page and logs
    // the first-start administrator in against the store; the analog gateway got the virtual
    // board up over the serial pty and wrote its landline trunk, which the pbx now shows.
    const creds = /user:\s+(\S+)\s[\s\S]*?password:\s+(\S+)\s/.exec(output);
    assert.ok(creds?.[1] !== undefined && creds[2] !== undefined, output);
    const web = new WebClient({ port: Number(/"url":"https:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1]), ca: fs.readFileSync(certificatePaths(dir).cert, 'utf8') });
    const page = await web.request('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/);
    assert.equal((await web.login(creds[1], creds[2])).status, 200);
    assert.equal((await web.request<{ user: { username: string } | null }>('GET', '/api/session')).body.user?.username, creds[1]);
    const trunkBy = Date.now() + 20_000;
    let trunks: StatusResult['trunks'] = [];
    const analogUp = (): boolean => /"msg":"board up"/.test(output) && trunks?.some((t) => t.name === 'fxo1') === true;
    while (Date.now() < trunkBy && !analogUp()) {
      trunks = (await client.request('status')).trunks;
      if (!analogUp()) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(output, /"msg":"board up"/);
    assert.ok(trunks?.some((t) => t.name === 'fxo1'), JSON.stringify(trunks));
    for (const app of ['pbx', 'web', 'analog']) {
      // the title hides the command line; pm2 gives each app its script in the environment
      const env = fs.readFileSync(`/proc/${app === 'pbx' ? pbxPid : pidOf(`pbx-${app}`, dir)}/environ`, 'utf8').split('\0');
      assert.ok(env.includes(`pm_exec_path=${path.join(ROOT, 'dist/app', app, 'main.js')}`), `${app}: ${env.find((e) => e.startsWith('pm_exec_path='))}`);
    }
    client.close();

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
    // pm2's apps outlive a killed pm2-runtime: a failed run must not leave them holding ports
    for (const pid of pidsWithEnv(`PBX_DATA_DIR=${dir}`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
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
