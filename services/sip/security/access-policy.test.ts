/**
 * The access policy (issue 15 item 2) over a real SQLite store: per (source, extension) counting,
 * known phones for 30 days, the per-extension guess budget, source-wide blocks for scanners,
 * blocks lifted in the store (pbxctl), and the warn log of every block. Then over the real stack
 * on loopback: a flood with forged source addresses (raw UDP from 127.0.0.x) against a quiet
 * phone's address, after which the phone registers at once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { openStore, type Store } from '../../store/index.js';
import { AccessPolicy, EVERY_EXTENSION } from './access-policy.js';
import { authorize, register, registerText, UdpPeer } from '../../../hw-tests/support/sip-peer.js';
import { startEnv } from '../../../hw-tests/support/registrar-env.js';

const DAY = 86_400_000;

function collectingLogger(lines: Array<Record<string, unknown>>) {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
}

describe('access policy', () => {
  let dir: string;
  let store: Store;
  let clock: number;
  let logs: Array<Record<string, unknown>>;
  const policy = (extra: Partial<ConstructorParameters<typeof AccessPolicy>[0]> = {}): AccessPolicy =>
    new AccessPolicy({
      blocks: store.authBlocks,
      known: store.knownDevices,
      maxFailures: 5,
      windowSeconds: 60,
      blockSeconds: 600,
      logger: collectingLogger(logs),
      now: () => clock,
      refreshMs: 0,
      ...extra,
    });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'access-'));
    store = openStore(dir);
    for (const number of ['101', '102', '103']) store.extensions.add({ number, displayName: number, secret: `secret-${number}` });
    clock = 1_000_000;
    logs = [];
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('failures count per (source, extension); a block is logged at warn with source, extension, reason', () => {
    const access = policy();
    for (let i = 0; i < 4; i++) access.recordFailure('10.0.0.9', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.9', '101'), true);
    access.recordFailure('10.0.0.9', '102', 'wrong digest');
    access.recordFailure('10.0.0.9', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.9', '101'), false);
    assert.equal(access.beforeGuess('10.0.0.9', '101'), 'drop');
    assert.equal(access.admit('10.0.0.9', '102'), true, 'another extension at the same address');
    assert.equal(access.admit('10.0.0.9', null), true, 'a request naming nobody (OPTIONS) is answered');
    assert.equal(access.admit('10.0.0.10', '101'), true, 'the same extension from elsewhere');
    assert.deepEqual(store.authBlocks.active(clock).map((b) => [b.source, b.extension, b.failures, b.reason]), [['10.0.0.9', '101', 5, 'wrong digest']]);
    const warn = logs.filter((l) => l.level === 40 && l.event === 'auth-block');
    assert.equal(warn.length, 1);
    assert.equal(warn[0]?.source, '10.0.0.9');
    assert.equal(warn[0]?.extension, '101');
    assert.equal(warn[0]?.reason, 'wrong digest');
    // The block ends by itself.
    clock += 600_001;
    assert.equal(access.admit('10.0.0.9', '101'), true);
  });

  test('a known phone (success within 30 days) is never blocked at its address, whatever is sent from it; it survives a restart', () => {
    const access = policy();
    access.recordSuccess('10.0.0.5', '101');
    access.flush();
    for (let i = 0; i < 40; i++) access.recordFailure('10.0.0.5', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.5', '101'), true);
    assert.equal(access.beforeGuess('10.0.0.5', '101'), 'evaluate', 'its answers are still evaluated');
    assert.equal(store.authBlocks.active(clock).filter((b) => b.extension === '101').length, 0);
    // The known phone's failures (a stale secret) do not count towards blocking its address.
    access.recordFailure('10.0.0.5', '102', 'wrong digest');
    assert.equal(access.admit('10.0.0.5', '102'), true);
    assert.deepEqual(store.authBlocks.active(clock), []);
    const restarted = policy();
    assert.equal(restarted.isKnown('10.0.0.5', '101'), true, 'loaded from the store');
    assert.equal(restarted.admit('10.0.0.5', '101'), true);
    clock += 30 * DAY;
    assert.equal(restarted.isKnown('10.0.0.5', '101'), false, 'known for 30 days');
  });

  test('a success resets only its own pair', () => {
    const access = policy();
    for (let i = 0; i < 4; i++) access.recordFailure('10.0.0.9', '101', 'wrong digest');
    for (let i = 0; i < 3; i++) access.recordFailure('10.0.0.9', '102', 'wrong digest');
    access.recordSuccess('10.0.0.9', '103');
    assert.equal(access.failuresOf('10.0.0.9', '101'), 4);
    assert.equal(access.failuresOf('10.0.0.9', '102'), 3);
    access.recordSuccess('10.0.0.9', '102');
    assert.equal(access.failuresOf('10.0.0.9', '102'), 0);
    access.recordFailure('10.0.0.9', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.9', '101'), false);
  });

  test('at most 10 guesses per extension and window are evaluated; spread guesses are slowed; known phones are not', () => {
    const access = policy();
    access.recordSuccess('10.0.0.5', '101');
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const source = `10.1.0.${i}`;
      assert.equal(access.beforeGuess(source, '101'), 'evaluate');
      delays.push(access.recordFailure(source, '101', 'wrong digest'));
    }
    assert.deepEqual(delays, [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000, 4000], 'late answers, bounded');
    assert.equal(access.beforeGuess('10.1.0.200', '101'), 'hold', 'an 11th guess from a new address is not evaluated');
    assert.equal(access.beforeGuess('10.0.0.5', '101'), 'evaluate', 'the known phone is');
    assert.equal(access.beforeGuess('10.1.0.200', '102'), 'evaluate', 'other extensions are untouched');
    assert.equal(access.admit('10.1.0.200', '101'), true, 'holding is not blocking: the request is still answered');
    assert.ok(logs.some((l) => l.level === 40 && l.event === 'auth-extension-guarded' && l.extension === '101'));
    // The guard window is max(window, block time).
    clock += 600_001;
    assert.equal(access.beforeGuess('10.1.0.200', '101'), 'evaluate');
  });

  test('a source guessing at many extensions is blocked for every extension except those known there', () => {
    const access = policy();
    access.recordSuccess('10.0.0.9', '103');
    for (let i = 0; i < 15; i++) access.recordFailure('10.0.0.9', String(200 + i), 'wrong digest');
    assert.deepEqual(store.authBlocks.active(clock).map((b) => b.extension), [EVERY_EXTENSION]);
    assert.equal(access.admit('10.0.0.9', '102'), false);
    assert.equal(access.admit('10.0.0.9', null), false);
    assert.equal(access.admit('10.0.0.9', '103'), true, 'the phone known at that address');
  });

  test('a block lifted in the store (pbxctl block remove) ends at once and forgets its count', () => {
    const access = policy();
    for (let i = 0; i < 5; i++) access.recordFailure('10.0.0.9', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.9', '101'), false);
    const other = openStore(dir);
    try {
      assert.equal(other.authBlocks.remove('10.0.0.9', '101'), 1);
    } finally {
      other.close();
    }
    assert.equal(access.admit('10.0.0.9', '101'), true);
    access.recordFailure('10.0.0.9', '101', 'wrong digest');
    assert.equal(access.admit('10.0.0.9', '101'), true, 'one more failure does not re-block');
    assert.equal(access.unblock('10.0.0.9'), 0);
  });
});

test('a flood with forged source addresses, junk and stolen nonces never keeps a phone off: it registers at once', async () => {
  const env = await startEnv({ auth: { maxFailures: 5, windowSeconds: 60, blockSeconds: 600 } });
  const quiet = await UdpPeer.open('127.0.0.20'); // registered before, now quiet
  const fresh = await UdpPeer.open('127.0.0.21'); // a new phone being set up: never registered
  const attacker = await UdpPeer.open('127.0.0.50');
  // The attacker also sits behind the quiet phone's NAT (same address, another port).
  const neighbour = await UdpPeer.open('127.0.0.20');
  const spoofers: UdpPeer[] = [];
  try {
    const okFirst = await register(quiet, env, { user: '101', contacts: [`<sip:101@127.0.0.20:${quiet.port}>`], expires: 300 }, { password: 's3cret-101' });
    assert.equal(okFirst.final?.message.status, 200);
    // A nonce + opaque the attacker obtained honestly at its own address.
    const own = registerText(attacker, env.port, { user: '101', contacts: [`<sip:101@127.0.0.50:${attacker.port}>`] });
    attacker.send(own.text, env.port);
    const stolen = (await attacker.response(own.cseq))!.message;
    // Forged sources: any 127/8 address can be bound on loopback, which is what spoofing looks like to us.
    for (const address of ['127.0.0.20', '127.0.0.21', ...Array.from({ length: 20 }, (_, i) => `127.0.1.${i + 1}`)]) {
      spoofers.push(await UdpPeer.open(address));
    }
    let sent = 0;
    for (let round = 0; round < 15; round++) {
      for (const spoofer of spoofers) {
        for (const user of ['101', '102']) {
          const contacts = [`<sip:${user}@${spoofer.address}:${spoofer.port}>`];
          const junk = registerText(spoofer, env.port, { user, contacts, authorization: 'Digest x' });
          const forgedNonce = registerText(spoofer, env.port, {
            user,
            contacts,
            authorization: `Digest username="${user}", realm="pbx.test", nonce="${randomBytes(22).toString('base64url')}", uri="sip:127.0.0.1:${env.port}", response="${'0'.repeat(32)}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c", opaque="o"`,
          });
          const replayedNonce = registerText(spoofer, env.port, { user, contacts, authorization: authorize(stolen, 'REGISTER', env.port, user, { password: `guess-${round}`, nc: round + 1 }) });
          for (const m of [junk, forgedNonce, replayedNonce]) {
            spoofer.send(m.text, env.port);
            sent++;
          }
        }
      }
      // Paced by rounds of 132 datagrams, so the kernel's receive buffer (rmem_max may be 208 KiB)
      // does not drop the phone's own requests: we test the policy, not the socket.
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    // The neighbour behind the same NAT makes real guesses at 101 (it can read the answers).
    const challenges = [];
    for (let i = 0; i < 20; i++) {
      const m = registerText(neighbour, env.port, { user: '101', contacts: [`<sip:101@127.0.0.20:${neighbour.port}>`] });
      neighbour.send(m.text, env.port);
      const c = await neighbour.response(m.cseq);
      assert.equal(c?.message.status, 401);
      challenges.push(c!.message);
    }
    for (const [i, challenge] of challenges.entries()) {
      const m = registerText(neighbour, env.port, { user: '101', contacts: [`<sip:101@127.0.0.20:${neighbour.port}>`], authorization: authorize(challenge, 'REGISTER', env.port, '101', { password: `guess-${i}` }) });
      neighbour.send(m.text, env.port);
    }
    assert.ok(sent > 1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(env.service.access.failuresOf('127.0.0.20', '101'), 5, 'the neighbour counted (up to the bound), yet the known phone is not blocked');

    // The quiet phone reboots (new Call-ID) and registers: answered without a late answer, registered.
    const reboot = await register(quiet, env, { user: '101', contacts: [`<sip:101@127.0.0.20:${quiet.port}>`], expires: 300, callId: 'after-reboot@test' }, { password: 's3cret-101' });
    assert.equal(reboot.final?.message.status, 200);
    assert.equal(env.service.access.isKnown('127.0.0.20', '101'), true);
    // The new phone, whose address was forged all along, registers at once too: nothing counted against it.
    const setUp = await register(fresh, env, { user: '102', contacts: [`<sip:102@127.0.0.21:${fresh.port}>`], expires: 300 }, { password: 's3cret-102' });
    assert.equal(setUp.final?.message.status, 200);
    assert.deepEqual(env.service.access.list().map((b) => `${b.source}/${b.extension}`), [], 'no block at all: no forged packet made a guess that counts');
    assert.equal(env.service.access.failuresOf('127.0.0.21'), 0);
  } finally {
    for (const phone of [quiet, fresh, attacker, neighbour, ...spoofers]) phone.close();
    await env.close();
  }
});
