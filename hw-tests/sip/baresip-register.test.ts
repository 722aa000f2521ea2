/**
 * A phone nobody here wrote registers with the box's default challenges (issue 15 item 9):
 * baresip 1.0 from Debian (libre 1.1), headless with its own config dir, against the registrar on
 * loopback. baresip answers "Function not implemented" when offered MD5 then SHA-256, so this
 * guards the default (one MD5 challenge; docs/security.md). Call tests with baresip live elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startEnv } from '../support/registrar-env.js';

function baresipPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v baresip'], { encoding: 'utf8' }).trim();
  } catch {
    // Loud, not skipped: the Makefile installs baresip (APT_PACKAGES).
    throw new Error('baresip not found: install the Debian package baresip');
  }
}

test('baresip 1.0 registers with the default challenge and unregisters on exit', async () => {
  const env = await startEnv();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baresip-'));
  fs.writeFileSync(
    path.join(dir, 'config'),
    [
      'sip_listen 127.0.0.1:0',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      'module account.so',
      'audio_player aufile,/dev/null',
      'audio_source aufile,/dev/null',
      '',
    ].join('\n'),
  );
  // The registrar is reached through `outbound`: baresip drops the port of the AOR's domain.
  fs.writeFileSync(path.join(dir, 'accounts'), `<sip:101@127.0.0.1:${env.port}>;auth_pass=s3cret-101;regint=120;outbound="sip:127.0.0.1:${env.port}"\n`);
  const child = spawn(baresipPath(), ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const deadline = Date.now() + 10_000;
    while (env.service.registrar.lookup('101').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [binding] = env.service.registrar.lookup('101');
    assert.ok(binding, `baresip did not register\n${output}`);
    assert.match(binding.userAgent ?? '', /baresip/);
    assert.doesNotMatch(output, /Function not implemented/);
    // A clean exit unregisters (an authenticated REGISTER with expires=0).
    child.kill('SIGTERM');
    const gone = Date.now() + 5000;
    while (env.service.registrar.lookup('101').length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    assert.equal(env.service.registrar.lookup('101').length, 0, `baresip did not unregister\n${output}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await env.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
