/**
 * What the analog phone's user hears beyond a plain call, by listening at the simulated phone:
 * stutter dial tone while voicemail waits (an unsolicited MWI NOTIFY to the port), reorder then the
 * howler when the receiver is left off-hook, call waiting (tone, off-hook caller ID offered, flash
 * answers the second call and holds the first), and the power-fail relay putting FXS 1 on the
 * landline when the pbx is gone.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { withTimeout, type SipPhone } from '../support/sip-phone.js';
import { BOARD_KIND, frameShare, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board\'s scripted phone on FXS 1' : false;

let rig: AnalogRig;
const phones = new Map<string, SipPhone>();
/** One sip.js phone per extension for the whole file (a second one would ring too). */
async function desk(number: string): Promise<SipPhone> {
  let phone = phones.get(number);
  if (phone === undefined) {
    phone = await rig.pbx.phone(number);
    phones.set(number, phone);
  }
  return phone;
}
before(async () => {
  if (skip !== false) return;
  rig = await startAnalogRig({
    country: 'GB',
    extensions: [
      { number: '101', secret: 'secret-101-ok', name: 'Reception' },
      { number: '102', secret: 'secret-102-ok', name: 'Accounts' },
      { number: '201', secret: 'secret-201-ok', name: 'Analog One' },
    ],
    gateway: { fxsTiming: { interDigitMs: 1500, dialToneMs: 3000, reorderMs: 1500 }, relayAfterMs: 500, registration: { expiresSeconds: 4, retryMinMs: 300, retryMaxMs: 1000 } },
    setup(store) {
      store.analog.assign('fxs1', '201');
    },
  });
  await rig.registered('201');
});
after(async () => {
  await rig?.close();
});

/** An unsolicited message-summary NOTIFY (RFC 3842), as Asterisk sends one, to the port's contact. */
async function notifyMwi(waiting: boolean): Promise<void> {
  const { address, port } = rig.gateway.addresses().fxs;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const body = `Messages-Waiting: ${waiting ? 'yes' : 'no'}\r\nVoice-Message: ${waiting ? 1 : 0}/0\r\n`;
  const text = [
    `NOTIFY sip:fxs1@${address}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK-mwi-${Date.now()}`,
    'From: <sip:voicemail@127.0.0.1>;tag=mwi',
    'To: <sip:201@127.0.0.1>',
    `Call-ID: mwi-${Date.now()}@127.0.0.1`,
    'CSeq: 1 NOTIFY',
    'Max-Forwards: 70',
    'Event: message-summary',
    'Subscription-State: active',
    'Content-Type: application/simple-message-summary',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
  const answered = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
  socket.send(text, port, address);
  const reply = await Promise.race([answered, new Promise<string>((r) => setTimeout(() => r('(no answer)'), 2000))]);
  socket.close();
  assert.match(reply, /^SIP\/2\.0 200/, `NOTIFY answered: ${reply.split('\r\n')[0]}`);
}

/** The levels (dBm0, to 1 dB) the phone hears over `ms`, sampled every 50 ms. */
async function levelsOver(ms: number): Promise<Set<number>> {
  const phone = rig.board.fxsDevice(1);
  const seen = new Set<number>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const level = phone.status().hears.levelDbm0;
    if (level !== null) seen.add(Math.round(level));
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

test('voicemail waiting: stutter dial tone (GB: 350+440 alternating with 440 alone), plain dial tone once heard', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const port = rig.gateway.fxsPort('fxs1');
  await notifyMwi(true);
  assert.equal(port?.messagesWaiting, true);
  phone.offhook();
  // The GB special dial tone: 750 ms of 350+440 (two components at −13 dBm0: −10 dBm0 in all) then
  // 750 ms of 440 alone (−13 dBm0): the level the phone hears steps by 3 dB every 750 ms.
  const stutter = await levelsOver(2400);
  assert.ok(Math.min(...stutter) <= -12 && Math.max(...stutter) >= -11, `both phases heard: ${[...stutter].join(', ')} dBm0`);
  phone.onhook();
  await notifyMwi(false);
  await waitFor(() => port?.activity, (a) => a === 'idle', 3000, 'idle');
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'plain dial tone');
  const plain = await levelsOver(1600);
  assert.ok(Math.min(...plain) > -12, `plain dial tone never drops to 440 alone: ${[...plain].join(', ')} dBm0`);
  phone.onhook();
  await waitFor(() => port?.activity, (a) => a === 'idle', 3000, 'idle');
});

test('receiver left off-hook: dial tone, reorder, then the howler (1400–2600 Hz)', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone');
  await waitFor(() => phone.status().hears.dominantHz, (hz) => hz === 400, 5000, 'reorder (GB: 400 Hz) after the dial tone timeout');
  const howler = await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && h.dominantHz >= 1350 && h.dominantHz <= 2650, 5000, 'the howler');
  assert.ok((howler.levelDbm0 ?? -99) > -15, `the howler is loud (${howler.levelDbm0} dBm0)`);
  phone.onhook();
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'idle', 3000, 'idle');
});

test('call waiting: a second call gives the call-waiting tone; flash answers it and holds the first', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const reception = await desk('101');
  const accounts = await desk('102');
  const first = reception.call('201', 20_000);
  first.catch(() => undefined);
  await waitFor(() => phone.status().ringing || phone.status().rings > 0, (r) => r, 6000, 'ringing');
  phone.offhook();
  const call1 = await first;
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1000) < 30, 5000, 'talking to 101');
  const second = accounts.call('201', 20_000);
  second.catch(() => undefined);
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.detail() ?? '', (d) => d.includes('call waiting'), 5000, 'call waiting at the port');
  // The GB call-waiting tone is 400 Hz: heard over the call for a moment.
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 400) < 30, 3000, 'the call-waiting tone');
  phone.flash();
  const call2 = await second;
  call2.media.setSignal({ kind: 'tones', freqs: [1500], dbm0: -12 });
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1500) < 30, 5000, 'talking to 102 after the flash');
  assert.match(port?.detail() ?? '', /call on hold/);
  // The held call got a re-INVITE (sendonly through the pbx).
  await waitFor(() => call1.remoteSdps.some((s) => /a=(sendonly|inactive)/.test(s)), (held) => held, 3000, '101 put on hold');
  // Flash again swaps back to 101.
  phone.flash();
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1000) < 30, 5000, 'back to 101 after a second flash');
  phone.onhook();
  await reception.hangUp(call1).catch(() => undefined);
  await accounts.hangUp(call2).catch(() => undefined);
  await waitFor(() => port?.activity, (a) => a === 'idle' || a === 'recall' || a === 'ringing', 5000, 'the port done');
  if (port?.activity !== 'idle') {
    phone.offhook();
    phone.onhook();
  }
});

test('three-way calling: flash holds 101, dial 102, flash again joins all three (each hears the other two)', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.activity, (a) => a === 'idle', 5000, 'idle');
  const reception = await desk('101');
  const accounts = await desk('102');
  const toReception = reception.nextIncoming();
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone');
  phone.dial('101', 'dtmf');
  const call1 = await withTimeout(toReception, 8000, '101 rung');
  await withTimeout(call1.established, 5000, '101 answered');
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  await waitFor(() => phone.status().hears.dominantHz, (hz) => hz !== null && Math.abs(hz - 1000) < 30, 5000, 'talking to 101');
  phone.flash();
  await waitFor(() => port?.detail() ?? '', (d) => d.includes('call on hold') && d.startsWith('dialing'), 3000, '101 held, second dial tone');
  // A person hears the dial tone before dialling (the gateway ignores a digit already sounding).
  await new Promise((r) => setTimeout(r, 300));
  const toAccounts = accounts.nextIncoming();
  phone.dial('102', 'dtmf');
  const call2 = await withTimeout(toAccounts, 8000, '102 rung');
  await withTimeout(call2.established, 5000, '102 answered');
  call2.media.setSignal({ kind: 'tones', freqs: [1500], dbm0: -12 });
  await waitFor(() => phone.status().hears.dominantHz, (hz) => hz !== null && Math.abs(hz - 1500) < 30, 5000, 'talking to 102');
  phone.flash();
  await waitFor(() => port?.activity, (a) => a === 'three-way', 3000, 'three-way');
  phone.tone(700);
  await new Promise((r) => setTimeout(r, 800));
  const from1 = call1.media.received.length;
  const from2 = call2.media.received.length;
  await new Promise((r) => setTimeout(r, 800));
  const heard1 = call1.media.heardPcm(from1);
  const heard2 = call2.media.heardPcm(from2);
  assert.ok(frameShare(heard1, 1500) > 0.15 && frameShare(heard1, 700) > 0.15, `101 hears 102 and the analog phone (1500: ${frameShare(heard1, 1500).toFixed(2)}, 700: ${frameShare(heard1, 700).toFixed(2)})`);
  assert.ok(frameShare(heard2, 1000) > 0.15 && frameShare(heard2, 700) > 0.15, `102 hears 101 and the analog phone (1000: ${frameShare(heard2, 1000).toFixed(2)}, 700: ${frameShare(heard2, 700).toFixed(2)})`);
  phone.tone(null);
  phone.onhook();
  await withTimeout(call1.ended, 5000, '101 hung up');
  await withTimeout(call2.ended, 5000, '102 hung up');
  await waitFor(() => port?.activity, (a) => a === 'idle', 5000, 'idle');
});

test('transfer: hanging up during a consultation REFERs the held call to 102; refused by the pbx, the phone rings back for it', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.activity, (a) => a === 'idle', 5000, 'idle');
  const reception = await desk('101');
  const accounts = await desk('102');
  const toReception = reception.nextIncoming();
  phone.offhook();
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'dial tone');
  phone.dial('101', 'dtmf');
  const call1 = await withTimeout(toReception, 8000, '101 rung');
  await withTimeout(call1.established, 5000, '101 answered');
  await new Promise((r) => setTimeout(r, 300));
  phone.flash();
  await waitFor(() => port?.detail() ?? '', (d) => d.includes('call on hold') && d.startsWith('dialing'), 3000, '101 held, second dial tone');
  // A person hears the dial tone before dialling (the gateway ignores a digit already sounding).
  await new Promise((r) => setTimeout(r, 300));
  const toAccounts = accounts.nextIncoming();
  phone.dial('102', 'dtmf');
  const call2 = await withTimeout(toAccounts, 8000, '102 rung');
  await withTimeout(call2.established, 5000, '102 answered');
  const transferred = accounts.nextIncoming();
  phone.onhook();
  await withTimeout(call2.ended, 5000, 'the consultation hung up');
  // A pbx with REFER (the in-call features) calls 102 for 101: the transfer is done.
  const outcome = await Promise.race([
    transferred.then(() => 'transferred' as const),
    waitFor(() => port?.activity, (a) => a === 'recall', 5000, 'recall ringing').then(() => 'recall' as const),
  ]);
  if (outcome === 'transferred') return;
  // This pbx refused the REFER: the held 101 rings back.
  await waitFor(() => phone.status().ringing, (r) => r, 3000, 'the phone rings');
  phone.offhook();
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  await waitFor(() => phone.status().hears.dominantHz, (hz) => hz !== null && Math.abs(hz - 1000) < 30, 5000, 'back with 101');
  phone.onhook();
  await withTimeout(call1.ended, 5000, '101 hung up');
});

test('power-fail transfer: with the gateway gone, FXS 1 is on the landline (the phone hears the exchange)', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'idle', 10_000, 'idle');
  assert.equal(rig.board.relayEngaged, false, 'the relay is released while the gateway runs');
  // The analog side stops (as on a power cut, where the relay falls back by itself).
  await rig.gateway.close();
  await waitFor(() => rig.board.relayEngaged, (e) => e, 3000, 'the relay engaged');
  phone.offhook();
  await waitFor(() => rig.board.co.status().seized, (s) => s, 3000, 'the exchange sees the phone off-hook');
  await waitFor(() => phone.status().hears.hears, (h) => h === 'dial', 3000, 'the exchange\'s dial tone');
  phone.onhook();
});
