import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { PortAllocator } from './ports.js';
import { MediaError } from './errors.js';
import { NativeRelay } from '../native/relay.js';

/** Binds an even/odd pair for real, as the native side does. */
async function bindPair(port: number): Promise<() => void> {
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  a.bind(port, '127.0.0.1');
  await once(a, 'listening');
  b.bind(port + 1, '127.0.0.1');
  await once(b, 'listening');
  return () => {
    a.close();
    b.close();
  };
}

test('even RTP / odd RTCP pairs, round robin, release returns the pair', () => {
  const p = new PortAllocator(20001, 20010); // 20002..20009: 4 pairs
  assert.equal(p.capacity, 4);
  const got = [p.allocate((x) => x).port, p.allocate((x) => x).port];
  assert.deepEqual(got, [20002, 20004]);
  p.release(20002);
  assert.equal(p.allocate((x) => x).port, 20006, 'a freed port is not reused at once');
  p.release(99999); // unknown: ignored
  assert.throws(() => new PortAllocator(30000, 30000), RangeError);
  assert.throws(() => new PortAllocator(500, 600), RangeError);
});

test('a pair busy in another process is skipped (real EADDRINUSE from the native bind); a full range says so clearly', async () => {
  const base = 40000 + 2 * Math.floor(Math.random() * 5000);
  const unbind = await bindPair(base);
  const relay = new NativeRelay(() => undefined);
  try {
    const p = new PortAllocator(base, base + 3); // two pairs, the first one busy
    const first = p.allocate((port) => relay.openLeg('127.0.0.1', port));
    assert.equal(first.port, base + 2);
    assert.throws(
      () => p.allocate((port) => relay.openLeg('127.0.0.1', port)),
      (e: unknown) => e instanceof MediaError && e.code === 'ERR_PORTS_EXHAUSTED' && /1 in use, 1 busy elsewhere/.test(e.message),
    );
    relay.closeLeg(first.value);
    p.release(first.port);
    // other bind errors propagate and do not lose the pair
    assert.throws(() => p.allocate((port) => relay.openLeg('256.1.1.1', port)), /not an IPv4 address/);
    assert.equal(p.available, 2);
  } finally {
    relay.close();
    unbind();
  }
});
