/**
 * The relay against a hostile network (issue 15, docs/media-engine.md "Safety"): RTP Bleed
 * (CVE-2017-14099) sprays, NAT rebinding, RTCP latching and rtcp-mux, oversize and refused
 * datagrams, argument checks at the C boundary, a dying relay thread, freeing under traffic.
 * Real UDP on loopback; the attacker binds its own 127.0.0.x address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { silentLogger } from '../../log.js';
import { createMediaEngine, MediaError, type MediaEngine } from '../engine.js';
import { NativeRelay } from './relay.js';
import { anchoredCall, sleep, toneShare, until, within, type AnchoredCall } from '../../../hw-tests/support/rtp-phone.js';
import { buildReceiverReport } from '../rtp/rtcp.js';

const LEARN_MS = 300;

function range(size = 40): { portMin: number; portMax: number } {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  return { portMin: base, portMax: base + size - 1 };
}

/** Two relay threads (the default is one on 2 CPUs): a call's legs sit on different threads. */
async function engine(logger = silentLogger()): Promise<MediaEngine> {
  return createMediaEngine({ bind: '127.0.0.1', ...range(), logger, learningMs: LEARN_MS, relayThreads: 2 });
}

async function bound(ip: string): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, ip);
  await within(once(s, 'listening'), 5000, `UDP bind on ${ip}`);
  s.unref();
  return s;
}

function send(s: Socket, data: Uint8Array, port: number): Promise<void> {
  return within(
    new Promise((resolve, reject) => s.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
    5000,
    `send to 127.0.0.1:${port}`,
  );
}

/** A stranger's RTP: its own SSRC and sequence, PCMU silence. */
function strangerRtp(seq: number, ssrc = 0x0badf00d): Buffer {
  const b = Buffer.alloc(172, 0xff);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

/** A receiver report from `ssrc` (about a stream it receives). */
function rr(ssrc: number): Uint8Array {
  return buildReceiverReport(ssrc, { ssrc: 1, fractionLost: 0, totalLost: 0, extendedHighestSeq: 0, jitter: 0 });
}

function closeCall(c: AnchoredCall | undefined): void {
  c?.phoneA.close();
  c?.phoneB.close();
}

/** Both phones talk a little, so both legs latch (in the learning window). */
async function talk(c: AnchoredCall, n = 5): Promise<void> {
  const a0 = c.phoneA.received.length;
  const b0 = c.phoneB.received.length;
  await Promise.all([c.phoneA.sendTone(1000, n, c.a.localPort), c.phoneB.sendTone(440, n, c.b.localPort)]);
  await until(() => c.phoneA.received.length >= a0 + n - 1 && c.phoneB.received.length >= b0 + n - 1, 3000, 'both ways');
}

test('RTP Bleed: a spray at a held call\'s ports reaches no phone and takes nothing over, long after the old 1 s silence rule', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'bleed');
  const attacker = await bound('127.0.0.66');
  const stolen: Buffer[] = [];
  attacker.on('message', (m) => stolen.push(m));
  try {
    await talk(c);
    // B holds A (sendonly / recvonly): both phones go quiet
    c.a.anchorOffer(c.phoneB.sdp({ direction: 'sendonly', version: 2 }), c.b);
    c.b.anchorAnswer(c.phoneA.sdp({ direction: 'recvonly', version: 2 }), c.a);
    await sleep(LEARN_MS + 100); // the learning window reopened by the re-INVITE has closed
    const before = { a: c.phoneA.received.length, b: c.phoneB.received.length, ar: c.phoneA.rtcpReceived.length, br: c.phoneB.rtcpReceived.length };
    const remoteA = c.a.stats().remote;
    const remoteB = c.b.stats().remote;
    // 1.5 s of spray on all four ports (RTP and RTCP of both legs), guessed SSRCs and sequences
    for (let i = 0; i < 75; i++) {
      for (const port of [c.a.localPort, c.b.localPort]) {
        await send(attacker, strangerRtp(1000 + i, 0x0badf00d + (i % 3)), port);
        await send(attacker, rr(0x0badf00d), port + 1);
      }
      await sleep(20);
    }
    await sleep(100);
    assert.equal(c.phoneA.received.length, before.a, 'nothing reached phone A');
    assert.equal(c.phoneB.received.length, before.b, 'nothing reached phone B');
    assert.equal(c.phoneA.rtcpReceived.length, before.ar);
    assert.equal(c.phoneB.rtcpReceived.length, before.br);
    assert.deepEqual(c.a.stats().remote, remoteA, 'leg A still sends to phone A');
    assert.deepEqual(c.b.stats().remote, remoteB, 'leg B still sends to phone B');
    assert.ok(c.a.stats().droppedForeign >= 75 && c.b.stats().droppedForeign >= 75, 'the spray was counted as foreign');
    assert.equal(c.a.stats().relatches + c.b.stats().relatches, 0);
    // resume: the phones talk again and hear each other; the attacker never got a byte
    c.a.anchorOffer(c.phoneB.sdp({ version: 3 }), c.b);
    c.b.anchorAnswer(c.phoneA.sdp({ version: 3 }), c.a);
    await talk(c, 20);
    assert.ok(toneShare(c.phoneB.heardPcm(before.b), 1000) > 0.8, 'B hears A');
    assert.ok(toneShare(c.phoneA.heardPcm(before.a), 440) > 0.8, 'A hears B');
    await sleep(50);
    assert.equal(stolen.length, 0, 'the attacker received nothing');
  } finally {
    attacker.close();
    closeCall(c);
    e.close();
  }
});

test('a stranger that speaks first in the learning window loses the leg to the phone\'s SDP address', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'bleed-early');
  const attacker = await bound('127.0.0.67');
  const stolen: Buffer[] = [];
  attacker.on('message', (m) => stolen.push(m));
  try {
    await send(attacker, strangerRtp(1), c.a.localPort);
    await until(() => c.a.stats().latched, 2000, 'latched to the stranger');
    await talk(c);
    assert.equal(c.a.stats().remote?.port, c.phoneA.port, 'the SDP address wins');
    const n = stolen.length;
    await c.phoneB.sendTone(440, 5, c.b.localPort);
    await sleep(100);
    assert.equal(stolen.length, n, 'nothing more goes to the stranger');
    // after the window, a leg nobody latched takes only its SDP address
    const d = await anchoredCall(e, 'bleed-late');
    try {
      await sleep(LEARN_MS + 100);
      await send(attacker, strangerRtp(2), d.a.localPort);
      await sleep(50);
      assert.equal(d.a.stats().latched, false);
      await d.phoneA.sendTone(1000, 3, d.a.localPort);
      await until(() => d.a.stats().latched, 2000, 'latched to its SDP address');
      assert.equal(d.a.stats().remote?.port, d.phoneA.port);
    } finally {
      closeCall(d);
    }
  } finally {
    attacker.close();
    closeCall(c);
    e.close();
  }
});

test('NAT rebinding: the same SSRC continuing its sequence from a new address moves the leg; a gap or another SSRC does not', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'rebind');
  const nat = await bound('127.0.0.9');
  const heard: Buffer[] = [];
  nat.on('message', (m) => heard.push(m));
  try {
    await talk(c);
    await sleep(LEARN_MS + 100);
    // a sequence jump from the new address: not a continuation
    c.phoneA.skip(500);
    await c.phoneA.send(c.phoneA.tonePacket(1000), c.a.localPort, nat);
    // another stream (the stranger's SSRC) continuing right after A's sequence: not A
    await send(nat, strangerRtp(0), c.a.localPort);
    await sleep(50);
    assert.equal(c.a.stats().remote?.port, c.phoneA.port, 'not moved');
    assert.equal(c.a.stats().relatches, 0);
    // A goes on from its SDP port, then its NAT rebinds: the next packets come from the new mapping
    await c.phoneA.sendTone(1000, 3, c.a.localPort);
    await c.phoneA.sendTone(1000, 3, c.a.localPort, { via: nat });
    await until(() => c.a.stats().relatches === 1, 2000, 'rebinding');
    assert.equal(c.a.stats().remote?.ip, '127.0.0.9');
    assert.equal(c.a.stats().remote?.port, nat.address().port);
    const a0 = c.phoneA.received.length;
    await c.phoneB.sendTone(440, 10, c.b.localPort);
    await until(() => heard.length >= 9, 2000, 'B\'s audio at the new mapping');
    assert.equal(c.phoneA.received.length, a0, 'the old mapping gets nothing more');
  } finally {
    nat.close();
    closeCall(c);
    e.close();
  }
});

test('RTCP toward a phone goes where its RTCP comes from, not only to its SDP address', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'rtcp-latch');
  const natRtcp = await bound('127.0.0.1');
  const heard: Buffer[] = [];
  natRtcp.on('message', (m) => heard.push(m));
  try {
    await talk(c);
    // A's RTP comes from its SDP port, its RTCP from another one (a NAT maps them apart)
    await send(natRtcp, rr(c.phoneA.ssrc), c.a.localPort + 1);
    await until(() => c.a.stats().rtcpRemote?.port === natRtcp.address().port, 2000, 'RTCP latched');
    const sdpRtcp = c.phoneA.rtcpReceived.length;
    await send(c.phoneB.rtcp, rr(c.phoneB.ssrc), c.b.localPort + 1);
    await until(() => heard.length >= 1, 2000, 'B\'s RTCP at A\'s real RTCP port');
    assert.equal(c.phoneA.rtcpReceived.length, sdpRtcp, 'not at the SDP RTCP port');
    // a stranger's RTCP does not move it
    const stranger = await bound('127.0.0.68');
    await send(stranger, rr(0x1234), c.a.localPort + 1);
    await sleep(50);
    stranger.close();
    assert.equal(c.a.stats().rtcpRemote?.port, natRtcp.address().port);
  } finally {
    natRtcp.close();
    closeCall(c);
    e.close();
  }
});

test('rtcp-mux both ways: RTCP on a phone\'s RTP port reaches the other phone\'s RTCP port, and comes back on the RTP port', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'mux');
  const muxedAtA: Buffer[] = [];
  const atRtcpA: Buffer[] = [];
  c.phoneA.rtcp.on('message', (m) => atRtcpA.push(m));
  c.phoneA.rtp.on('message', (m) => {
    if (m[1] !== undefined && m[1] >= 192 && m[1] <= 223) muxedAtA.push(m);
  });
  try {
    await talk(c);
    // A muxes: its RTCP leaves its RTP socket to our RTP port
    await send(c.phoneA.rtp, rr(c.phoneA.ssrc), c.a.localPort);
    await until(() => c.phoneB.rtcpReceived.length >= 1, 2000, 'A\'s muxed RTCP at B\'s RTCP port');
    assert.equal(c.a.stats().rtcpRemote?.port, c.phoneA.port, 'RTCP for A goes to its RTP port now');
    // B does not mux: its RTCP to our RTCP port, relayed to A's RTP port (from our RTP port)
    await send(c.phoneB.rtcp, rr(c.phoneB.ssrc), c.b.localPort + 1);
    await until(() => muxedAtA.length >= 1, 2000, 'B\'s RTCP at A\'s RTP port');
    assert.equal(atRtcpA.length, 0, 'nothing at A\'s separate RTCP port');
    assert.equal(c.phoneA.received.length >= 4, true);
  } finally {
    closeCall(c);
    e.close();
  }
});

test('oversize and malformed datagrams are dropped whole and counted; refused sends are counted, not claimed sent', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'sizes');
  try {
    await talk(c);
    const b0 = c.phoneB.received.length;
    const big = Buffer.concat([Buffer.from(c.phoneA.tonePacket(1000)), Buffer.alloc(3000, 0xff)]);
    await c.phoneA.send(big, c.a.localPort);
    const badCsrc = Buffer.from(c.phoneA.tonePacket(1000)).subarray(0, 20);
    badCsrc[0] = 0x8f; // 15 CSRCs announced, 2 present
    await c.phoneA.send(badCsrc, c.a.localPort);
    await until(() => c.a.stats().droppedOversize === 1 && c.a.stats().droppedMalformed === 1, 2000, 'counted');
    await sleep(50);
    assert.equal(c.phoneB.received.length, b0, 'nothing relayed, not even a cut copy');
    // B's phone moves (re-INVITE) to the loopback broadcast address: the kernel refuses every send
    c.a.anchorOffer(c.phoneB.sdp({ address: '127.255.255.255', version: 2 }), c.b);
    c.b.anchorAnswer(c.phoneA.sdp({ version: 2 }), c.a);
    const out0 = c.b.stats().packetsOut;
    await c.phoneA.sendTone(1000, 10, c.a.localPort);
    await until(() => c.b.stats().droppedSend === 10, 2000, 'refused sends counted');
    assert.equal(c.b.stats().packetsOut, out0, 'packetsOut counts what left');
  } finally {
    closeCall(c);
    e.close();
  }
});

test('commands are in effect for the first packet after they return, whichever relay thread reads it', async () => {
  // Legs a and b of each call land on different relay threads; their addresses and routes travel
  // through the threads' command rings. The first packet from A, sent just after the calls
  // returned, must reach B, and a send from JS on b must leave at once.
  const relay = new NativeRelay(() => undefined, { threads: 2 });
  const pa = await bound('127.0.0.1');
  const pb = await bound('127.0.0.1');
  const atB = new Set<number>();
  pb.on('message', (m: Buffer) => atB.add(m.readUInt16BE(2)));
  const remote = (port: number): { ip: string; rtpPort: number; rtcpPort: number; canSend: boolean; dtmfPt: number; clockRate: number } => ({
    ip: '127.0.0.1', rtpPort: port, rtcpPort: 0, canSend: true, dtmfPt: -1, clockRate: 8000,
  });
  const { portMin, portMax } = range(400);
  const open: number[] = [];
  let calls = 0;
  let jsSent = 0;
  try {
    for (let p = portMin; p + 2 < portMax && calls < 50; p += 4) {
      let a: number;
      let b: number;
      try {
        a = relay.openLeg('127.0.0.1', p);
      } catch {
        continue; // a port another process holds
      }
      open.push(a);
      try {
        b = relay.openLeg('127.0.0.1', p + 2);
      } catch {
        continue;
      }
      open.push(b);
      relay.setRemote(a, remote(pa.address().port));
      relay.setRemote(b, remote(pb.address().port));
      relay.setRoute(a, 'relay', b);
      relay.setRoute(b, 'relay', a);
      if (relay.send(b, 'rtp', strangerRtp(1000 + calls, 0x5eed))) jsSent++;
      await send(pa, strangerRtp(calls, 0xa11ce), p);
      calls++;
    }
    assert.ok(calls >= 20, `enough calls opened (${calls})`);
    assert.equal(jsSent, calls, 'every send from JS right after setRemote left');
    await until(() => atB.size >= 2 * calls, 3000, 'every first packet at B').catch(() => undefined);
    const missing = [...Array(calls).keys()].filter((i) => !atB.has(i));
    assert.deepEqual(missing, [], 'first packets from A refused because a command was not yet applied');
  } finally {
    for (const id of open) relay.closeLeg(id);
    relay.close();
    pa.close();
    pb.close();
  }
});

test('ports and arguments are checked at the C boundary', () => {
  const relay = new NativeRelay(() => undefined);
  try {
    for (const bad of [0, 1, 20001, 65535, 65536, -2, 2.5]) {
      assert.throws(() => relay.openLeg('127.0.0.1', bad), (err: Error & { code?: string }) => err.code === 'ERR_MEDIA_ARG', `port ${bad}`);
    }
    assert.throws(() => relay.openLeg('127.0.0.1', '20000' as unknown as number), TypeError);
    assert.throws(() => relay.openLeg('::1', 20000), RangeError);
    const port = 20000 + 2 * Math.floor(Math.random() * 20000);
    const id = relay.openLeg('127.0.0.1', port);
    const ok = { ip: '127.0.0.1', rtpPort: 4000, rtcpPort: 0, canSend: true, dtmfPt: 101, clockRate: 8000 };
    relay.setRemote(id, ok);
    for (const bad of [{ rtpPort: 0 }, { rtpPort: 65536 }, { rtcpPort: 70000 }, { rtpPort: 65535, rtcpPort: 0 }, { dtmfPt: 300 }, { ip: '1.2.3' }]) {
      assert.throws(() => relay.setRemote(id, { ...ok, ...bad }), RangeError, JSON.stringify(bad));
    }
    relay.setRemote(id, { ...ok, ip: '', rtpPort: 0 }); // unknown address (c=0.0.0.0): allowed
    assert.throws(() => relay.setRoute(id, 'relay', id), RangeError, 'a leg is not its own peer');
    assert.throws(() => relay.stats(id + 1), RangeError);
    relay.closeLeg(id);
    assert.throws(() => relay.closeLeg(id), RangeError, 'closed twice');
  } finally {
    relay.close();
  }
});

test('a dying relay thread is reported: the error is logged, calls end, new calls are refused', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const e = await engine(pino({ level: 'info' }, sink));
  const c = await anchoredCall(e, 'doomed');
  let told = 0;
  e.onFailure((errno) => (told = errno));
  try {
    await talk(c);
    (e as unknown as { breakRelayForTest(): void }).breakRelayForTest();
    await until(() => told !== 0, 3000, 'failure reported');
    assert.equal(e.failure, told);
    assert.ok(c.session.closed, 'the call\'s session was closed');
    assert.throws(() => e.createSession({ callId: 'next' }), (err: unknown) => err instanceof MediaError && err.code === 'ERR_RELAY_FAILED');
    const logged = lines.find((l) => l.level === 50 && /relay thread died/.test(String(l.msg)));
    assert.ok(logged, 'logged at error level');
    assert.equal(logged.errno, told);
  } finally {
    closeCall(c);
    e.close();
  }
  // the same at the addon: later calls throw ERR_MEDIA_DEAD, closing still works
  let dead = 0;
  const relay = new NativeRelay(() => undefined, { onFailure: (n) => (dead = n) });
  const port = 20000 + 2 * Math.floor(Math.random() * 20000);
  const id = relay.openLeg('127.0.0.1', port);
  relay.breakEpollForTest();
  await until(() => dead !== 0, 3000, 'addon failure');
  assert.equal(relay.deadError(), dead);
  assert.throws(() => relay.openLeg('127.0.0.1', port + 2), (err: Error & { code?: string }) => err.code === 'ERR_MEDIA_DEAD');
  relay.closeLeg(id);
  relay.close();
});

test('freeing a relay with packets queued for JS waits for the thread-safe function (create/close/GC under traffic)', () => {
  const script = `
    const { NativeRelay } = await import(${JSON.stringify(new URL('./relay.js', import.meta.url).href)});
    const dgram = await import('node:dgram');
    const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1'); await new Promise((r) => s.once('listening', r));
    const rr = Buffer.from('81c90007' + '00000001' + '0'.repeat(48), 'hex');
    let got = 0;
    for (let i = 0; i < 40; i++) {
      const relay = new NativeRelay(() => { got++; });
      const port = 20000 + 2 * Math.floor(Math.random() * 20000);
      const id = relay.openLeg('127.0.0.1', port);
      relay.setRemote(id, { ip: '127.0.0.1', rtpPort: s.address().port, rtcpPort: 0, canSend: true, dtmfPt: -1, clockRate: 8000 });
      relay.setRoute(id, 'js', null);
      for (let k = 0; k < 50; k++) s.send(rr, port + 1, '127.0.0.1');
      await new Promise((r) => setTimeout(r, i % 3));
      if (i % 2) relay.close();
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
    }
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    s.close();
    console.log('done', got);
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^done \d+/m);
  void fileURLToPath;
});

test('report events: a relayed telephone-event is copied to JS; with JS blocked the copies past the queue cap are dropped and counted, every packet is still relayed', async () => {
  let copies = 0;
  let others = 0;
  const relay = new NativeRelay((pkts) => {
    for (const p of pkts) if (p.kind === 'event') copies++;
    else others++;
  });
  const sB = await bound('127.0.0.1');
  // phone A's port: bound by the child process that plays phone A (free now, taken a moment later)
  const probe = await bound('127.0.0.1');
  const portA = probe.address().port;
  probe.close();
  const open = (): { id: number; port: number } => {
    for (let i = 0; ; i++) {
      const port = 20000 + 2 * Math.floor(Math.random() * 20000);
      try {
        return { id: relay.openLeg('127.0.0.1', port), port };
      } catch (e) {
        if (i > 20) throw e;
      }
    }
  };
  try {
    const a = open();
    const b = open();
    relay.setRemote(a.id, { ip: '127.0.0.1', rtpPort: portA, rtcpPort: 0, canSend: true, dtmfPt: 101, clockRate: 8000 });
    relay.setRemote(b.id, { ip: '127.0.0.1', rtpPort: sB.address().port, rtcpPort: 0, canSend: true, dtmfPt: 101, clockRate: 8000 });
    relay.setRoute(a.id, 'relay', b.id);
    relay.setRoute(b.id, 'relay', a.id);
    relay.setEvents(a.id, true);
    // 8,000 telephone-event packets of 1,212 bytes (9.7 MB, over the 4 MiB JS queue) plus 100 audio
    // packets, sent while this thread is blocked in spawnSync: nothing is taken from the queue meanwhile.
    const script = `
      const dgram = await import('node:dgram');
      const s = dgram.createSocket('udp4'); s.bind(${portA}, '127.0.0.1'); await new Promise((r) => s.once('listening', r));
      const dst = ${a.port};
      for (let i = 0; i < 8100; i++) {
        const b = Buffer.alloc(i < 8000 ? 1212 : 172);
        b[0] = 0x80; b[1] = i < 8000 ? 101 : 0; b.writeUInt16BE(i & 0xffff, 2); b.writeUInt32BE(Math.floor(i / 10) * 800, 4); b.writeUInt32BE(0x4242, 8);
        if (i < 8000) { b[12] = 1; b[13] = i % 10 === 9 ? 0x8a : 0x0a; b.writeUInt16BE(80 * (1 + (i % 10)), 14); }
        await new Promise((r) => s.send(b, dst, '127.0.0.1', r));
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
      }
      s.close();
      console.log('sent');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    await until(() => {
      const s = relay.stats(a.id);
      return s.packetsIn > 0 && copies + s.jsDropped >= (s.bytesIn - 172 * s.packetsIn) / 1040;
    }, 5000, 'the copies taken by JS');
    await sleep(100);
    const sa = relay.stats(a.id);
    const sb = relay.stats(b.id);
    console.log(`report events: ${sa.packetsIn} in, ${copies} copies to JS, ${sa.jsDropped} dropped at the cap, ${sb.packetsOut} relayed`);
    assert.ok(sa.packetsIn > 4000, `enough packets reached the relay to pass the cap (${sa.packetsIn})`);
    assert.ok(sa.jsDropped > 0, 'copies past the 4 MiB cap were dropped and counted');
    assert.ok(copies > 0, 'copies before the cap reached JS');
    // only telephone-events are copied (the 100 audio packets are not); every packet is relayed
    const events = (sa.bytesIn - 172 * sa.packetsIn) / 1040; // 1,212-byte events, 172-byte audio
    assert.ok(Number.isInteger(events) && events < sa.packetsIn, `${events} events among ${sa.packetsIn}`);
    assert.equal(copies + sa.jsDropped, events);
    assert.equal(others, 0);
    assert.equal(sb.packetsOut + sb.droppedSend, sa.packetsIn);
    assert.equal(sb.packetsOut, sa.packetsIn, 'every packet relayed to B despite the blocked JS thread');
    assert.equal(sa.droppedNoRoute + sa.droppedForeign + sa.droppedMalformed, 0);
  } finally {
    relay.close();
    sB.close();
  }
});

test('memory is what the legs use: a new relay and 20,000 legs opened and closed in turn add a few MB, not the 65,536-slot tables (issue 21)', () => {
  // Its own process, so the figure is the relay's (and a small V8 heap's), not this test file's.
  const script = `
    const fs = await import('node:fs');
    const { NativeRelay } = await import(${JSON.stringify(new URL('./relay.js', import.meta.url).href)});
    const anonKb = () => { globalThis.gc(); return Number(/^Anonymous:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]); };
    const warm = new NativeRelay(() => {}, { threads: 2 });
    warm.close();
    const before = anonKb();
    const relay = new NativeRelay(() => {}, { threads: 2 });
    const created = anonKb();
    const base = 20000 + 2 * Math.floor(Math.random() * 20000);
    let opened = 0;
    // Two legs a call on two ports, bridged; each closed leg stays parked on its port, and the next
    // call binds the other loopback address, so every call takes slots afresh (the slot FIFO) and
    // sends open, route, remote and close commands through both threads' rings.
    for (let i = 0; i < 10000; i++) {
      const ip = i % 2 ? '127.0.0.2' : '127.0.0.1';
      const a = relay.openLeg(ip, base);
      const b = relay.openLeg(ip, base + 2);
      relay.setRemote(a, { ip: '127.0.0.1', rtpPort: 9, rtcpPort: 0, canSend: true, dtmfPt: -1, clockRate: 8000 });
      relay.setRoute(a, 'relay', b);
      relay.setRoute(b, 'relay', a);
      relay.closeLeg(a);
      relay.closeLeg(b);
      opened += 2;
    }
    const after = anonKb();
    relay.close();
    console.log(JSON.stringify({ opened, createdKb: created - before, afterKb: after - before, pool: null }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { opened: number; createdKb: number; afterKb: number };
  console.log(`relay memory: +${(m.createdKb / 1024).toFixed(1)} MB anonymous when created, +${(m.afterKb / 1024).toFixed(1)} MB after ${m.opened} legs`);
  assert.equal(m.opened, 20000);
  // The tables alone were ~29 MB once touched, the two command rings 8.4 MB.
  assert.ok(m.createdKb < 2 * 1024, `a new relay touches its tables only as legs use them (+${m.createdKb} kB)`);
  assert.ok(m.afterKb < 8 * 1024, `20,000 legs touch the slots in use plus the FIFO's, and the rings once (+${m.afterKb} kB)`);
});
