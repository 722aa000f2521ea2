/**
 * Issue 19 "How it is shown": a garbled, reset and unplugged serial link recovers without a dropped
 * SIP registration. The FXS port's phone is registered at the pbx by the gateway; the link is
 * garbled, the board reset, the cable pulled and plugged back; all along the pbx keeps the port's
 * registration (polled every 50 ms), and afterwards a call to the port rings the analog phone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BOARD_KIND, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board (it garbles, resets and unplugs its own link)' : false;

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
