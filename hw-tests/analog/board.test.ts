/**
 * The serial link end to end: the driver (device/driver) on a tty, the board (virtual by default,
 * real with HIL_SERIAL) on the other end. Events, commands, and audio both ways, verified by
 * listening: the phone on the sim hears what the driver sends, the driver hears what the phone sends.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { sines } from '../../services/media/dsp/synth.js';
import { dominantFrequencies } from '../../services/media/dsp/spectrum.js';
import { DtmfDetector } from '../../services/media/dtmf/detector.js';
import { ToneGenerator } from '../../services/media/tones/generator.js';
import { toneSpec } from '../../services/media/tones/table.js';
import { CallerIdDecoder, type CallerId } from '../../device/dsp/callerid-decode.js';
import { callerIdFsk } from '../../device/sim/fsk-sender.js';
import type { FxoPortStatus, FxsPortStatus } from '../../device/sim/virtual-board.js';
import type { PortId } from '../../device/board.js';
import { probeDriver, sleep, startAnalogBench, targetLine, waitFor, type AnalogBench, type DriverProbe } from '../support/analog-board.js';

const FXS1: PortId = { kind: 'fxs', index: 1 };
const FXO1: PortId = { kind: 'fxo', index: 1 };

let bench: AnalogBench;
let drv: DriverProbe;

before(async () => {
  console.log(targetLine());
  bench = await startAnalogBench({ fxs: 'phone,fax' });
  drv = probeDriver(bench.tty);
  await drv.up();
});

after(async () => {
  await drv?.close();
  await bench?.close();
});

function needSim(t: TestContext): NonNullable<AnalogBench['sim']> | null {
  if (bench.sim === null) {
    t.skip('scripts the devices on the lines: virtual board only');
    return null;
  }
  return bench.sim;
}

async function fxs(n: number): Promise<FxsPortStatus> {
  const s = await (bench.sim as NonNullable<AnalogBench['sim']>).call('sim.status', undefined);
  return s.ports.find((p) => p.port === `fxs${n}`) as FxsPortStatus;
}

async function fxo(): Promise<FxoPortStatus> {
  const s = await (bench.sim as NonNullable<AnalogBench['sim']>).call('sim.status', undefined);
  return s.ports.find((p) => p.port === 'fxo1') as FxoPortStatus;
}

/** Streams PCM to a port in 20 ms frames, paced in real time, for `ms`. */
async function play(port: PortId, next: () => Int16Array, ms: number): Promise<void> {
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < ms) {
    const due = Math.floor((Date.now() - start) / 20) + 1;
    for (; sent < due; sent++) drv.board.sendAudio(port, Buffer.from(muLawEncode(next())));
    await sleep(10);
  }
}

function recentPcm(port: string, frames: number): Int16Array {
  const list = drv.audio.get(port) ?? [];
  return muLawDecode(Buffer.concat(list.slice(-frames)));
}

test('the board says hello with its ports and capabilities', () => {
  const hello = drv.board.hello;
  assert.ok(hello !== null);
  assert.equal(hello.protocol, 1);
  assert.ok(hello.ports.some((p) => p.kind === 'fxs' && p.index === 1), 'fxs1');
  assert.ok(hello.ports.some((p) => p.kind === 'fxo'), 'an FXO port');
  assert.ok(hello.firmware.length > 0);
});

test('hook, flash and pulse digits of the phone reach the driver in order', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  const from = drv.events.length;
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  await sim.call('sim.fxs', { port: 1, action: 'flash' });
  await sim.call('sim.fxs', { port: 1, action: 'dial', digits: '30', mode: 'pulse' });
  await waitFor('two pulse digits', () => drv.events.slice(from).filter((e) => e.kind === 'pulse-digit').length === 2, 6000);
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
  await waitFor('on-hook', () => drv.events.slice(from).some((e) => e.kind === 'hook' && !e.offHook));
  const seen = drv.events.slice(from).filter((e) => 'port' in e && e.port.kind === 'fxs' && e.port.index === 1);
  assert.deepEqual(
    seen.map((e) => (e.kind === 'hook' ? `hook:${e.offHook}` : e.kind === 'pulse-digit' ? `pulse:${e.digit}` : e.kind)),
    ['hook:true', 'flash', 'pulse:3', 'pulse:0', 'hook:false'],
  );
});

test('ring with a cadence: the phone rings with it, stops on ring-stop', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  drv.board.send({ kind: 'ring', port: FXS1, cadenceMs: [400, 200, 400, 1000] });
  const st = await waitFor('a measured ring cadence', async () => {
    const s = await fxs(1);
    return s.ringCadenceMs !== null && s.rings >= 3 ? s : undefined;
  }, 8000);
  // The ringer sees on/off edges: the last complete on+off pair is one of the cadence's pairs (±40 ms).
  const [on, off] = st.ringCadenceMs as number[];
  assert.ok((Math.abs((on as number) - 400) <= 40 && (Math.abs((off as number) - 200) <= 40 || Math.abs((off as number) - 1000) <= 40)), `cadence ${st.ringCadenceMs}`);
  drv.board.send({ kind: 'ring-stop', port: FXS1 });
  await waitFor('ringing to stop', async () => !(await fxs(1)).boardRinging);
});

test('the phone hears dial tone and a 1000 Hz tone sent by the driver; the driver hears the phone\'s 1500 Hz and its DTMF', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  const dial = new ToneGenerator(toneSpec('US', 'dial'));
  await play(FXS1, () => dial.nextFrame(), 1500);
  assert.equal((await fxs(1)).hears.hears, 'dial');
  let off = 0;
  await play(FXS1, () => sines([{ freq: 1000, dbm0: -12 }], 160, (off += 160)), 800);
  const h = (await fxs(1)).hears;
  assert.equal(h.hears, 'other');
  assert.ok(h.dominantHz !== null && Math.abs(h.dominantHz - 1000) < 20, `phone hears ${JSON.stringify(h)}`);

  await sim.call('sim.fxs', { port: 1, action: 'tone', hz: 1500 });
  await sleep(600);
  const peaks = dominantFrequencies(recentPcm('fxs1', 20), 1);
  assert.ok(peaks[0] !== undefined && Math.abs(peaks[0].freq - 1500) < 10, `driver hears ${JSON.stringify(peaks)}`);
  await sim.call('sim.fxs', { port: 1, action: 'tone', hz: null });

  await sim.call('sim.fxs', { port: 1, action: 'dial', digits: '19#', mode: 'dtmf' });
  await sleep(1000);
  // Three digits of 100 ms + 100 ms gap: the last 50 frames (1 s) hold them all.
  const frames = (drv.audio.get('fxs1') ?? []).slice(-50);
  const det = new DtmfDetector();
  const digits: string[] = [];
  for (const f of frames) for (const e of det.process(muLawDecode(f))) if (e.type === 'start') digits.push(e.digit);
  assert.deepEqual(digits, ['1', '9', '#']);
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
});

test('caller ID sent by the driver between rings is decoded by the phone on-hook', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  drv.board.send({ kind: 'ring', port: FXS1, cadenceMs: [1000, 3000] });
  await waitFor('the first ring to end', async () => (await fxs(1)).rings >= 1 && !(await fxs(1)).ringing, 5000);
  await sleep(300);
  const burst = callerIdFsk('bell202', { number: '2125551234', name: 'TEST CALLER', dateTime: '12061030' });
  let pos = 0;
  await play(FXS1, () => {
    const f = new Int16Array(160);
    f.set(burst.subarray(pos, Math.min(burst.length, pos + 160)));
    pos += 160;
    return f;
  }, Math.ceil(burst.length / 8) + 200);
  const st = await waitFor('caller ID on the display', async () => (await fxs(1)).callerId ?? undefined, 3000);
  assert.equal(st.number, '2125551234');
  assert.equal(st.name, 'TEST CALLER');
  drv.board.send({ kind: 'ring-stop', port: FXS1 });
});

test('the landline rings with caller ID: ring events and the number decoded from the FXO audio', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  const from = drv.events.length;
  const decoded: CallerId[] = [];
  const dec = new CallerIdDecoder((c) => decoded.push(c));
  const off = drv.board.onAudio((port, frame) => {
    if (port.kind === 'fxo') dec.pushMuLaw(frame);
  });
  await sim.call('sim.fxo', { action: 'ring', callerId: '4155550100', name: null });
  await waitFor('caller ID from the exchange', () => decoded[0], 9000);
  off();
  assert.equal(decoded[0]?.number, '4155550100');
  const rings = drv.events.slice(from).filter((e) => e.kind === 'ring');
  assert.ok(rings.length >= 2 && rings[0]?.kind === 'ring' && rings[0].on, `ring events ${JSON.stringify(rings)}`);
  // Answer: seize; the exchange stops ringing and loop current flows.
  drv.board.send({ kind: 'seize', port: FXO1 });
  await waitFor('loop current', () => drv.events.slice(from).some((e) => e.kind === 'loop-current' && e.present));
  assert.equal((await fxo()).state, 'connected');
  await sim.call('sim.fxo', { action: 'hangup' });
  await waitFor('loop current drop (far end hung up)', () => drv.events.slice(from).some((e) => e.kind === 'loop-current' && !e.present));
  drv.board.send({ kind: 'release', port: FXO1 });
  await waitFor('the exchange idle', async () => (await fxo()).state === 'idle');
});

test('outbound on FXO: dial tone after seize, digits heard by the exchange, answer with polarity reversal', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  const from = drv.events.length;
  await sim.call('sim.fxo', { action: 'answer-mode', mode: 'answer' });
  await sim.call('sim.fxo', { action: 'tone', hz: 700 });
  drv.board.send({ kind: 'seize', port: FXO1 });
  await sleep(1200);
  // The driver hears the exchange's dial tone (350+440 Hz).
  const peaks = dominantFrequencies(recentPcm('fxo1', 25), 2).map((p) => Math.round(p.freq)).sort((a, b) => a - b);
  assert.ok(peaks.length === 2 && Math.abs((peaks[0] as number) - 350) < 10 && Math.abs((peaks[1] as number) - 440) < 10, `driver hears ${peaks}`);
  for (const d of '5551') {
    const tone = new ToneGenerator({ levelDbm0: -7, steps: [{ ms: 100, freqs: dtmf(d) }, { ms: 100, freqs: [] }], loopFrom: 1, source: 'test' });
    await play(FXO1, () => tone.nextFrame(), 200);
  }
  await waitFor('the exchange to answer', async () => (await fxo()).state === 'connected', 10000);
  assert.equal((await fxo()).dialled, '5551');
  await waitFor('answer supervision (polarity reversal)', () => drv.events.slice(from).some((e) => e.kind === 'polarity' && e.reversed));
  await sleep(500);
  const talk = dominantFrequencies(recentPcm('fxo1', 20), 1);
  assert.ok(talk[0] !== undefined && Math.abs(talk[0].freq - 700) < 10, `driver hears the far end ${JSON.stringify(talk)}`);
  drv.board.send({ kind: 'release', port: FXO1 });
  await sim.call('sim.fxo', { action: 'tone', hz: null });
  await waitFor('the exchange idle', async () => (await fxo()).state === 'idle');
});

function dtmf(d: string): number[] {
  const rows: Record<string, [number, number]> = { '1': [697, 1209], '5': [770, 1336] };
  return rows[d] as [number, number];
}

test('the power-fail relay wires FXS 1 to the landline', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  drv.board.send({ kind: 'bypass-relay', engaged: true });
  await waitFor('relay engaged', async () => (await sim.call('sim.status', undefined)).board.relayEngaged);
  await sim.call('sim.fxs', { port: 1, action: 'offhook' });
  await waitFor('the exchange seized by the phone', async () => (await fxo()).seized);
  await sleep(1200);
  assert.equal((await fxs(1)).hears.hears, 'dial', 'the phone hears the exchange dial tone through the relay');
  await sim.call('sim.fxs', { port: 1, action: 'onhook' });
  drv.board.send({ kind: 'bypass-relay', engaged: false });
  await waitFor('relay released', async () => !(await sim.call('sim.status', undefined)).board.relayEngaged);
  assert.equal((await fxo()).seized, false);
});

test('the fax machine sends CNG when it calls', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  await sim.call('sim.fxs', { port: 2, action: 'offhook' });
  await sleep(700);
  const pcm = muLawDecode(Buffer.concat((drv.audio.get('fxs2') ?? []).slice(-30)));
  const peaks = dominantFrequencies(pcm, 1);
  assert.ok(peaks[0] !== undefined && Math.abs(peaks[0].freq - 1100) < 10, `CNG ${JSON.stringify(peaks)}`);
  await sim.call('sim.fxs', { port: 2, action: 'onhook' });
});

test('the fax machine answers after two rings with CED', async (t) => {
  const sim = needSim(t);
  if (sim === null) return;
  const from = drv.events.length;
  const FXS2: PortId = { kind: 'fxs', index: 2 };
  drv.board.send({ kind: 'ring', port: FXS2, cadenceMs: [500, 700] });
  await waitFor('the fax off-hook', () => drv.events.slice(from).some((e) => e.kind === 'hook' && e.port.index === 2 && e.offHook), 6000);
  await sleep(800);
  const peaks = dominantFrequencies(muLawDecode(Buffer.concat((drv.audio.get('fxs2') ?? []).slice(-25))), 1);
  assert.ok(peaks[0] !== undefined && Math.abs(peaks[0].freq - 2100) < 10, `CED ${JSON.stringify(peaks)}`);
  assert.equal((await fxs(2)).boardRinging, false, 'ring trip');
  await sim.call('sim.fxs', { port: 2, action: 'onhook' });
});
