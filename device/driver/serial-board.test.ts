/**
 * The driver against a scripted board on a real socat pty pair (the test writes the board's frames
 * itself, so it can lose one, lie about a port, or stay silent on purpose).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';
import type { PortEvent } from '../board.js';
import { LinkEndpoint } from '../link/endpoint.js';
import type { Message } from '../link/messages.js';
import { PtyPair } from '../sim/pty-pair.js';
import { openSerialBoard } from './serial-board.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const HELLO: Message = { t: 'hello', protocol: 1, mode: 'application', unsolicited: false, capabilities: [], ports: [{ kind: 'fxs', index: 1 }], firmware: 'scripted' };

test('a tty that does not exist: down, commands dropped and counted, nothing thrown', async () => {
  const b = openSerialBoard('/nonexistent/ttyACM9', { reopenMinMs: 20, reopenMaxMs: 50 });
  await sleep(200);
  assert.equal(b.link, 'down');
  b.send({ kind: 'ring-stop', port: { kind: 'fxs', index: 1 } });
  b.sendAudio({ kind: 'fxs', index: 1 }, Buffer.alloc(160));
  const c = b.counters();
  assert.equal(c.commandsDropped, 1);
  assert.equal(c.audioDropped, 1);
  assert.ok(c.reopens >= 2, `kept retrying (${c.reopens})`);
  await b.close();
});

test('handshake, a lost hook event healed by the pong, foreign ports dropped, a throwing listener contained', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drv-'));
  const pty = new PtyPair(path.join(dir, 'host'), path.join(dir, 'board'));
  await pty.plug();
  const port = new SerialPort({ path: pty.boardPath, baudRate: 921600, autoOpen: false, lock: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  let offHook = false;
  let answerPings = true;
  const board = new LinkEndpoint(
    (b) => port.write(b),
    (m) => {
      if (m.t === 'hello-request') board.send(HELLO);
      if (m.t === 'ping' && answerPings) board.send({ t: 'pong', token: m.token, relayEngaged: false, states: [{ port: { kind: 'fxs', index: 1 }, offHook, ringing: false, polarityReversed: false, loopCurrent: offHook }] });
    },
  );
  port.on('data', (d: Buffer) => board.push(d));
  const drv = openSerialBoard(pty.hostPath, { keepaliveMs: 100, linkTimeoutMs: 600, reopenAfterMs: 1500 });
  const events: PortEvent[] = [];
  const links: string[] = [];
  drv.onLink((l) => links.push(l));
  drv.onEvent(() => {
    throw new Error('a broken listener');
  });
  drv.onEvent((e) => events.push(e));
  try {
    await until('up', () => drv.link === 'up');
    assert.equal(drv.hello?.firmware, 'scripted');
    // The phone goes off-hook but its HOOK frame is lost: only the pong says so.
    offHook = true;
    await until('the recovered hook event', () => events.some((e) => e.kind === 'hook' && e.offHook));
    assert.equal(drv.counters().eventsRecovered, 1);
    assert.ok(drv.counters().listenerErrors >= 1);
    // Events and audio for a port the hello never listed are dropped.
    board.send({ t: 'event', event: { kind: 'hook', port: { kind: 'fxs', index: 7 }, offHook: true } });
    board.send({ t: 'audio', port: { kind: 'fxo', index: 3 }, frame: Buffer.alloc(160) });
    await until('counted', () => drv.counters().unknownPort >= 2);
    assert.ok(!events.some((e) => 'port' in e && e.port.index === 7));
    // Silence: resync (hello requests), then up again when the board answers.
    answerPings = false;
    const seen = links.length;
    await until('syncing', () => links.slice(seen).includes('syncing'), 3000);
    answerPings = true;
    await until('up again', () => drv.link === 'up', 3000);
    assert.equal(drv.counters().resyncs, 1);
  } finally {
    await drv.close();
    await new Promise<void>((r) => port.close(() => r()));
    await pty.unplug();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('noise that passed the CRC: a forged pong invents no event, a forged hello is healed by the next answered pong', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drv-'));
  const pty = new PtyPair(path.join(dir, 'host'), path.join(dir, 'board'));
  await pty.plug();
  const port = new SerialPort({ path: pty.boardPath, baudRate: 921600, autoOpen: false, lock: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  const fxs1 = { kind: 'fxs', index: 1 } as const;
  const board = new LinkEndpoint(
    (b) => port.write(b),
    (m) => {
      if (m.t === 'hello-request') board.send(HELLO);
      if (m.t === 'ping') board.send({ t: 'pong', token: m.token, relayEngaged: false, states: [{ port: fxs1, offHook: false, ringing: false, polarityReversed: false, loopCurrent: false }] });
    },
  );
  port.on('data', (d: Buffer) => board.push(d));
  const drv = openSerialBoard(pty.hostPath, { keepaliveMs: 100, linkTimeoutMs: 600, reopenAfterMs: 1500 });
  const events: PortEvent[] = [];
  drv.onEvent((e) => events.push(e));
  try {
    await until('up', () => drv.link === 'up');
    // A pong nobody asked for says the phone is off-hook: not believed.
    board.send({ t: 'pong', token: 0xdeadbeef, relayEngaged: false, states: [{ port: fxs1, offHook: true, ringing: false, polarityReversed: false, loopCurrent: true }] });
    await until('counted', () => drv.counters().unmatchedPongs >= 1);
    await sleep(300);
    assert.equal(events.length, 0, `no event from a forged pong: ${JSON.stringify(events)}`);
    // A hello that lists only FXS 9 (noise, or a mutated frame): FXS 1's events would be dropped
    // for good. The next answered pong lists FXS 1, so the driver asks the board again.
    board.send({ ...HELLO, ports: [{ kind: 'fxs', index: 9 }] } as Message);
    await until('the port list asked again', () => drv.counters().portListMismatches >= 1, 3000);
    await until('up with the real ports', () => drv.link === 'up' && drv.hello?.ports.some((p) => p.kind === 'fxs' && p.index === 1) === true, 3000);
    board.send({ t: 'event', event: { kind: 'hook', port: fxs1, offHook: true } });
    await until('a real event arrives', () => events.some((e) => e.kind === 'hook' && e.offHook));
  } finally {
    await drv.close();
    await new Promise<void>((r) => port.close(() => r()));
    await pty.unplug();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
