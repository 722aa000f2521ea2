import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { NonceManager } from './nonce.js';

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('a nonce is valid until its lifetime, then stale; forged or foreign ones are invalid', () => {
  const c = clock();
  const nonces = new NonceManager({ lifetimeMs: 30_000, now: c.now });
  const nonce = nonces.issue();
  assert.equal(nonce.length, 30);
  assert.equal(nonces.check(nonce).kind, 'valid');
  c.advance(30_000);
  assert.equal(nonces.check(nonce).kind, 'valid');
  c.advance(1);
  assert.equal(nonces.check(nonce).kind, 'stale');
  // One flipped character breaks the MAC.
  const fresh = nonces.issue();
  const flipped = (fresh[0] === 'A' ? 'B' : 'A') + fresh.slice(1);
  assert.equal(nonces.check(flipped).kind, 'invalid');
  // Another boot (another key) did not issue it.
  const other = new NonceManager({ now: c.now });
  assert.equal(other.check(fresh).kind, 'invalid');
  assert.notEqual(other.opaque, nonces.opaque);
  assert.equal(nonces.check('').kind, 'invalid');
  assert.equal(nonces.check('x'.repeat(30)).kind, 'invalid');
  assert.equal(nonces.check('!'.repeat(30)).kind, 'invalid');
});

test('the MAC is HMAC-SHA256 (RFC 2104) of the payload, truncated to 12 bytes, for keys of 32 and 64 bytes', () => {
  for (const size of [32, 64, 20]) {
    const key = randomBytes(size);
    const nonces = new NonceManager({ key, now: clock().now });
    for (let i = 0; i < 20; i++) {
      const bytes = Buffer.from(nonces.issue(), 'base64url');
      const reference = createHmac('sha256', key).update(bytes.subarray(0, 10)).digest().subarray(0, 12);
      assert.deepEqual(bytes.subarray(10), reference);
    }
  }
  assert.throws(() => new NonceManager({ key: randomBytes(65) }), RangeError);
});

test('nonces are unique even within one millisecond', () => {
  const c = clock();
  const nonces = new NonceManager({ now: c.now });
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(nonces.issue());
  assert.equal(seen.size, 1000);
});

test('nc must grow per nonce; without qop a nonce is good once', () => {
  const c = clock();
  const nonces = new NonceManager({ now: c.now });
  const a = nonces.issue();
  const checkA = nonces.check(a);
  assert.equal(checkA.kind, 'valid');
  if (checkA.kind !== 'valid') return;
  assert.equal(nonces.use(a, checkA.issuedAt, 1), 'fresh');
  assert.equal(nonces.use(a, checkA.issuedAt, 1), 'replay');
  assert.equal(nonces.use(a, checkA.issuedAt, 3), 'fresh');
  assert.equal(nonces.use(a, checkA.issuedAt, 2), 'replay');
  assert.equal(nonces.use(a, checkA.issuedAt, null), 'replay');
  const b = nonces.issue();
  assert.equal(nonces.use(b, c.now(), null), 'fresh');
  assert.equal(nonces.use(b, c.now(), null), 'replay');
  assert.equal(nonces.use(b, c.now(), 5), 'replay');
});

test('memory is bounded; eviction turns older untracked nonces stale instead of replayable', () => {
  const c = clock();
  const nonces = new NonceManager({ now: c.now, maxTracked: 100, lifetimeMs: 30_000 });
  const first = nonces.issue();
  assert.equal(nonces.use(first, c.now(), 1), 'fresh');
  const pending: string[] = [];
  for (let i = 0; i < 150; i++) {
    c.advance(1);
    const n = nonces.issue();
    pending.push(n);
    assert.equal(nonces.use(n, c.now(), 1), 'fresh');
  }
  assert.ok(nonces.trackedCount <= 100);
  // `first` was evicted: it may not come back as fresh.
  assert.equal(nonces.check(first).kind, 'stale');
  // Entries expire with the nonce lifetime.
  c.advance(31_000);
  const late = nonces.issue();
  assert.equal(nonces.use(late, c.now(), 1), 'fresh');
  assert.equal(nonces.trackedCount, 1);
});

test('verify: the HMAC alone decides, before any table access; age does not matter to it', () => {
  const c = clock();
  const nonces = new NonceManager({ lifetimeMs: 1_000, now: c.now });
  const mine = nonces.issue();
  assert.equal(nonces.verify(mine), true);
  c.advance(60_000);
  assert.equal(nonces.verify(mine), true, 'an old nonce of ours is genuine (check() calls it stale)');
  assert.equal(nonces.check(mine).kind, 'stale');
  const foreign = new NonceManager({ now: c.now }).issue();
  assert.equal(nonces.verify(foreign), false, 'another box or boot');
  // A forged nonce with a well-formed payload and a guessed MAC.
  const forged = Buffer.from(mine, 'base64url');
  forged[21] = (forged[21] ?? 0) ^ 1;
  assert.equal(nonces.verify(forged.toString('base64url')), false);
  for (const junk of ['', 'x', 'x'.repeat(30), '!'.repeat(30), 'A'.repeat(1000)]) assert.equal(nonces.verify(junk), false);
  // A forged nonce is never tracked, whatever is asked of the table afterwards.
  assert.equal(nonces.trackedCount, 0);
});

test('the replay table has a byte budget: oldest entries go first, older untracked nonces turn stale', () => {
  const c = clock();
  const nonces = new NonceManager({ now: c.now, maxTrackedBytes: 64 * 50, lifetimeMs: 30_000 });
  const issued: string[] = [];
  for (let i = 0; i < 200; i++) {
    c.advance(1);
    const n = nonces.issue();
    issued.push(n);
    assert.equal(nonces.use(n, c.now(), 1), 'fresh');
    assert.ok(nonces.trackedBytes <= 64 * 50);
  }
  assert.equal(nonces.trackedCount, 50);
  assert.equal(nonces.check(issued[0] ?? '').kind, 'stale', 'evicted: never fresh again');
  assert.equal(nonces.check(issued[199] ?? '').kind, 'valid', 'the newest are kept');
  assert.equal(nonces.use(issued[199] ?? '', c.now(), 1), 'replay');
});

test('a tracked nonce keeps nothing of the request it came in (keys are numbers)', () => {
  const c = clock();
  const nonces = new NonceManager({ now: c.now });
  const n = nonces.issue();
  // The nonce as a parser leaves it: a slice of a large message string.
  const message = `Authorization: Digest nonce="${n}"` + ' '.repeat(100_000);
  const slice = message.slice(message.indexOf('"') + 1, message.indexOf('"') + 31);
  assert.equal(slice, n);
  assert.equal(nonces.use(slice, c.now(), 1), 'fresh');
  assert.equal(nonces.use(n, c.now(), 1), 'replay', 'the same nonce, whatever string carries it');
});
