import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { openStore } from '../../store/index.js';
import { Blocker } from './blocker.js';

function setup(options: { exempt?: Set<string> } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blocker-'));
  const store = openStore(dir);
  let t = 1_700_000_000_000;
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const make = () =>
    new Blocker({
      repository: store.authBlocks,
      maxFailures: 5,
      windowSeconds: 60,
      blockSeconds: 300,
      logger,
      now: () => t,
      refreshMs: 1000,
      isExempt: (source) => options.exempt?.has(source) ?? false,
    });
  return {
    store,
    make,
    lines,
    advance: (ms: number) => (t += ms),
    cleanup: () => {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('maxFailures within the window blocks the source for blockSeconds, logged once as JSON', () => {
  const env = setup();
  try {
    const blocker = env.make();
    for (let i = 0; i < 4; i++) blocker.recordFailure('192.0.2.7', '101', 'bad-credentials');
    assert.equal(blocker.isBlocked('192.0.2.7'), false);
    assert.equal(blocker.failuresOf('192.0.2.7'), 4);
    blocker.recordFailure('192.0.2.7', '101', 'bad-credentials');
    assert.equal(blocker.isBlocked('192.0.2.7'), true);
    assert.equal(blocker.isBlocked('192.0.2.8'), false);
    const blocks = env.lines.filter((l) => l.event === 'auth-block');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]?.source, '192.0.2.7');
    assert.equal(blocks[0]?.identity, '101');
    // Persisted, visible to pbxctl.
    const active = env.store.authBlocks.active(Date.now() - 1e12);
    assert.equal(active.length, 1);
    assert.equal(active[0]?.failures, 5);
    // Dropped requests are logged once per block.
    blocker.isBlocked('192.0.2.7');
    blocker.isBlocked('192.0.2.7');
    assert.equal(env.lines.filter((l) => l.event === 'auth-block-drop').length, 1);
    // The block ends by itself.
    env.advance(300_000);
    assert.equal(blocker.isBlocked('192.0.2.7'), false);
  } finally {
    env.cleanup();
  }
});

test('failures spread beyond the window do not block; a success resets the count', () => {
  const env = setup();
  try {
    const blocker = env.make();
    for (let i = 0; i < 20; i++) {
      blocker.recordFailure('192.0.2.9', '102', 'bad-credentials');
      env.advance(15_001);
    }
    assert.equal(blocker.isBlocked('192.0.2.9'), false);
    env.advance(60_000);
    for (let i = 0; i < 4; i++) blocker.recordFailure('192.0.2.9', '102', 'bad-credentials');
    blocker.recordSuccess('192.0.2.9');
    blocker.recordFailure('192.0.2.9', '102', 'bad-credentials');
    assert.equal(blocker.isBlocked('192.0.2.9'), false);
    assert.equal(blocker.failuresOf('192.0.2.9'), 1);
  } finally {
    env.cleanup();
  }
});

test('a source with a valid registration (the office phones) is never blocked', () => {
  const exempt = new Set(['10.0.0.5']);
  const env = setup({ exempt });
  try {
    const blocker = env.make();
    for (let i = 0; i < 50; i++) blocker.recordFailure('10.0.0.5', '103', 'bad-credentials');
    assert.equal(blocker.isBlocked('10.0.0.5'), false);
    assert.equal(env.store.authBlocks.active(0).length, 0);
    // A block that exists (made before the phone registered) is not enforced while it is registered.
    exempt.delete('10.0.0.5');
    for (let i = 0; i < 5; i++) blocker.recordFailure('10.0.0.5', '103', 'bad-credentials');
    assert.equal(blocker.isBlocked('10.0.0.5'), true);
    exempt.add('10.0.0.5');
    assert.equal(blocker.isBlocked('10.0.0.5'), false);
  } finally {
    env.cleanup();
  }
});

test('blocks survive a restart and are lifted by unblock() or by another process via the store', () => {
  const env = setup();
  try {
    const first = env.make();
    for (let i = 0; i < 5; i++) first.recordFailure('198.51.100.1', null, 'malformed');
    for (let i = 0; i < 5; i++) first.recordFailure('198.51.100.2', 'x', 'bad-credentials');
    const second = env.make();
    assert.equal(second.isBlocked('198.51.100.1'), true);
    assert.equal(second.isBlocked('198.51.100.2'), true);
    assert.deepEqual(second.list().map((b) => b.source).sort(), ['198.51.100.1', '198.51.100.2']);
    assert.equal(second.unblock('198.51.100.1'), true);
    assert.equal(second.unblock('198.51.100.1'), false);
    assert.equal(second.isBlocked('198.51.100.1'), false);
    // pbxctl lifts the other one in the store; the running blocker sees it after its refresh.
    env.store.authBlocks.remove('198.51.100.2');
    env.advance(1000);
    assert.equal(second.isBlocked('198.51.100.2'), false);
    assert.ok(env.lines.some((l) => l.event === 'auth-unblock' && l.source === '198.51.100.1'));
  } finally {
    env.cleanup();
  }
});

test('tracking memory is bounded under a spray of sources', () => {
  const env = setup();
  try {
    const blocker = new Blocker({
      repository: env.store.authBlocks,
      maxFailures: 5,
      windowSeconds: 60,
      blockSeconds: 300,
      logger: pino({ level: 'silent' }),
      maxTracked: 100,
    });
    for (let i = 0; i < 5000; i++) blocker.recordFailure(`203.0.113.${i % 250}-${i}`, null, 'malformed');
    let counted = 0;
    for (let i = 4900; i < 5000; i++) counted += blocker.failuresOf(`203.0.113.${i % 250}-${i}`);
    assert.ok(counted > 0 && counted <= 100);
  } finally {
    env.cleanup();
  }
});
