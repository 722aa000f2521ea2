/**
 * Listening test of an anchored call: two sip.js phones registered with digest auth, A calls B
 * through the B2BUA; each sends its own tone over RTP and must hear exactly the other's, relayed by
 * the appliance (the SDP each phone got names the appliance's RTP ports, never the other phone).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { detectDtmfDigits } from '../../services/media/dtmf/detector.js';
import { readSdp } from '../support/rtp-phone.js';
import { describeLevels, hangUpAndCheckReleased, levels, sleep, startTestPbx, type TestPbx } from './harness.js';

const A = { number: '2001', secret: 'alpha-secret-2001' };
const B = { number: '2002', secret: 'bravo-secret-2002' };
const C = { number: '2003', secret: 'charlie-secret-2003' };

let pbx: TestPbx;

before(async () => {
  pbx = await startTestPbx([A, B, C]);
});

after(async () => {
  await pbx.close();
});

test('A (1000 Hz) calls B (1500 Hz): each hears only the other, through the appliance', async () => {
  const a = await pbx.phone(A.number);
  const b = await pbx.phone(B.number);
  const [callA, callB] = await a.callAnswered(b, B.number, [1000, 1500]);

  // Anchoring: the SDP each phone received points at the appliance's RTP range, not at the other phone.
  const toA = readSdp(callA.remoteSdps.at(-1) ?? '');
  const toB = readSdp(callB.remoteSdps.at(-1) ?? '');
  for (const [who, sdp, otherPort] of [['A', toA, callB.media.port], ['B', toB, callA.media.port]] as const) {
    assert.equal(sdp.address, '127.0.0.1', `${who}: SDP address`);
    assert.ok(sdp.port >= pbx.rtpRange.min && sdp.port <= pbx.rtpRange.max, `${who}: SDP port ${sdp.port} in the appliance's range ${pbx.rtpRange.min}-${pbx.rtpRange.max}`);
    assert.notEqual(sdp.port, otherPort, `${who}: SDP must not name the other phone's port`);
  }
  assert.notEqual(toA.port, toB.port, 'one appliance port per leg');

  await sleep(500); // latching and jitter settle
  const from = performance.now();
  await sleep(1500);
  const to = performance.now();
  const heardByA = callA.media.pcmBetween(from, to);
  const heardByB = callB.media.pcmBetween(from, to);
  assert.ok(heardByA.length >= 8000 && heardByB.length >= 8000, `≥ 1 s received (A ${heardByA.length}, B ${heardByB.length} samples)`);

  const freqs = [1000, 1500];
  const [a1000, a1500] = levels(heardByA, freqs) as [number, number];
  const [b1000, b1500] = levels(heardByB, freqs) as [number, number];
  console.log(`A heard: ${describeLevels(freqs, [a1000, a1500])}; B heard: ${describeLevels(freqs, [b1000, b1500])}`);
  assert.ok(a1500 > -16, `A hears B's 1500 Hz (${a1500.toFixed(1)} dBm0)`);
  assert.ok(a1000 < a1500 - 35, `A does not hear its own 1000 Hz (${a1000.toFixed(1)} dBm0)`);
  assert.ok(b1000 > -16, `B hears A's 1000 Hz (${b1000.toFixed(1)} dBm0)`);
  assert.ok(b1500 < b1000 - 35, `B does not hear its own 1500 Hz (${b1500.toFixed(1)} dBm0)`);

  // Both phones negotiated telephone-event: A's RFC 4733 events reach B as events.
  const dtmfFrom = performance.now();
  assert.ok(callA.media.sendRfc4733('9', 100), 'A and B negotiated telephone-event');
  await sleep(400);
  const events = callB.media.eventsBetween(dtmfFrom, performance.now());
  assert.ok(events.length >= 3 && events.every((e) => e.event?.event === 9), `B received RFC 4733 event 9 (${events.length} packets)`);
  assert.ok(events.some((e) => e.event?.end === true), 'with its end bit');

  await hangUpAndCheckReleased(pbx, a, callA, callB);
});

test('DTMF across a bridged call: telephone-event is negotiated per leg, so A keeps it when C lacks it (the PBX interworks), and in-band digits still pass intact', async () => {
  const a = await pbx.phone(A.number);
  const c = await pbx.phone(C.number, { telephoneEvent: false });
  const [callA, callC] = await a.callAnswered(c, C.number);
  const toA = readSdp(callA.remoteSdps.at(-1) ?? '');
  // Per-leg negotiation: the PBX terminates telephone-event, so A keeps the payload type it offered
  // although C did not accept it (hw-tests/media/dtmf-interworking.test.ts covers the conversion).
  assert.equal(toA.telephoneEvent, 101, 'the answer to A keeps telephone-event: the PBX, not C, terminates it');
  assert.equal(readSdp(callC.remoteSdps.at(-1) ?? '').telephoneEvent, 101, 'C was offered telephone-event too (it declined)');
  await sleep(300);
  const from = performance.now();
  callA.media.sendInbandDigit('5', 120);
  await sleep(300);
  callA.media.sendInbandDigit('#', 120);
  await sleep(500);
  const digits = detectDtmfDigits(callC.media.pcmBetween(from, performance.now()));
  console.log(`C detected: ${JSON.stringify(digits)}`);
  assert.deepEqual(digits.map((d) => d.digit), ['5', '#'], 'C hears both digits in-band');
  await a.hangUp(callA);
  await callC.ended;
});
