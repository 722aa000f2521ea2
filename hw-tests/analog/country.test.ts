/**
 * A board on a British line: the exchange rings with the GB double-ring cadence and sends ETSI
 * V.23 caller ID; the driver's side decodes it from the FXO audio and hears the GB dial tone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { muLawDecode } from '../../services/media/codec/g711.js';
import { dominantFrequencies } from '../../services/media/dsp/spectrum.js';
import { CallerIdDecoder, type CallerId } from '../../device/dsp/callerid-decode.js';
import { hilSerial, probeDriver, sleep, startAnalogBench, waitFor } from '../support/analog-board.js';

test('GB: double ring, V.23 caller ID, 350+440 Hz dial tone', { skip: hilSerial() !== null ? 'scripts the exchange: virtual board only' : false }, async () => {
  const bench = await startAnalogBench({ country: 'GB' });
  const drv = probeDriver(bench.tty);
  try {
    await drv.up();
    const sim = bench.sim as NonNullable<typeof bench.sim>;
    const decoded: CallerId[] = [];
    const dec = new CallerIdDecoder((c) => decoded.push(c));
    drv.board.onAudio((port, frame) => {
      if (port.kind === 'fxo') dec.pushMuLaw(frame);
    });
    const ringEdges: { on: boolean; at: number }[] = [];
    drv.board.onEvent((e) => {
      if (e.kind === 'ring') ringEdges.push({ on: e.on, at: Date.now() });
    });
    await sim.call('sim.fxo', { action: 'ring', callerId: '02079460000', name: 'LONDON' });
    const cid = await waitFor('V.23 caller ID', () => decoded[0], 8000);
    assert.equal(cid.standard, 'v23');
    assert.equal(cid.number, '02079460000');
    assert.equal(cid.name, 'LONDON');
    // BT double ring: 400 on, 200 off, 400 on, 2000 off.
    const gap = (ringEdges[2]?.at ?? 0) - (ringEdges[1]?.at ?? 0);
    assert.ok(ringEdges[0]?.on === true && gap > 100 && gap < 400, `the short gap of the double ring (${gap} ms)`);
    drv.board.send({ kind: 'seize', port: { kind: 'fxo', index: 1 } });
    await waitFor('connected', async () => (await sim.call('sim.status', undefined)).ports.some((p) => p.port === 'fxo1' && 'state' in p && p.state === 'connected'));
    drv.board.send({ kind: 'release', port: { kind: 'fxo', index: 1 } });
    await sleep(300);
    drv.board.send({ kind: 'seize', port: { kind: 'fxo', index: 1 } });
    await sleep(1000);
    const f = dominantFrequencies(muLawDecode(Buffer.concat((drv.audio.get('fxo1') ?? []).slice(-25))), 2).map((p) => Math.round(p.freq)).sort((a, b) => a - b);
    assert.ok(Math.abs((f[0] ?? 0) - 350) < 10 && Math.abs((f[1] ?? 0) - 440) < 10, `GB dial tone ${f}`);
    drv.board.send({ kind: 'release', port: { kind: 'fxo', index: 1 } });
  } finally {
    await drv.close();
    await bench.close();
  }
});
