/**
 * What the analog phone's user hears beyond a plain call, by listening at the simulated phone:
 * stutter dial tone while voicemail waits (an unsolicited MWI NOTIFY to the port), reorder then the
 * howler when the receiver is left off-hook, call waiting (tone, CAS acknowledged by the phone and the
 * waiting caller's ID decoded; a phone without type II gets no FSK; flash answers the second call and
 * holds the first), three-way calling, hook-flash transfer (attended and blind, 101 and 102 then
 * talk), and the power-fail relay putting FXS 1 on the landline when the pbx is gone.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { SessionState } from 'sip.js';
import { AnalogPhone } from '../../device/sim/devices.js';
import { withTimeout, type PhoneCall, type SipPhone } from '../support/sip-phone.js';
import { isFskFrame } from '../../device/dsp/tone-detect.js';
import { BOARD_KIND, earTap, frameShare, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

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
    // Hold and transfer terminated by the pbx, as on the appliance (services/pbx/features/in-call/).
    pbx: { inCall: true },
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
  await waitFor(() => phone.status().callerId?.number, (n) => n === '101', 6000, 'the first call\'s caller ID, decoded between the rings');
  phone.offhook();
  const call1 = await first;
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1000) < 30, 5000, 'talking to 101');
  const ear = earTap(phone);
  const second = accounts.call('201', 20_000);
  second.catch(() => undefined);
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.detail() ?? '', (d) => d.includes('call waiting'), 5000, 'call waiting at the port');
  // The GB call-waiting tone is 400 Hz for 100 ms, heard over the call.
  await waitFor(() => ear.framesOf([400]), (n) => n >= 3, 3000, 'the call-waiting tone (400 Hz)');
  ear.stop();
  // Caller ID on call waiting (type II): the phone heard CAS, answered D, and decoded the FSK.
  const cid = await waitFor(() => phone.status().callerId, (c) => c?.number === '102', 3000, 'the waiting caller\'s ID on the display');
  assert.equal(cid?.name, 'Accounts');
  const cw = phone.status().callWaiting;
  assert.ok(cw !== undefined && cw.alerts >= 1 && cw.acks >= 1 && cw.fskHeardMs > 0, `CAS heard and acknowledged, FSK heard: ${JSON.stringify(cw)}`);
  phone.flash();
  const call2 = await second;
  call2.media.setSignal({ kind: 'tones', freqs: [1500], dbm0: -12 });
  await waitFor(() => phone.status().hears, (h) => h.dominantHz !== null && Math.abs(h.dominantHz - 1500) < 30, 5000, 'talking to 102 after the flash');
  assert.match(port?.detail() ?? '', /call on hold/);
  // The held 101 no longer hears the analog phone (the pbx plays it the hold music).
  phone.tone(700);
  await new Promise((r) => setTimeout(r, 300));
  const heldFrom = call1.media.received.length;
  await new Promise((r) => setTimeout(r, 600));
  const heldPcm = call1.media.heardPcm(heldFrom);
  assert.ok(frameShare(heldPcm, 700) < 0.1, `101 on hold does not hear the phone (700 Hz share ${frameShare(heldPcm, 700).toFixed(2)})`);
  phone.tone(null);
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
  const { call1, toAccounts } = await consult();
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
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

test('call waiting on a phone without type II caller ID (no ACK): the tone only, no FSK sent', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const port = rig.gateway.fxsPort('fxs1');
  await waitFor(() => port?.activity, (a) => a === 'idle', 5000, 'idle');
  assert.ok(phone instanceof AnalogPhone);
  phone.cidcwAck = null;
  try {
    const reception = await desk('101');
    const accounts = await desk('102');
    const first = reception.call('201', 20_000);
    first.catch(() => undefined);
    await waitFor(() => phone.status().ringing, (r) => r, 6000, 'ringing');
    await waitFor(() => phone.status().callerId?.number, (n) => n === '101', 6000, 'the first caller\'s ID between rings');
    phone.offhook();
    const call1 = await first;
    call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
    await waitFor(() => phone.status().hears.dominantHz, (hz) => hz !== null && Math.abs(hz - 1000) < 30, 5000, 'talking to 101');
    const before = phone.status().callWaiting;
    const ear = earTap(phone);
    const second = accounts.call('201', 20_000);
    second.catch(() => undefined);
    await waitFor(() => ear.framesOf([400]), (n) => n >= 3, 5000, 'the call-waiting tone (400 Hz)');
    await waitFor(() => phone.status().callWaiting?.alerts ?? 0, (n) => n > (before?.alerts ?? 0), 3000, 'CAS heard');
    // Well past the ACK window (160 ms) and where the FSK would have been (≤ 500 ms + ~0.5 s of it).
    await new Promise((r) => setTimeout(r, 2000));
    const after = phone.status();
    assert.equal(after.callWaiting?.acks, before?.acks, 'the phone never acknowledged');
    assert.equal(after.callWaiting?.fskHeardMs, 0, 'no caller ID FSK reached the phone');
    assert.equal(after.callerId?.number, '101', 'the display still shows the first call');
    assert.equal(ear.frames.filter((f) => isFskFrame(f)).length, 0, 'no FSK frame at the phone\'s ear');
    ear.stop();
    phone.onhook();
    // Hanging up with a call waiting: 101's call ends, 102's rings the phone (GR-571).
    await withTimeout(call1.ended, 5000, '101 hung up');
    await waitFor(() => phone.status().ringing, (r) => r, 6000, 'the waiting call rings');
    phone.offhook();
    const call2 = await second;
    phone.onhook();
    await withTimeout(call2.ended, 5000, '102 hung up');
    await waitFor(() => port?.activity, (a) => a === 'idle', 5000, 'idle');
  } finally {
    phone.cidcwAck = 'D';
    if (phone.isOffHook) phone.onhook();
  }
});

/** The analog phone talks to 101 (it dialled), flashes, dials 102; returns 101's call and 102's incoming one. */
async function consult(): Promise<{ call1: PhoneCall; toAccounts: Promise<PhoneCall> }> {
  const phone = rig.board.fxsDevice(1);
  const port = rig.gateway.fxsPort('fxs1');
  // A test that failed before may have left the handset off: this one starts from on-hook.
  if (phone.isOffHook) phone.onhook();
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
  return { call1, toAccounts };
}

/** 101 and 102 hear each other (each sends its own tone), and the analog port is free. */
async function talkingTogether(call1: PhoneCall, call2: PhoneCall): Promise<void> {
  call1.media.setSignal({ kind: 'tones', freqs: [1000], dbm0: -12 });
  call2.media.setSignal({ kind: 'tones', freqs: [1500], dbm0: -12 });
  await new Promise((r) => setTimeout(r, 1000));
  const from1 = call1.media.received.length;
  const from2 = call2.media.received.length;
  await new Promise((r) => setTimeout(r, 800));
  const heard1 = call1.media.heardPcm(from1);
  const heard2 = call2.media.heardPcm(from2);
  assert.ok(frameShare(heard1, 1500) > 0.5, `101 hears 102 (1500 Hz share ${frameShare(heard1, 1500).toFixed(2)}, ${heard1.length / 8} ms)`);
  assert.ok(frameShare(heard2, 1000) > 0.5, `102 hears 101 (1000 Hz share ${frameShare(heard2, 1000).toFixed(2)}, ${heard2.length / 8} ms)`);
  const port = rig.gateway.fxsPort('fxs1');
  assert.equal(port?.detail(), 'idle', 'the analog port holds no call');
  const phone = rig.board.fxsDevice(1);
  assert.equal(phone.status().ringing, false, 'no recall');
}

test('attended transfer: flash, dial 102, 102 answers, hang up: 101 and 102 talk (REFER with Replaces), the port is free', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const { call1, toAccounts } = await consult();
  const call2 = await withTimeout(toAccounts, 8000, '102 rung');
  await withTimeout(call2.established, 5000, '102 answered');
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'talking', 3000, 'the consultation talking');
  phone.onhook();
  await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'idle', 3000, 'the port idle');
  // The pbx joined the two far parties; their own dialogs stay (no re-INVITE, RFC 5589 §7).
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(call1.session.state, SessionState.Established, '101 still in its call');
  assert.equal(call2.session.state, SessionState.Established, '102 still in its call');
  await talkingTogether(call1, call2);
  await (await desk('101')).hangUp(call1);
  await withTimeout(call2.ended, 5000, '102 hung up with 101');
});

test('blind transfer: flash, dial 102, hang up while it rings: 102 is called for 101 and they talk, the port is free', { skip }, async () => {
  const phone = rig.board.fxsDevice(1);
  const accounts = await desk('102');
  accounts.answerAfterMs = 1500;
  try {
    const { call1, toAccounts } = await consult();
    const consultation = await withTimeout(toAccounts, 8000, '102 rung');
    // 102 rings (180 back at the gateway), nobody has answered yet: the user hangs up.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(consultation.session.state, SessionState.Initial, '102 still ringing');
    const transferred = accounts.nextIncoming();
    phone.onhook();
    await withTimeout(consultation.ended, 5000, 'the consultation cancelled');
    const call2 = await withTimeout(transferred, 8000, '102 rung again, for 101');
    await withTimeout(call2.established, 5000, '102 answered the transferred call');
    await waitFor(() => rig.gateway.fxsPort('fxs1')?.activity, (a) => a === 'idle', 3000, 'the port idle');
    await talkingTogether(call1, call2);
    await (await desk('101')).hangUp(call1);
    await withTimeout(call2.ended, 5000, '102 hung up with 101');
  } finally {
    accounts.answerAfterMs = 0;
  }
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
