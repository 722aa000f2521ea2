/**
 * Socket pairs parked by closed legs (relay_core.c): the next leg on the same port takes the bound pair
 * instead of socket()/bind(), and must start clean: nothing the previous call's phones sent reaches
 * the new call, and it latches to its own phone. Real UDP on loopback, the test phones listen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { silentLogger } from '../../log.js';
import { createMediaEngine } from '../engine.js';
import { NativeRelay } from '../native/relay.js';
import { anchoredCall, sleep, toneShare, until, type AnchoredCall } from '../../../hw-tests/support/rtp-phone.js';

/** Two RTP/RTCP pairs only: a closed call's ports are the next call's. */
function smallRange(): { portMin: number; portMax: number } {
  const base = 20000 + 4 * Math.floor(Math.random() * 10000);
  return { portMin: base, portMax: base + 3 };
}

test('a reused parked port pair delivers nothing of the previous call and latches to the new phone', async () => {
  const e = await createMediaEngine({ bind: '127.0.0.1', ...smallRange(), logger: silentLogger() });
  const first = await anchoredCall(e, 'first');
  let second: AnchoredCall | undefined;
  try {
    await first.phoneA.sendTone(1000, 5, first.a.localPort);
    await until(() => first.phoneB.received.length >= 5, 3000, 'first call relayed');
    const ports = new Map([
      [first.a.localPort, first.a.nativeId],
      [first.b.localPort, first.b.nativeId],
    ]);
    first.session.close();
    // The first call's phones keep talking to the ports (late RTP and RTCP after the BYE).
    for (let i = 0; i < 20; i++) {
      await first.phoneA.send(first.phoneA.tonePacket(1000), first.a.localPort);
      await first.phoneB.send(first.phoneB.tonePacket(1000), first.b.localPort);
      await first.phoneA.send(first.phoneA.tonePacket(1000), first.a.localPort + 1, first.phoneA.rtcp);
    }
    await sleep(50);

    second = await anchoredCall(e, 'second');
    const c = second;
    // The same ports, and the same native slots: the parked pairs were taken, not bound anew.
    assert.equal(ports.get(c.a.localPort), c.a.nativeId);
    assert.equal(ports.get(c.b.localPort), c.b.nativeId);
    assert.equal(c.a.stats().packetsIn, 0);
    assert.equal(c.a.stats().latched, false);

    await Promise.all([c.phoneA.sendTone(440, 20, c.a.localPort), c.phoneB.sendTone(2000, 20, c.b.localPort)]);
    // Every packet read by the relay, not only most of them heard: on a busy 2-core CI box the last
    // ones can still be in the socket 50 ms after the phones' received counts crossed 18.
    await until(
      () =>
        c.phoneB.received.length >= 18 &&
        c.phoneA.received.length >= 18 &&
        c.a.stats().packetsIn >= 20 &&
        c.b.stats().packetsIn >= 20,
      3000,
      'second call relayed',
    );
    await sleep(50);
    assert.ok(c.phoneB.received.every((p) => p.ssrc === c.phoneA.ssrc), 'B hears only the new caller');
    assert.ok(c.phoneA.received.every((p) => p.ssrc === c.phoneB.ssrc), 'A hears only the new callee');
    assert.ok(toneShare(c.phoneB.heardPcm(), 440) > 0.8);
    const sA = c.a.stats();
    assert.equal(sA.remote?.port, c.phoneA.port, 'latched to the new phone');
    assert.equal(sA.packetsIn, 20);
    assert.equal(sA.relatches, 0);
    // nothing from the first call's phones was counted on the new legs
    assert.equal(sA.droppedForeign, 0);
    assert.equal(c.b.stats().droppedForeign, 0);
  } finally {
    for (const c of [first, second]) {
      c?.phoneA.close();
      c?.phoneB.close();
    }
    e.close();
  }
});

test('NativeRelay: a closed leg parks its pair, the next open of that port reuses it, close() releases every port', async () => {
  const relay = new NativeRelay(() => {});
  const port = 20000 + 2 * Math.floor(Math.random() * 20000);
  try {
    const id = relay.openLeg('127.0.0.1', port);
    relay.closeLeg(id);
    assert.deepEqual(relay.pool(), { parked: 1, reused: 0 });
    const again = relay.openLeg('127.0.0.1', port);
    assert.equal(again, id);
    assert.deepEqual(relay.pool(), { parked: 0, reused: 1 });
    relay.closeLeg(again);
  } finally {
    relay.close();
  }
  // the parked pair was closed with the relay: the ports are free for anyone
  for (const p of [port, port + 1]) {
    const s = createSocket('udp4');
    s.bind(p, '127.0.0.1');
    await once(s, 'listening');
    s.close();
  }
});
