/**
 * FXS ports as SIP phones, by listening (issue 19 "How it is shown"): the analog phone on FXS 1 calls
 * SIP extension 101 and each hears the other's tone; 101 calls the analog phone, which rings with the
 * country's cadence and decodes the right caller ID; a garbled, reset and unplugged serial link
 * recovers without a dropped SIP registration (the pbx keeps the port's registration all along,
 * polled every 50 ms, and a call to the port rings the phone afterwards).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BOARD_KIND, frameShare, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board\'s scripted phone on FXS 1' : false;

let rig: AnalogRig;
before(async () => {
  if (skip !== false) return;
  rig = await startAnalogRig({
    country: 'US',
    extensions: [
      { number: '101', secret: 'secret-101-ok', name: 'Front Desk' },
      { number: '201', secret: 'secret-201-ok', name: 'Analog One' },
    ],
    setup(store) {
      store.analog.assign('fxs1', '201');
    },
  });
  await rig.registered('201');
});
after(async () => {
  await rig?.close();
});

test('the analog phone on FXS 1 calls 101: dial tone, then each hears the other', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const desk = await rig.pbx.phone('101');
  const incoming = desk.nextIncoming();
  phone.offhook();
  const heard = await waitFor(() => phone.status().hears, (h) => h.hears === 'dial', 3000, 'dial tone at the analog phone');
  assert.equal(heard.hears, 'dial');
  assert.equal(rig.gateway.quiet, false, 'off-hook: no memory compaction may pause the gateway');
  phone.dial('101#', 'dtmf');
  const call = await incoming;
  await call.established;
  call.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  phone.tone(700);
  const analogHears = await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1000) < 30, 5000, 'the desk phone\'s 1000 Hz at the analog phone');
  assert.ok(Math.abs((analogHears.dominantHz as number) - 1000) < 30);
  const from = call.media.received.length;
  await new Promise((r) => setTimeout(r, 600));
  const pcm = call.media.heardPcm(from);
  assert.ok(pcm.length >= 160 * 10, `the desk phone received audio (${pcm.length} samples)`);
  assert.ok(frameShare(pcm, 700) > 0.5, `the desk phone hears the analog phone's 700 Hz (share ${frameShare(pcm, 700).toFixed(2)}, 1000 Hz ${frameShare(pcm, 1000).toFixed(2)})`);
  phone.tone(null);
  await desk.hangUp(call);
  phone.onhook();
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.activity, (a) => a === 'idle', 3000, 'the port back to idle');
  await waitFor(() => rig.gateway.quiet, (q) => q, 3000, 'the gateway quiet again');
});

test('101 calls the analog phone: US cadence 2 s / 4 s and caller ID "101" "Front Desk" between rings', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const desk = await rig.pbx.phone('101');
  const calling = desk.call('201', 20_000);
  calling.catch(() => undefined);
  const status = await waitFor(() => phone.status(), (s) => s.ringCadenceMs !== null && s.callerId !== null, 9000, 'a full ring cycle and caller ID');
  const [on, off] = status.ringCadenceMs as number[];
  assert.ok(Math.abs((on as number) - 2000) <= 100 && Math.abs((off as number) - 4000) <= 100, `cadence ${status.ringCadenceMs?.join('/')}`);
  assert.equal(status.callerId?.number, '101');
  assert.equal(status.callerId?.name, 'Front Desk');
  // The phone tells the standard by the mark preamble's frequency: Bell 202 in the US.
  assert.equal(status.callerId?.standard, 'bell202');
  phone.offhook();
  const call = await calling;
  call.media.setSignal({ kind: 'tones', freqs: [1200], dbm0: -12 });
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1200) < 30, 5000, 'the caller at the analog phone');
  phone.onhook();
  await call.ended;
});

test('a rotary phone: pulse dialling reaches 101', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const desk = await rig.pbx.phone('101');
  const incoming = desk.nextIncoming();
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone');
  phone.dial('101', 'pulse');
  const call = await Promise.race([incoming, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('101 not rung by pulse dialling')), 15_000))]);
  await call.established;
  phone.onhook();
  await call.ended;
});

test('a garbled, reset and unplugged link: the port stays registered, and rings afterwards', { skip, timeout: 90_000 }, async () => {
  const registrar = rig.pbx.sip.registration.registrar;
  let gaps = 0;
  const watch = setInterval(() => {
    if (registrar.lookup('201').length === 0) gaps++;
  }, 50);
  try {
    const linkUp = (what: string) => waitFor(() => rig.serial.link, (l) => l === 'up', 20_000, what);
    rig.board.garble(5000, 60);
    await new Promise((r) => setTimeout(r, 1500));
    await linkUp('the link after the garbage');
    rig.board.reset();
    await waitFor(() => rig.serial.counters().boardResets, (n) => n > 0, 20_000, 'the driver to see the board reset');
    await linkUp('the link after the reset');
    await rig.board.unplug();
    await waitFor(() => rig.serial.link, (l) => l !== 'up', 20_000, 'the driver to see the cable gone');
    await new Promise((r) => setTimeout(r, 1000));
    await rig.board.plug();
    await linkUp('the link after the cable is back');
    const c = rig.serial.counters();
    assert.ok(c.garbageBytes > 0 && c.boardResets > 0, `the driver lived through all three (${JSON.stringify(c)})`);
  } finally {
    clearInterval(watch);
  }
  assert.equal(gaps, 0, 'the pbx never lost the port\'s registration');

  const phone = rig.board.fxsDevice(1);
  const desk = await rig.pbx.phone('101');
  const calling = desk.call('201', 20_000);
  calling.catch(() => undefined);
  await waitFor(() => phone.status(), (s) => s.ringing, 10_000, 'the analog phone ringing after the recovery');
  phone.offhook();
  const call = await calling;
  phone.onhook();
  await call.ended;
});
