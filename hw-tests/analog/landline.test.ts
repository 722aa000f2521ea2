/**
 * The FXO port as the office's landline trunk, by listening: a landline call (the simulated central
 * office rings with caller ID) reaches a ring group, is answered only after the caller ID arrived,
 * and talks both ways; with the carrier trunk stopped, an outside call from the analog phone leaves
 * through the landline (dial tone detected, DTMF dialled, answered on polarity reversal), and once
 * the carrier is back, through the carrier again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CarrierPeer } from '../support/carrier-peer.js';
import { BOARD_KIND, frameShare, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board\'s scripted central office on FXO 1' : false;
const CARRIER_IP = '127.0.0.2';
const LANDLINE = '+12125550100';
const HOLD_MS = 3000;

let rig: AnalogRig;
const carrier = new CarrierPeer(CARRIER_IP);

before(async () => {
  if (skip !== false) return;
  await carrier.start();
  rig = await startAnalogRig({
    country: 'US',
    extensions: [
      { number: '101', secret: 'secret-101-ok', name: 'Sales Desk' },
      { number: '201', secret: 'secret-201-ok', name: 'Analog One' },
    ],
    // Trunks are qualified (OPTIONS) every 500 ms: a stopped carrier is unreachable within a second.
    pbx: { qualifyMs: 500, failoverHoldMs: HOLD_MS },
    setup(store) {
      store.analog.assign('fxs1', '201');
      store.analog.setNumber('fxo1', LANDLINE);
      store.routing.ringGroups.put({ name: 'sales', extension: '600', strategy: 'simultaneous', ringSeconds: 20, members: [{ extension: '101' }], noAnswer: null });
      store.numbers.add(LANDLINE, { kind: 'ring-group', name: 'sales' });
      store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: carrier.port });
      store.users.add({ username: 'boss', displayName: 'Office Manager', role: 'admin', password: 'boss-password-1', email: 'boss@office.test', language: 'fr' });
    },
  });
  await rig.registered('201');
  // The gateway wrote its landline trunk; the pbx picks it up within its poll.
  await waitFor(() => rig.pbx.sip.trunks.status().map((t) => t.name), (names) => names.includes('fxo1'), 3000, 'trunk fxo1 at the pbx');
});
after(async () => {
  await carrier.stop();
  await rig?.close();
});

test('a landline call with caller ID reaches the ring group, answered after the caller ID, audio both ways', { skip }, async () => {
  const desk = await rig.pbx.phone('101');
  const incoming = desk.nextIncoming();
  rig.board.co.ring({ number: '2125550123', name: 'JOHN DOE' });
  const call = await incoming;
  await call.established;
  assert.match(String(call.session.remoteIdentity.uri), /^sip:2125550123@/, 'the landline caller\'s number reaches the ring group member');
  assert.equal(call.session.remoteIdentity.displayName, 'JOHN DOE');
  const fxo = rig.gateway.fxoPort('fxo1');
  assert.equal(fxo?.lastCallerId?.number, '2125550123', 'decoded before the answer');
  await waitFor(() => rig.board.co.status().state, (s) => s === 'connected', 3000, 'the line answered (seized)');
  rig.board.co.tone(600);
  call.media.setSignal({ kind: 'tones', freqs: [900], dbm0: -12 });
  await waitFor(() => rig.board.co.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 900) < 30, 5000, '101 heard on the landline');
  const from = call.media.received.length;
  await new Promise((r) => setTimeout(r, 600));
  const pcm = call.media.heardPcm(from);
  assert.ok(frameShare(pcm, 600) > 0.5, `101 hears the landline caller (600 Hz share ${frameShare(pcm, 600).toFixed(2)})`);
  rig.board.co.hangup();
  await call.ended;
  await waitFor(() => fxo?.state, (s) => s === 'idle', 3000, 'the FXO port idle again');
});

/** The analog phone dials `digits` and waits for the far end to answer (or the call to fail). */
async function dialOut(digits: string): Promise<void> {
  const phone = rig.board.fxsDevice(1);
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone');
  phone.dial(digits, 'dtmf');
}

async function hangUpAnalog(): Promise<void> {
  rig.board.fxsDevice(1).onhook();
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'idle', 5000, 'fxs1 idle');
}

test('carrier up: out through the carrier; carrier stopped: out through the landline; carrier back: through the carrier', { skip }, async () => {
  await dialOut('2125550199');
  await waitFor(() => carrier.invites.length, (n) => n >= 1, 8000, 'the carrier receiving the call');
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'talking', 5000, 'the carrier answered');
  assert.equal(rig.board.co.status().seized, false, 'the landline stays free');
  await hangUpAnalog();

  await carrier.stop();
  const down = await waitFor(() => rig.pbx.sip.trunks.status().find((t) => t.name === 'carrier')?.state, (s) => s === 'unreachable', 5000, 'the carrier seen unreachable');
  assert.equal(down, 'unreachable', 'the admin sees the carrier down in status');
  // ... and by mail, in their language, through the outbox.
  const told = await waitFor(() => rig.store.mail.list().filter((m) => m.to === 'boss@office.test'), (l) => l.length >= 1, 5000, 'the failover mail');
  assert.match(told[0]?.subject ?? '', /^La ligne opérateur carrier est en panne/);
  await dialOut('2125550199');
  // The landline: seized, dial tone detected, the number dialled in DTMF.
  const co = await waitFor(() => rig.board.co.status(), (s) => s.seized && s.dialled.length >= 10, 15_000, 'the landline seized and dialled');
  assert.equal(co.dialled, '2125550199');
  await waitFor(() => rig.board.co.status().state, (s) => s === 'connected', 12_000, 'the far end answering on the landline');
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'talking', 5000, 'the analog phone connected');
  rig.board.co.tone(500);
  await waitFor(() => rig.board.fxsDevice(1).status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 500) < 30, 5000, 'the landline far end heard at the analog phone');
  await hangUpAnalog();
  await waitFor(() => rig.board.co.status().seized, (s) => !s, 3000, 'the landline released');

  await carrier.start();
  await waitFor(() => rig.pbx.sip.trunks.status().find((t) => t.name === 'carrier')?.state, (s) => s === 'ip-peer', 5000, 'the carrier reachable again');
  await waitFor(() => rig.store.mail.list().map((m) => m.subject), (l) => l.some((x) => /rétablie/.test(x)), 5000, 'the mail saying the carrier is back');
  await dialOut('2125550199');
  await waitFor(() => carrier.invites.length, (n) => n >= 2, 8000, 'the carrier receiving the call again');
  assert.equal(rig.board.co.status().seized, false, 'the landline is not used once the carrier is back');
  await hangUpAnalog();
});
