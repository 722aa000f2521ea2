/**
 * Fax on an analog port, by listening: the fax machine on FXS 2 calls extension 101; its CNG (1100 Hz)
 * switches the call to fax mode (G.711 passthrough, fixed jitter buffer, no concealment) and the far
 * end gets a re-INVITE; 101 hears the CNG through. Then 101 calls the fax machine: it answers with CED
 * (2100 Hz), and the call switches the same way.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { toneShare } from '../support/rtp-phone.js';
import { BOARD_KIND, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board\'s scripted fax machine on FXS 2' : false;

let rig: AnalogRig;
before(async () => {
  if (skip !== false) return;
  rig = await startAnalogRig({
    country: 'FR',
    fxs: ['phone', 'fax'],
    extensions: [
      { number: '101', secret: 'secret-101-ok' },
      { number: '202', secret: 'secret-202-ok', name: 'Fax' },
    ],
    setup(store) {
      store.analog.assign('fxs2', '202');
    },
  });
  await rig.registered('202');
});
after(async () => {
  await rig?.close();
});

test('the fax machine on FXS 2 calls 101: CNG switches the call to fax mode and re-INVITEs 101', { skip }, async () => {
  const fax = rig.board.fxsDevice(2);
  const desk = await rig.pbx.phone('101');
  const incoming = desk.nextIncoming();
  fax.offhook();
  await waitFor(() => fax.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone at the fax machine');
  fax.dial('101#', 'dtmf');
  const call = await incoming;
  await call.established;
  const port = rig.gateway.fxsPort('fxs2');
  await waitFor(() => port?.activity, (a) => a === 'fax', 10_000, 'fax mode on fxs2');
  assert.match(port?.detail() ?? '', /fax mode/);
  // The re-INVITE reached 101 (through the pbx, which re-anchors it).
  await waitFor(() => call.remoteSdps.length, (n) => n >= 2, 5000, 'the re-INVITE at 101');
  // Passthrough: 101 hears the next CNG burst (1100 Hz).
  const from = call.media.received.length;
  await new Promise((r) => setTimeout(r, 4000));
  const pcm = call.media.heardPcm(from);
  let best = 0;
  for (let i = 0; i + 1600 <= pcm.length; i += 800) best = Math.max(best, toneShare(pcm.subarray(i, i + 1600), 1100));
  assert.ok(best > 0.8, `101 hears the CNG through the fax call (best 1100 Hz share ${best.toFixed(2)})`);
  fax.onhook();
  await call.ended;
});

test('101 calls the fax machine: it answers with CED and the call switches to fax mode', { skip }, async () => {
  const desk = await rig.pbx.phone('101');
  const call = await desk.call('202', 20_000);
  const port = rig.gateway.fxsPort('fxs2');
  await waitFor(() => port?.activity, (a) => a === 'fax', 10_000, 'fax mode on fxs2');
  await waitFor(() => call.remoteSdps.length, (n) => n >= 2, 5000, 'the re-INVITE at 101');
  await desk.hangUp(call);
  rig.board.fxsDevice(2).onhook();
});
