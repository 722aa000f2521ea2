/**
 * An IP-authenticated carrier (SIPp on 127.0.0.2, echoing RTP back with -rtp_echo) and the office
 * (country FR): the carrier calls 01 42 34 56 01, mapped to extension 101, and 101's phone answers
 * and hears its own tone come back through the carrier; 101 dials a French mobile in national form
 * and the carrier receives it in E.164 (`sip:+33612345678@`) with 101's direct number as caller ID.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { killAllSipp, parseMessageLog, scenarioPath, startSippUas, freePort } from '../support/sipp.js';
import { findInAudio, levels, sleep } from '../media/harness.js';
import { loadPrompt } from '../../services/media/prompts/prompts.js';
import { placeRefusedCall } from './refused-call.js';
import { startTrunkTestPbx, type TrunkTestPbx } from './harness.js';
import { carrierAnswersOnce, carrierCallsIn, firstInvite } from './sipp-carrier.js';

const CARRIER_IP = '127.0.0.2';
const ALICE = { number: '101', secret: 'alice-secret-101' };
/** No international permission (the default), a direct number of its own. */
const BOB = { number: '102', secret: 'bravo-secret-102' };
const BOB_DID = '+33142345602';
/** No direct number: its outside calls show the office's main number. */
const CAROL = { number: '103', secret: 'carol-secret-103' };
const MAIN = '+33142345600';
const DID = '+33142345601';

describe('IP-authenticated carrier trunk', () => {
  let pbx: TrunkTestPbx;
  let carrierPort: number;

  before(async () => {
    carrierPort = await freePort('udp', CARRIER_IP);
    pbx = await startTrunkTestPbx({
      country: 'FR',
      extensions: [ALICE, BOB, CAROL],
      setup(store) {
        store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: carrierPort });
        store.numbers.add(DID, { kind: 'extension', number: '101' });
        store.extensionRouting.set('101', { directNumber: DID });
        store.numbers.add(BOB_DID, { kind: 'extension', number: '102' });
        store.extensionRouting.set('102', { directNumber: BOB_DID });
        store.numbers.add(MAIN, { kind: 'receptionist', name: 'main' });
        store.settings.set('routing.main_number', MAIN);
      },
    });
  });

  after(async () => {
    killAllSipp();
    await pbx.close();
  });

  test('the carrier calls 01 42 34 56 01: extension 101 answers and audio flows both ways through the trunk', async () => {
    const phone = await pbx.phone(ALICE.number);
    const incoming = phone.nextIncoming();
    const mediaPort = await freePort('udp', CARRIER_IP);
    const run = carrierCallsIn(CARRIER_IP, pbx.address.port, { dialled: '0142345601', caller: '+33155550123', holdMs: 3000, echoMediaPort: mediaPort });
    // SIPp ending first (a failed call) must fail the test, not leave it waiting for the phone.
    const call = await Promise.race([incoming, run.then((r) => Promise.reject(new Error(`carrier call ended before 101 rang: ${r.errors || r.screen}`)))]);
    await call.established;
    assert.match(String(call.session.remoteIdentity.uri), /^sip:\+33155550123@/, 'the carrier\'s caller number reaches the phone');
    call.media.setSignal({ kind: 'tones', freqs: [1000] });
    await sleep(600);
    const from = performance.now();
    await sleep(1500);
    const heard = call.media.pcmBetween(from, performance.now());
    const [l1000] = levels(heard, [1000]) as [number];
    console.log(`101 heard its 1000 Hz echoed by the carrier at ${l1000.toFixed(1)} dBm0 (${heard.length} samples)`);
    assert.ok(heard.length >= 8000, `≥ 1 s of audio received (${heard.length} samples)`);
    assert.ok(l1000 > -20, `the tone came back through the trunk (${l1000.toFixed(1)} dBm0)`);
    const result = await run;
    assert.equal(result.exitCode, 0, `SIPp carrier: ${result.errors || result.screen}`);
    await call.ended;
  });

  test('the carrier calls 01 42 34 56 50, mapped to ring group "sales": its member 101 rings and answers', async () => {
    pbx.store.routing.ringGroups.put({ name: 'sales', extension: null, strategy: 'simultaneous', ringSeconds: 20, members: [{ extension: '101' }], noAnswer: null });
    pbx.store.numbers.add('+33142345650', { kind: 'ring-group', name: 'sales' });
    const phone = await pbx.phone(ALICE.number);
    const incoming = phone.nextIncoming();
    const run = carrierCallsIn(CARRIER_IP, pbx.address.port, { dialled: '+33142345650', caller: '+33155550124', holdMs: 1000 });
    const call = await Promise.race([incoming, run.then((r) => Promise.reject(new Error(`carrier call ended before 101 rang: ${r.errors || r.screen}`)))]);
    await call.established;
    const result = await run;
    assert.equal(result.exitCode, 0, `SIPp carrier: ${result.errors || result.screen}`);
    await call.ended;
  });

  test('101 calls 06 12 34 56 78: E.164 in the Request-URI, caller ID = 101\'s direct number', async () => {
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: true });
    const phone = await pbx.phone(ALICE.number);
    const call = await phone.call('0612345678');
    call.media.setSignal({ kind: 'tones', freqs: [1200] });
    await sleep(600);
    const from = performance.now();
    await sleep(1500);
    const heard = call.media.pcmBetween(from, performance.now());
    const [l1200] = levels(heard, [1200]) as [number];
    assert.ok(l1200 > -20, `101 hears its tone echoed by the carrier (${l1200.toFixed(1)} dBm0)`);
    const calls = pbx.sip.calls();
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.trunk, 'carrier', 'the call is counted on the trunk');
    await phone.hangUp(call);
    // calls: 1 → SIPp exits by itself once the call is over (after its 1 s timewait).
    const result = await carrier.done();
    assert.equal(result.successful, 1, `the carrier saw the call complete (${result.errors || result.screen})`);
    const invite = parseMessageLog(result.messages).find((m) => m.direction === 'received' && m.text.startsWith('INVITE '));
    assert.ok(invite, `the carrier received an INVITE (${result.errors || result.screen})`);
    assert.match(invite.text, new RegExp(`^INVITE sip:\\+33612345678@127\\.0\\.0\\.2:${carrierPort} SIP/2\\.0`), 'E.164 in the Request-URI');
    assert.match(invite.text, /^From: .*<sip:\+33142345601@127\.0\.0\.2>/m, 'caller ID is the direct number');
    assert.match(invite.text, /^To: .*<sip:\+33612345678@127\.0\.0\.2>/m, 'To names the dialled number');
    assert.doesNotMatch(invite.text, /^(Proxy-)?Authorization:/m, 'no credentials toward an IP peer');
  });

  test('103 has no direct number: its outside call shows the main number', async () => {
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: false });
    const phone = await pbx.phone(CAROL.number);
    const call = await phone.call('0142345678');
    await phone.hangUp(call);
    const result = await carrier.done();
    const invite = firstInvite(result.messages);
    assert.match(invite, /^INVITE sip:\+33142345678@/);
    assert.match(invite, /^From: .*<sip:\+33142345600@/m, 'caller ID is the main number');
  });

  test('102 (no international permission) dials 112 and 15: emergency calls go out, with 102\'s own number', async () => {
    const phone = await pbx.phone(BOB.number);
    for (const dialled of ['112', '15']) {
      const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: false });
      const call = await phone.call(dialled);
      await sleep(300);
      await phone.hangUp(call);
      const result = await carrier.done();
      const invite = parseMessageLog(result.messages).find((m) => m.direction === 'received' && m.text.startsWith('INVITE '));
      assert.ok(invite, `${dialled}: the carrier received the emergency call (${result.errors || result.screen})`);
      assert.match(invite.text, new RegExp(`^INVITE sip:${dialled}@127\\.0\\.0\\.2:${carrierPort} `), `${dialled} goes out as dialled`);
      assert.match(invite.text, /^From: .*<sip:\+33142345602@/m, `${dialled} carries 102's own number`);
    }
  });

  test('102 dials 00 44 20 7946 0000 (international): refused with 403 after the "not allowed" prompt; with the permission it goes out', async () => {
    const phone = await pbx.phone(BOB.number);
    const refused = await placeRefusedCall(phone, '00442079460000', pbx.address);
    assert.equal(refused.status, 403, `refused with 403 (got ${refused.status} ${refused.reason})`);
    const prompt = loadPrompt('route.not_permitted', 'en');
    const match = findInAudio(refused.heard, prompt.subarray(0, Math.min(prompt.length, 16000)));
    console.log(`refusal prompt found in what 102 heard: correlation ${match.correlation.toFixed(2)} at ${match.delayMs} ms (${refused.heard.length} samples)`);
    assert.ok(match.correlation > 0.6, `102 heard the "not allowed" prompt (correlation ${match.correlation.toFixed(2)})`);
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
    // With the permission, the same number goes out.
    pbx.store.extensionRouting.set('102', { international: true });
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: false });
    const call = await phone.call('00442079460000');
    await phone.hangUp(call);
    const result = await carrier.done();
    assert.match(result.messages, /INVITE sip:\+442079460000@/, 'with --international on the call goes out in E.164');
    pbx.store.extensionRouting.set('102', { international: false });
  });

  test('calls at once through the trunk up to --max-calls 2 (101 on two calls at once): the third gets 503', async () => {
    pbx.store.trunks.remove('carrier');
    pbx.store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: carrierPort, maxCalls: 2 });
    const deadline = Date.now() + 5000;
    while (pbx.sip.trunks.status()[0]?.maxCalls !== 2 && Date.now() < deadline) await sleep(50);
    const uas = await startSippUas({ scenario: scenarioPath('uas-answer'), localIp: CARRIER_IP, localPort: carrierPort, calls: 2, timeoutSec: 30 });
    // Unlimited lines: 101 holds two outside calls at once, from two phones.
    const desk = await pbx.phone(ALICE.number);
    const soft = await pbx.phone(ALICE.number);
    const first = await desk.call('0612345678');
    const second = await soft.call('0612345679');
    assert.deepEqual(pbx.sip.calls().map((c) => [c.caller, c.trunk, c.phase]), [['101', 'carrier', 'answered'], ['101', 'carrier', 'answered']]);
    const bob = await pbx.phone(BOB.number);
    const third = await placeRefusedCall(bob, '0612345670', pbx.address);
    assert.equal(third.status, 503, `the trunk is full (${third.status} ${third.reason})`);
    assert.equal(third.reason, 'All Trunks Busy');
    await desk.hangUp(first);
    await soft.hangUp(second);
    const result = await Promise.race([uas.done, sleep(10_000).then(() => uas.stop())]);
    assert.equal(result.successful, 2, `the carrier completed both calls (${result.errors || result.screen})`);
  });
});
