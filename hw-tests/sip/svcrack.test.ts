/**
 * A real attack tool against the box (issue 15 item 2): sipvicious `svcrack` (Debian package
 * `sipvicious`) guesses the password of a known extension from a dictionary whose 15th word is
 * the right one. First a control run with a lockout so loose it cannot bite, to show that svcrack
 * speaks our digest and would find the password; then the default lockout, where it must not.
 * Loopback only, on a port the test picked.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { register, UdpPeer } from '../support/sip-peer.js';
import { startEnv, type Env } from '../support/registrar-env.js';

const SECRET = 's3cret-101';

function svcrackPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v svcrack'], { encoding: 'utf8' }).trim();
  } catch {
    // Loud, not skipped: the Makefile installs sipvicious (APT_PACKAGES).
    throw new Error('svcrack not found: install the Debian package sipvicious');
  }
}

function dictionary(dir: string): string {
  const words = [...Array.from({ length: 14 }, (_, i) => `wrong-${i + 1}`), SECRET, ...Array.from({ length: 10 }, (_, i) => `late-${i + 1}`)];
  const file = path.join(dir, 'dictionary.txt');
  fs.writeFileSync(file, `${words.join('\n')}\n`);
  return file;
}

/** Runs svcrack to completion (it stops 3 s after the last answer); returns its output. */
function svcrack(env: Env, dict: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      svcrackPath(),
      ['-u', '101', '-d', dict, '-p', String(env.port), '--maximumtime=3', '127.0.0.1'],
      { timeout: 60_000, encoding: 'utf8' },
      (_error, stdout, stderr) => resolve(`${stdout}\n${stderr}`),
    );
  });
}

test('svcrack finds the 15th password when the lockout cannot bite (control), and not with the default lockout', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcrack-'));
  const dict = dictionary(dir);
  try {
    const loose = await startEnv({ auth: { maxFailures: 1000, windowSeconds: 60, blockSeconds: 600 } });
    try {
      const output = await svcrack(loose, dict);
      assert.match(output, /\|\s*101\s*\|\s*s3cret-101\s*\|/, `control: svcrack should find it\n${output}`);
    } finally {
      await loose.close();
    }

    // Defaults of the box (config.ts): 5 per (source, extension), 60 s window, 600 s block.
    const env = await startEnv({ auth: { maxFailures: 5, windowSeconds: 60, blockSeconds: 600 } });
    const phone = await UdpPeer.open('127.0.0.40');
    try {
      // The extension is known: its phone registered from its desk before the attack.
      const before = await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.40:${phone.port}>`], expires: 300 }, { password: SECRET });
      assert.equal(before.final?.message.status, 200);
      const output = await svcrack(env, dict);
      assert.doesNotMatch(output, /s3cret-101/, `svcrack must not find it\n${output}`);
      assert.match(output, /found nothing/);
      assert.deepEqual(env.service.access.list().map((b) => `${b.source}/${b.extension}`), ['127.0.0.1/101']);
      // The office phone is untouched: it registers again at once.
      const after = await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.40:${phone.port}>`], expires: 300, callId: 'after-attack@test' }, { password: SECRET });
      assert.equal(after.final?.message.status, 200);
    } finally {
      phone.close();
      await env.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
