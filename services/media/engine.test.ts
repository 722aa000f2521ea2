/**
 * The media engine with real UDP sockets on loopback: two test phones talk through an anchored,
 * natively bridged session, and we listen to what each hears (G.711 decode + Goertzel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { silentLogger } from '../log.js';
import { createMediaEngine, MediaError, type MediaEngine, type DtmfEvent, type KeyPress, type MediaLeg } from './engine.js';
import { RtpPhone, anchoredCall, openSocket, sleep, toneShare, until } from '../../hw-tests/support/rtp-phone.js';
import { skipOrFail } from '../../hw-tests/support/environment.js';
import { buildReceiverReport, readReceptionReports } from './rtp/rtcp.js';
import { parseSdp } from './sdp/parse.js';

/** A free-ish port range per test file so parallel test files do not collide (the pool skips busy ports anyway). */
function range(size: number): { portMin: number; portMax: number } {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  return { portMin: base, portMax: base + size - 1 };
}

// Two relay threads (the default is one on 2 CPUs): a call's legs sit on different threads, so the
// commands' effect across threads (the published route) is what these tests see.
async function engine(size = 200, extra: { rtcpIntervalMs?: number } = {}): Promise<MediaEngine> {
  return createMediaEngine({ bind: '127.0.0.1', ...range(size), logger: silentLogger(), relayThreads: 2, ...extra });
}

function portIn(sdp: string): number {
  const m = parseSdp(sdp).media[0];
  assert.ok(m);
  return m.port;
}

test('bridged call: each phone hears the other (1 kHz one way, 440 Hz the other), packets relayed untouched', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-audio');
  try {
    assert.equal(portIn(c.offerForB), c.b.localPort);
    assert.equal(portIn(c.answerForA), c.a.localPort);
    assert.equal(c.a.localPort % 2, 0);
    await Promise.all([c.phoneA.sendTone(1000, 30, c.a.localPort), c.phoneB.sendTone(440, 30, c.b.localPort)]);
    await until(() => c.phoneA.received.length >= 28 && c.phoneB.received.length >= 28, 3000, 'relayed audio');
    const heardByB = c.phoneB.heardPcm();
    const heardByA = c.phoneA.heardPcm();
    assert.ok(toneShare(heardByB, 1000) > 0.8, `B hears 1 kHz: ${toneShare(heardByB, 1000)}`);
    assert.ok(toneShare(heardByB, 440) < 0.05);
    assert.ok(toneShare(heardByA, 440) > 0.8, `A hears 440 Hz: ${toneShare(heardByA, 440)}`);
    // pure relay: the phone's SSRC and sequence arrive as sent, from our port for that phone
    const first = c.phoneB.received[0];
    assert.ok(first);
    assert.equal(first.ssrc, c.phoneA.ssrc);
    assert.equal(first.from.port, c.b.localPort);
    const sA = c.a.stats();
    assert.ok(sA.packetsIn >= 28);
    assert.equal(sA.lost, 0);
    assert.ok(c.b.stats().packetsOut >= 28);
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('latching: a phone behind NAT sends from another port than its SDP says and still hears audio', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-nat');
  const nat = await openSocket();
  const heardAtNat: Buffer[] = [];
  nat.on('message', (m) => heardAtNat.push(m));
  try {
    // A's public mapping differs from the SDP port: A's first packets fix where we send
    await c.phoneA.sendTone(1000, 3, c.a.localPort, { via: nat });
    await until(() => c.a.stats().latched, 2000, 'latch');
    assert.equal(c.a.stats().remote?.port, nat.address().port);
    await c.phoneB.sendTone(440, 20, c.b.localPort);
    await until(() => heardAtNat.length >= 18, 3000, 'audio at the NAT port');
    assert.equal(c.phoneA.received.length, 0, 'nothing goes to the SDP port once latched');
    // a stranger sending to the latched leg is ignored while A keeps talking
    const stranger = await openSocket();
    await c.phoneA.send(c.phoneA.tonePacket(1000), c.a.localPort, nat);
    await c.phoneA.send(c.phoneA.tonePacket(1000), c.a.localPort, stranger);
    await until(() => c.a.stats().droppedForeign >= 1, 2000, 'foreign drop');
    assert.equal(c.a.stats().remote?.port, nat.address().port);
    stranger.close();
  } finally {
    nat.close();
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('hold: sendonly and c=0.0.0.0 pass through the SDP, and the held phone is not sent audio', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-hold');
  try {
    // B puts A on hold with a re-INVITE (sendonly): A gets sendonly, B's answer carries recvonly
    const holdOffer = c.a.anchorOffer(c.phoneB.sdp({ direction: 'sendonly', version: 2 }), c.b);
    assert.equal(parseSdp(holdOffer).media[0]?.direction, 'sendonly');
    const v1 = Number(parseSdp(c.answerForA).origin.sessionVersion);
    assert.ok(Number(parseSdp(holdOffer).origin.sessionVersion) > v1, 'o= version increases (RFC 3264 §8)');
    const holdAnswer = c.b.anchorAnswer(c.phoneA.sdp({ direction: 'recvonly', version: 2 }), c.a);
    assert.equal(parseSdp(holdAnswer).media[0]?.direction, 'recvonly');
    assert.equal(c.b.remoteDirection, 'sendonly');
    // old-style hold from A (RFC 2543 c=0.0.0.0): B is offered sendonly, and A is sent nothing
    const oldHold = c.b.anchorOffer(c.phoneA.sdp({ address: '0.0.0.0', version: 3 }), c.a);
    assert.equal(parseSdp(oldHold).media[0]?.direction, 'sendonly');
    c.a.anchorAnswer(c.phoneB.sdp({ direction: 'recvonly', version: 3 }), c.b);
    await c.phoneB.sendTone(440, 10, c.b.localPort);
    await sleep(100);
    assert.equal(c.phoneA.received.length, 0, 'held phone gets no audio');
    // resume
    c.b.anchorOffer(c.phoneA.sdp({ version: 4 }), c.a);
    c.a.anchorAnswer(c.phoneB.sdp({ version: 4 }), c.b);
    await c.phoneB.sendTone(440, 10, c.b.localPort);
    await until(() => c.phoneA.received.length >= 8, 2000, 'audio after resume');
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('takeover: an endpoint plays 440 Hz to one phone and hears its 1 kHz, DTMF arrives as events, then the bridge resumes', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-takeover');
  try {
    const frames: Int16Array[] = [];
    const digits: DtmfEvent[] = [];
    let detached = false;
    const out = c.b.attach({
      onAudio: (f) => frames.push(f),
      onDtmf: (d) => digits.push(d),
      onDetach: () => {
        detached = true;
      },
    });
    assert.equal(out.codec, 'PCMU');
    // the feature plays 440 Hz to B in real time while B sends 1 kHz
    let phase = 0;
    const play = (async () => {
      for (let i = 0; i < 30; i++) {
        const f = new Int16Array(160);
        for (let k = 0; k < 160; k++) f[k] = Math.round(8000 * Math.sin((phase += (2 * Math.PI * 440) / 8000)));
        assert.equal(out.sendAudio(f), true);
        await sleep(20);
      }
    })();
    await Promise.all([play, c.phoneB.sendTone(1000, 30, c.b.localPort), c.phoneA.sendTone(700, 10, c.a.localPort)]);
    await until(() => frames.length >= 28, 2000, 'frames at the endpoint');
    const heard = new Int16Array(frames.length * 160);
    frames.forEach((f, i) => heard.set(f, i * 160));
    assert.ok(frames.every((f) => f.length === 160));
    assert.ok(toneShare(heard, 1000) > 0.8, `endpoint hears 1 kHz: ${toneShare(heard, 1000)}`);
    await until(() => c.phoneB.received.length >= 28, 2000, 'endpoint audio at B');
    const atB = c.phoneB.received;
    assert.ok(toneShare(c.phoneB.heardPcm(), 440) > 0.8, 'B hears the endpoint, not A (700 Hz)');
    assert.equal(atB[0]?.marker, true, 'marker on talkspurt start');
    for (let i = 1; i < atB.length; i++) {
      const prev = atB[i - 1];
      const cur = atB[i];
      assert.ok(prev && cur);
      assert.equal(cur.ssrc, prev.ssrc);
      assert.equal(cur.seq, (prev.seq + 1) & 0xffff);
      assert.equal(cur.ts, (prev.ts + 160) >>> 0);
    }
    assert.equal(c.phoneA.received.length, 0, 'A hears nothing from the taken-over leg');
    // RFC 4733 from B reaches the endpoint as one begin and one end
    await c.phoneB.sendDigit('5', c.b.localPort);
    await until(() => digits.some((d) => d.phase === 'end'), 2000, 'DTMF end');
    assert.deepEqual(
      digits.map((d) => `${d.digit}:${d.phase}`),
      ['5:begin', '5:end'],
    );
    // back to the bridge
    c.b.detach();
    assert.equal(detached, true);
    const n = c.phoneB.received.length;
    await Promise.all([c.phoneA.sendTone(1000, 15, c.a.localPort), c.phoneB.sendTone(440, 15, c.b.localPort)]);
    await until(() => c.phoneB.received.length >= n + 13 && c.phoneA.received.length >= 13, 2000, 'bridge after detach');
    assert.ok(toneShare(c.phoneB.heardPcm(n), 1000) > 0.8, 'B hears A again');
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('watchDtmf: RFC 4733 key presses of a relayed leg reach JS once each, and the other phone still gets every packet unchanged', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-watch-dtmf');
  try {
    const keys: KeyPress[] = [];
    c.a.watchDtmf((k) => keys.push(k));
    // the flag is a command like setRoute: in effect for what arrives after the call
    await c.phoneA.sendTone(1000, 5, c.a.localPort);
    await c.phoneA.sendDigit('*', c.a.localPort);
    await c.phoneA.sendDigit('3', c.a.localPort);
    await c.phoneA.sendTone(1000, 5, c.a.localPort);
    await until(() => keys.length >= 2 && c.phoneB.received.length >= 22, 3000, 'key presses at JS and packets at B');
    await sleep(100);
    // one press per event, although each event's end packet came three times
    assert.deepEqual(keys.map((k) => k.digit), ['*', '3']);
    assert.ok(keys.every((k) => !k.inferred && k.durationMs === 80), JSON.stringify(keys));
    // listening at B: the 12 event packets arrive as A sent them (relayed, not regenerated), between A's audio
    const events = c.phoneB.received.filter((r) => r.pt === 101);
    assert.equal(events.length, 12);
    assert.ok(events.every((r) => r.ssrc === c.phoneA.ssrc && r.from.port === c.b.localPort));
    assert.deepEqual(events.map((r) => r.event?.event), [10, 10, 10, 10, 10, 10, 3, 3, 3, 3, 3, 3]);
    assert.deepEqual(events.map((r) => r.event?.end), [false, false, false, true, true, true, false, false, false, true, true, true]);
    const seqs = c.phoneB.received.map((r) => r.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], ((seqs[i - 1] ?? 0) + 1) & 0xffff, 'every packet relayed, in order');
    assert.ok(toneShare(c.phoneB.heardPcm(), 1000) > 0.8, 'B still hears A');
    assert.equal(e.sessions.get('call-watch-dtmf')?.legs.length, 2);
    // the other leg was not watched: B's key press reaches A but no watcher
    await c.phoneB.sendDigit('7', c.b.localPort);
    await until(() => c.phoneA.received.filter((r) => r.pt === 101).length >= 6, 2000, "B's digit at A");
    assert.equal(keys.length, 2);
    // stopped: further presses are only relayed
    c.a.watchDtmf(null);
    await c.phoneA.sendDigit('9', c.a.localPort);
    await until(() => c.phoneB.received.filter((r) => r.pt === 101).length >= 18, 2000, 'the 9 at B');
    await sleep(100);
    assert.equal(keys.length, 2, 'no key after watchDtmf(null)');
    assert.equal(c.a.stats().droppedMalformed, 0);
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('watchDtmf also sees the key presses of a taken-over leg (its RTP already goes to JS)', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-watch-takeover');
  try {
    const keys: string[] = [];
    const atEndpoint: DtmfEvent[] = [];
    c.b.watchDtmf((k) => keys.push(k.digit));
    c.b.attach({ onDtmf: (d) => atEndpoint.push(d) });
    await c.phoneB.sendDigit('#', c.b.localPort);
    await until(() => keys.length >= 1 && atEndpoint.some((d) => d.phase === 'end'), 2000, 'key at watcher and endpoint');
    assert.deepEqual(keys, ['#']);
    assert.equal(c.phoneA.received.length, 0, 'taken over: nothing relayed to A');
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('RTCP: deliberate losses show in our stats, in the SR we send, and the phone\'s RR is read', async () => {
  const e = await engine(200, { rtcpIntervalMs: 150 });
  const c = await anchoredCall(e, 'call-rtcp');
  try {
    // A drops every 5th packet: 40 sent out of 48 expected -> 8 lost (RFC 3550 A.3)
    await c.phoneA.sendTone(1000, 40, c.a.localPort, { dropEvery: 5 });
    await until(() => c.a.stats().packetsIn >= 40, 2000, 'packets in');
    const s = c.a.stats();
    assert.equal(s.lost, 7);
    assert.equal(s.expected, 47);
    assert.ok(s.jitterMs >= 0 && s.jitterMs < 20, `jitter ${s.jitterMs}`);
    // B reports on the stream it receives (through the relay): we read it with rtp.js
    const rr = buildReceiverReport(c.phoneB.ssrc, { ssrc: c.phoneA.ssrc, fractionLost: 0.1, totalLost: 7, extendedHighestSeq: 1046, jitter: 16 });
    await c.phoneB.send(rr, c.b.localPort + 1, c.phoneB.rtcp);
    await until(() => c.b.stats().remoteReport !== undefined, 2000, 'remote report');
    assert.equal(c.b.stats().remoteReport?.totalLost, 7);
    assert.equal(c.b.stats().remoteReport?.jitterMs, 2);
    // the RR is also relayed to A's RTCP port
    await until(() => c.phoneA.rtcpReceived.length > 0, 2000, 'RTCP relayed to A');
    // when the engine is the source (takeover) it sends SRs carrying its view of A's stream
    const out = c.a.attach({});
    out.sendAudio(new Int16Array(160));
    await until(() => c.phoneA.rtcpReceived.some((d) => readReceptionReports(d).some((r) => r.ssrc === c.phoneA.ssrc)), 3000, 'SR from engine');
    const report = c.phoneA.rtcpReceived.flatMap((d) => readReceptionReports(d)).find((r) => r.ssrc === c.phoneA.ssrc);
    assert.equal(report?.totalLost, 7);
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('port range exhaustion gives ERR_PORTS_EXHAUSTED; session.close returns the ports', async () => {
  const e = await engine(6); // 3 even/odd pairs
  try {
    const s1 = e.createSession({ callId: 'x1' });
    const before = e.portsAvailable;
    assert.ok(before <= 3);
    const legs: MediaLeg[] = [];
    for (let i = 0; i < before; i++) legs.push(s1.createLeg(`l${i}`));
    assert.throws(() => s1.createLeg('one-too-many'), (err: unknown) => err instanceof MediaError && err.code === 'ERR_PORTS_EXHAUSTED' && /no free RTP port pair/.test(err.message));
    assert.equal(e.portsAvailable, 0);
    s1.close();
    assert.equal(e.portsAvailable, before);
    assert.ok(legs.every((l) => l.closed));
    assert.equal(e.sessions.size, 0);
    assert.throws(() => legs[0]?.stats(), (err: unknown) => err instanceof MediaError && err.code === 'ERR_CLOSED');
    const s2 = e.createSession({ callId: 'x2' });
    s2.createLeg('again');
    s2.close();
  } finally {
    e.close();
  }
});

test('malformed packets and SDP never crash the engine; bad SDP gives a clear error', async () => {
  const e = await engine();
  const c = await anchoredCall(e, 'call-garbage');
  const frames: Int16Array[] = [];
  try {
    const junk = [
      new Uint8Array(0),
      new Uint8Array([0x80]),
      new Uint8Array(11).fill(0x80),
      new Uint8Array([0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]), // version 0
      new Uint8Array([0x9f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // CSRC count beyond the packet
      new Uint8Array([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff]), // extension length beyond
      new Uint8Array([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]), // padding count beyond
      new Uint8Array([0x80, 200, 0xff, 0xff, 1, 2, 3, 4]), // RTCP with a lying length
      new Uint8Array(1500).map((_, i) => (i * 37) & 0xff),
    ];
    c.b.attach({ onAudio: (f) => frames.push(f) });
    for (let round = 0; round < 3; round++) {
      for (const j of junk) {
        await c.phoneB.send(j, c.b.localPort);
        await c.phoneB.send(j, c.b.localPort + 1, c.phoneB.rtcp);
        await c.phoneA.send(j, c.a.localPort);
        await c.phoneA.send(j, c.a.localPort + 1, c.phoneA.rtcp);
      }
    }
    await c.phoneB.sendTone(1000, 10, c.b.localPort);
    await until(() => frames.length >= 8, 2000, 'real audio after junk');
    c.b.detach();
    await c.phoneA.sendTone(1000, 10, c.a.localPort);
    await until(() => c.phoneB.received.some((r) => r.ssrc === c.phoneA.ssrc), 2000, 'relay after junk');
    assert.ok(c.a.stats().droppedMalformed > 0);
    const bad = ['', 'hello', 'v=0\r\no=x\r\n', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n'];
    for (const b of bad) {
      assert.throws(() => c.b.anchorOffer(b, c.a), (err: unknown) => err instanceof MediaError && (err.code === 'ERR_BAD_SDP' || err.code === 'ERR_NO_COMMON_CODEC'), b);
    }
  } finally {
    c.phoneA.close();
    c.phoneB.close();
    e.close();
  }
});

test('the PBX answers a phone itself (voicemail style) and its RTP carries continuous SSRC/seq/ts across attach/detach', async () => {
  const e = await engine();
  const phone = await RtpPhone.open();
  const session = e.createSession({ callId: 'vm' });
  try {
    const leg = session.createLeg('caller');
    const answer = leg.answerOffer(phone.sdp({ codecs: '8 0 101' }));
    const m = parseSdp(answer).media[0];
    assert.deepEqual(m?.formats, ['8', '101']);
    const out1 = leg.attach({});
    assert.equal(out1.codec, 'PCMA');
    for (let i = 0; i < 3; i++) {
      out1.sendAudio(new Int16Array(160));
      await sleep(20);
    }
    leg.detach();
    assert.equal(out1.sendAudio(new Int16Array(160)), false, 'a detached output sends nothing');
    await sleep(100);
    const out2 = leg.attach({});
    out2.sendAudio(new Int16Array(160));
    await until(() => phone.received.length >= 4, 2000, 'packets');
    const [p0, , p2, p3] = phone.received;
    assert.ok(p0 && p2 && p3);
    assert.equal(p3.ssrc, p0.ssrc);
    assert.equal(p3.seq, (p2.seq + 1) & 0xffff);
    assert.equal(p3.marker, true, 'new talkspurt after the pause');
    assert.ok(((p3.ts - p2.ts) >>> 0) >= 160 * 5, 'timestamp follows the clock across the pause');
    assert.equal(p0.pt, 8);
  } finally {
    session.close();
    phone.close();
    e.close();
  }
});

/** nice (proc(5) stat field 19) of each thread of this process */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

test('relayNice sets the relay threads\' nice (and only theirs), and they still relay', async () => {
  // raising a nice needs no privilege, so this runs anywhere
  const own = threadNices()[0];
  const e = await createMediaEngine({ bind: '127.0.0.1', ...range(20), logger: silentLogger(), relayNice: 7, relayThreads: 2 });
  try {
    await until(() => threadNices().filter((n) => n === 7).length === 2, 2000, 'two threads at nice 7');
    assert.equal(threadNices()[0], own, 'the JS thread keeps the process nice');
    const c = await anchoredCall(e, 'call-nice');
    await c.phoneA.sendTone(1000, 5, c.a.localPort);
    await until(() => c.phoneB.received.length >= 4, 2000, 'relayed audio');
    c.phoneA.close();
    c.phoneB.close();
  } finally {
    e.close();
  }
});

test('a relayNice the process may not take is logged, and the relay runs at the process priority', async (t) => {
  if (process.getuid?.() !== 0) return skipOrFail(t, 'needs root to drop CAP_SYS_NICE for a child (setpriv)');
  const { execFile } = await import('node:child_process');
  const engineUrl = new URL('./engine.js', import.meta.url).href;
  const script = `
    const { createMediaEngine } = await import(${JSON.stringify(engineUrl)});
    const e = await createMediaEngine({ bind: '127.0.0.1', portMin: 41000, portMax: 41019, relayNice: -5, relayThreads: 1 });
    await new Promise((r) => setTimeout(r, 400));
    e.close();`;
  // without CAP_SYS_NICE (and RLIMIT_NICE 0) no thread may lower its nice
  const out = await new Promise<string>((resolve, reject) =>
    execFile('setpriv', ['--inh-caps=-sys_nice', '--bounding-set=-sys_nice', process.execPath, '--input-type=module', '-e', script], { env: { ...process.env, PBX_LOG_LEVEL: 'info' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; nice?: number; errno?: number });
  const warn = lines.find((l) => /could not lower their nice/.test(l.msg));
  assert.ok(warn, `a warning is logged: ${out}`);
  assert.equal(warn.level, 40);
  assert.equal(warn.nice, -5);
  assert.ok(warn.errno === 13 || warn.errno === 1, `EACCES or EPERM, got ${warn.errno}`);
});

test('realtimePriority puts the relay threads (and only they) under SCHED_RR when allowed', async (t) => {
  if (process.getuid?.() !== 0) {
    return skipOrFail(t, 'needs root (CAP_SYS_NICE)');
  }
  const policies = (): number[] =>
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]); // field 41: policy
    });
  const before = policies().filter((p) => p === 2).length;
  const e = await createMediaEngine({ bind: '127.0.0.1', ...range(20), logger: silentLogger(), realtimePriority: 1, relayThreads: 2 });
  try {
    await until(() => policies().filter((p) => p === 2).length === before + 2, 2000, 'two SCHED_RR threads');
    // and it still relays
    const c = await anchoredCall(e, 'call-rt');
    await Promise.all([c.phoneA.sendTone(1000, 5, c.a.localPort)]);
    await until(() => c.phoneB.received.length >= 4, 2000, 'relayed audio');
    c.phoneA.close();
    c.phoneB.close();
  } finally {
    e.close();
  }
});
