/**
 * The harness that tests and benches share: the markdown section writer keeps other sections, CPU
 * accounting reads real /proc entries of a real child process (CLK_TCK from getconf), the one ramp
 * rule, Kamailio's user table.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { writeSection } from './perf-doc.js';
import { clockTicks, cpuSecondsOf, processTree, readProcStat } from './proc.js';
import { headline } from './ramp.js';
import { createKamailioDb, makeUsers } from './sip-servers.js';
import Database from 'better-sqlite3';
import crypto from 'node:crypto';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sip-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('writeSection replaces only the ## SIP section', () => {
  const file = path.join(tmp, 'perf.md');
  fs.writeFileSync(file, '# Performance\n\n## Media\nmedia table\n\n## SIP\nold sip\n\n### sub\nold\n\n## Other\nkept\n');
  writeSection(file, '## SIP\n\nnew sip\n');
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /## Media\nmedia table/);
  assert.match(text, /## SIP\n\nnew sip\n/);
  assert.match(text, /## Other\nkept/);
  assert.doesNotMatch(text, /old/);
  const fresh = path.join(tmp, 'none.md');
  writeSection(fresh, '## SIP\n\nx\n');
  assert.equal(fs.readFileSync(fresh, 'utf8'), '# Performance\n\n## SIP\n\nx\n');
});

test('CPU of a busy child process tree is read from /proc', async () => {
  // The child spins until it has used 300 ms of CPU (whatever the machine's load), then idles.
  const child = spawn(
    process.execPath,
    ['-e', 'while (process.cpuUsage().user < 300000) {} console.log("ready"); setTimeout(() => {}, 10000)'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  try {
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    const pid = child.pid ?? -1;
    assert.ok(processTree(process.pid).includes(pid));
    const st = readProcStat(pid);
    assert.ok(st !== undefined);
    assert.ok(st.cpuSeconds >= 0.25, `busy child used ${st.cpuSeconds} s`);
    assert.ok(cpuSecondsOf([pid]) >= st.cpuSeconds);
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal(readProcStat(999_999_999), undefined);
});

test("Kamailio's subscriber table holds the users with their HA1", () => {
  const file = path.join(tmp, 'k.sqlite');
  const users = makeUsers(3);
  createKamailioDb(file, users, 'pbx.local');
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT username, domain, ha1 FROM subscriber ORDER BY username').all() as {
      username: string;
      domain: string;
      ha1: string;
    }[];
    assert.equal(rows.length, 3);
    const u = users[0];
    assert.ok(u);
    assert.equal(rows[0]?.username, u.user);
    assert.equal(rows[0]?.ha1, crypto.createHash('md5').update(`${u.user}:pbx.local:${u.password}`).digest('hex'));
  } finally {
    db.close();
  }
});

test('writeSection keys on the section it is given (## Media next to ## SIP)', () => {
  const file = path.join(tmp, 'perf2.md');
  fs.writeFileSync(file, '# Performance\n\n## SIP\nsip table\n\n## Media\nold media\n');
  writeSection(file, '## Media\n\nnew media\n');
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(text, '# Performance\n\n## SIP\nsip table\n\n## Media\n\nnew media\n');
  assert.throws(() => writeSection(file, 'no heading'), /## Name/);
});

test('clock ticks per second come from getconf CLK_TCK', () => {
  const fromGetconf = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  assert.ok(fromGetconf > 0);
  assert.equal(clockTicks(), fromGetconf);
});

test('the ramp headline is the largest step with every smaller step clean; a repeated step counts by its last attempt', () => {
  const steps = [
    { size: 250, ok: true },
    { size: 500, ok: false },
    { size: 500, ok: true }, // repeated after a disturbed first attempt
    { size: 750, ok: false },
    { size: 1000, ok: true }, // clean, but above a step that was not: not the headline
  ];
  assert.equal(headline(steps, (s) => s.size, (s) => s.ok)?.size, 500);
  assert.equal(headline([{ size: 250, ok: false }], (s) => s.size, (s) => s.ok), undefined);
  // Order of the array does not matter: sizes are sorted.
  assert.equal(headline([steps[4], steps[0]], (s) => s!.size, (s) => s!.ok)?.size, 1000);
});
