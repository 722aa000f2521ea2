/**
 * The link recovers: line noise (garbage and corrupted frames, a hook event lost to it), a board
 * reset in the middle of a call, and the cable pulled and plugged back. Virtual board only: these
 * need the board side to misbehave on command (on a real board: unplug it by hand).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { muLawDecode } from '../../services/media/codec/g711.js';
import { dominantFrequencies } from '../../services/media/dsp/spectrum.js';
import type { PortEvent } from '../../device/board.js';
import { hilSerial, probeDriver, sleep, startAnalogBench, targetLine, waitFor, type AnalogBench, type DriverProbe, type SimControl } from '../support/analog-board.js';

const skip = hilSerial() !== null ? 'drives the board into faults on command: virtual board only' : false;

let bench: AnalogBench;
let drv: DriverProbe;
let sim: SimControl;

before(async () => {
  console.log(targetLine());
  if (skip) return;
  bench = await startAnalogBench({ fxs: 'phone,phone' });
  sim = bench.sim as SimControl;
  drv = probeDriver(bench.tty);
  await drv.up();
});

after(async () => {
  await drv?.close();
  await bench?.close();
});

const fxs1Hook = (e: PortEvent, offHook: boolean): boolean => e.kind === 'hook' && e.port.kind === 'fxs' && e.port.index === 1 && e.offHook === offHook;

async function hears(hz: number): Promise<boolean> {
  const pcm = muLawDecode(Buffer.concat((drv.audio.get('fxs1') ?? []).slice(-15)));
  const p = dominantFrequencies(pcm, 1)[0];
  return p !== undefined && Math.abs(p.freq - hz) < 10;
}

test('garbage and corrupted frames: counted, the link stays usable, a hook event lost to the noise is recovered', { skip }, async () => {
  const c0 = drv.board.counters();
  await sim.call('sim.board', { action: 'garble', bytes: 5000, frames: 60 });
  // The phone goes off-hook while the next 60 frames (~0.4 s of traffic) are corrupted: its hook
  // frame is among them; the pong's line state must bring it back.
  const from = drv.events.length;
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  // 60 corrupted frames may also take the hello answers of a resync: allow a few keepalive rounds after.
  await waitFor('off-hook despite the noise', () => drv.events.slice(from).some((e) => fxs1Hook(e, true)), 10_000);
  await drv.up();
  const c1 = drv.board.counters();
  assert.ok(c1.checksumErrors + c1.garbageBytes > c0.checksumErrors + c0.garbageBytes + 1000, `counters ${JSON.stringify(c1)}`);
  assert.ok(c1.eventsRecovered > c0.eventsRecovered, `the hook event came back from the line state (${JSON.stringify(c1)})`);
  // And the link carries new events normally.
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
  await waitFor('on-hook', () => drv.events.slice(from).some((e) => fxs1Hook(e, false)));
});

test('a board reset mid-call: the driver re-handshakes, the off-hook phone stays off-hook, audio flows again', { skip }, async () => {
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  await sim.call('sim.fxs', { port: 1, action: 'tone', hz: 1200 });
  await waitFor('the call audio', () => hears(1200));
  drv.board.send({ kind: 'seize', port: { kind: 'fxo', index: 1 } });
  await waitFor('the landline seized', async () => (await sim.call('sim.status', undefined)).ports.some((p) => p.port === 'fxo1' && 'seized' in p && p.seized));
  const from = drv.events.length;
  const linksFrom = drv.links.length;
  const resets = drv.board.counters().boardResets;
  await sim.call('sim.board', { action: 'reset' });
  await waitFor('the reset noticed', () => drv.board.counters().boardResets === resets + 1, 5000);
  await drv.up();
  assert.deepEqual(drv.links.slice(linksFrom), ['syncing', 'up']);
  // The board forgot the seize (the gateway re-applies it); the phone's hook switch did not move.
  await waitFor('loop current gone with the seize', () => drv.events.slice(from).some((e) => e.kind === 'loop-current' && !e.present), 3000);
  assert.ok(!drv.events.slice(from).some((e) => fxs1Hook(e, false)), 'no spurious on-hook');
  await sleep(300);
  await waitFor('the call audio again', () => hears(1200));
  await sim.call('sim.fxs', { port: 1, action: 'tone', hz: null });
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
});

test('the cable pulled and plugged back: down, commands dropped and counted, then up again with events', { skip }, async () => {
  const reopens = drv.board.counters().reopens;
  await sim.call('sim.board', { action: 'unplug' });
  await waitFor('link down', () => drv.board.link === 'down', 5000);
  const dropped = drv.board.counters().commandsDropped;
  drv.board.send({ kind: 'ring', port: { kind: 'fxs', index: 2 }, cadenceMs: [2000, 4000] });
  assert.equal(drv.board.counters().commandsDropped, dropped + 1);
  await sleep(1500);
  assert.equal(drv.board.link, 'down');
  await sim.call('sim.board', { action: 'plug' });
  await drv.up(8000);
  assert.ok(drv.board.counters().reopens > reopens);
  const from = drv.events.length;
  await sim.call('sim.fxs', { port: 2, action: 'offhook' });
  await waitFor('an event after replug', () => drv.events.slice(from).some((e) => e.kind === 'hook' && e.port.index === 2 && e.offHook));
  await sim.call('sim.fxs', { port: 2, action: 'onhook' });
  assert.equal(bench.simProcess?.exitCode, null, `board-sim alive: ${bench.simStderr()}`);
});

test('power lost: the relay puts FXS 1 on the landline; power back: the board reboots and says hello', { skip }, async () => {
  const resets = drv.board.counters().boardResets;
  await sim.call('sim.board', { action: 'power-off' });
  await waitFor('the link to notice', () => drv.board.link !== 'up', 5000);
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  await waitFor('the phone seizes the landline', async () => (await sim.call('sim.status', undefined)).ports.some((p) => p.port === 'fxo1' && 'seized' in p && p.seized));
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
  await sim.call('sim.board', { action: 'power-on' });
  await drv.up(10000);
  const st = await sim.call('sim.status', undefined);
  assert.equal(st.board.relayEngaged, false);
  assert.ok(drv.board.counters().boardResets >= resets, 'up again after the reboot');
  assert.equal(bench.simProcess?.exitCode, null);
});
