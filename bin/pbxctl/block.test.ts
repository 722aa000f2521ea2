/**
 * `pbxctl block list|remove` against a running registrar (real stack, real SQLite in a temp dir):
 * a source blocked for one extension after wrong guesses is listed, then lifted by pbxctl in its
 * own process, and the running policy serves that source again within its 2 s re-read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { register, registerText, UdpPeer } from '../../hw-tests/support/sip-peer.js';
import { startEnv } from '../../hw-tests/support/registrar-env.js';
import { pbxctl } from '../../hw-tests/support/pbxctl.js';

test('pbxctl block list shows a block (text and --json); block remove lifts it in the running pbx', async () => {
  const env = await startEnv({ auth: { maxFailures: 3, windowSeconds: 60, blockSeconds: 600 } });
  const attacker = await UdpPeer.open('127.0.0.61');
  try {
    let r = await pbxctl(['--data-dir', env.dir, 'block', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no blocks/);
    for (let i = 0; i < 3; i++) {
      const guess = await register(attacker, env, { user: '101', contacts: [`<sip:101@127.0.0.61:${attacker.port}>`] }, { password: `guess-${i}` });
      assert.equal(guess.final?.message.status, 401);
    }
    const probe = async (): Promise<number | undefined> => {
      const m = registerText(attacker, env.port, { user: '101', contacts: [`<sip:101@127.0.0.61:${attacker.port}>`] });
      attacker.send(m.text, env.port);
      return (await attacker.response(m.cseq, 600))?.message.status;
    };
    assert.equal(await probe(), undefined, 'blocked: no answer');

    r = await pbxctl(['--data-dir', env.dir, 'block', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as Array<{ source: string; extension: string; failures: number; reason: string; blockedUntil: string }>;
    assert.deepEqual(listed.map((b) => [b.source, b.extension, b.failures, b.reason]), [['127.0.0.61', '101', 3, 'wrong digest']]);
    assert.ok(Date.parse(listed[0]!.blockedUntil) > Date.now());
    r = await pbxctl(['--data-dir', env.dir, 'block', 'list']);
    assert.match(r.stdout, /^SOURCE\s+EXTENSION\s+FAILURES\s+UNTIL\s+REASON\n127\.0\.0\.61\s+101\s+3\s/);

    r = await pbxctl(['--data-dir', env.dir, 'block', 'remove', 'not-an-ip']);
    assert.equal(r.code, 1);
    r = await pbxctl(['--data-dir', env.dir, 'block', 'remove', '127.0.0.61', '102']);
    assert.equal(r.code, 2, 'no such block');
    r = await pbxctl(['--data-dir', env.dir, 'block', 'remove', '127.0.0.61', '101']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 block lifted for 127\.0\.0\.61 \/ 101/);

    const deadline = Date.now() + 5000;
    let status: number | undefined;
    while (status === undefined && Date.now() < deadline) status = await probe();
    assert.equal(status, 401, 'served again after the lift');
  } finally {
    attacker.close();
    await env.close();
  }
});
