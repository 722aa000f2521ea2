/**
 * Listening test of DTMF interworking (issue 3 item 4): phone A negotiates telephone-event, phone C
 * is in-band only. Each keeps its own DTMF method; the PBX bridges the pair in JS and converts:
 * A's RFC 4733 '5' must be heard by C as an in-band '5' (detected in the audio C received), and C's
 * in-band '8' must reach A as RFC 4733 packets for event 8 with the end bit. Audio keeps flowing
 * both ways (each hears the other's tone). Both call directions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { detectDtmfDigits } from '../../services/media/dtmf/detector.js';
import type { PhoneCall as SipCall } from '../support/sip-phone.js';
import { readSdp } from '../support/rtp-phone.js';
import { describeLevels, hangUpAndCheckReleased, levels, sleep, startTestPbx, type TestPbx } from './harness.js';

const A = { number: '2101', secret: 'alpha-secret-2101' };
const C = { number: '2103', secret: 'charlie-secret-2103' };

let pbx: TestPbx;

before(async () => {
  pbx = await startTestPbx([A, C]);
});

after(async () => {
  await pbx.close();
});

async function checkInterworking(callA: SipCall, callC: SipCall): Promise<void> {
  // Per-leg negotiation: A has telephone-event in the SDP it got from us, C has none.
  assert.notEqual(readSdp(callA.remoteSdps.at(-1) ?? '').telephoneEvent, null, 'A negotiated telephone-event');
  assert.equal(callC.media.telephoneEvent, false, 'C has no telephone-event');
  // On the PBX: exactly one leg of the call negotiated telephone-event (so the pair is interworked).
  const legs = [...pbx.engine.sessions.values()].flatMap((s) => s.legs);
  assert.equal(legs.length, 2, 'one anchored call');
  assert.deepEqual(legs.map((l) => l.negotiatedCodec?.dtmf !== undefined).sort(), [false, true], 'one leg with telephone-event, one without');
  assert.ok(legs.every((l) => l.attached), 'both legs bridged in JS');

  callA.media.setSignal({ kind: 'tones', freqs: [400] });
  callC.media.setSignal({ kind: 'tones', freqs: [2400] });
  await sleep(500);

  // Audio both ways through the JS bridge.
  const from = performance.now();
  await sleep(1000);
  const to = performance.now();
  const freqs = [400, 2400];
  const heardByA = callA.media.pcmBetween(from, to);
  const heardByC = callC.media.pcmBetween(from, to);
  assert.ok(heardByA.length >= 6400 && heardByC.length >= 6400, `≥ 0.8 s received (A ${heardByA.length}, C ${heardByC.length} samples)`);
  const [a400, a2400] = levels(heardByA, freqs) as [number, number];
  const [c400, c2400] = levels(heardByC, freqs) as [number, number];
  console.log(`A heard: ${describeLevels(freqs, [a400, a2400])}; C heard: ${describeLevels(freqs, [c400, c2400])}`);
  assert.ok(a2400 > -18, `A hears C's 2400 Hz (${a2400.toFixed(1)} dBm0)`);
  assert.ok(a400 < a2400 - 30, `A does not hear its own 400 Hz (${a400.toFixed(1)} dBm0)`);
  assert.ok(c400 > -18, `C hears A's 400 Hz (${c400.toFixed(1)} dBm0)`);
  assert.ok(c2400 < c400 - 30, `C does not hear its own 2400 Hz (${c2400.toFixed(1)} dBm0)`);

  // RFC 4733 → in-band: A presses 5 (events, no audio meanwhile); C must hear the tone pair.
  callA.media.setSignal({ kind: 'silence' });
  await sleep(100);
  const dtmfFrom = performance.now();
  assert.ok(callA.media.sendRfc4733('5', 120), 'A can send RFC 4733');
  await sleep(600);
  const heardDigits = detectDtmfDigits(callC.media.pcmBetween(dtmfFrom, performance.now()));
  console.log(`C detected in-band: ${JSON.stringify(heardDigits)}`);
  assert.deepEqual(heardDigits.map((d) => d.digit), ['5'], 'C hears exactly one in-band 5');
  assert.ok((heardDigits[0]?.durationMs ?? 0) >= 40, `the tone lasts ≥ 40 ms (Q.24), got ${heardDigits[0]?.durationMs} ms`);

  // In-band → RFC 4733: C plays an 8 in its audio; A must receive telephone-events for 8 with the end bit.
  const inbandFrom = performance.now();
  callC.media.sendInbandDigit('8', 120);
  await sleep(700);
  const events = callA.media.eventsBetween(inbandFrom, performance.now());
  const codes = new Set(events.map((e) => e.event?.event));
  console.log(`A received ${events.length} telephone-event packets, events ${JSON.stringify([...codes])}, end packets ${events.filter((e) => e.event?.end).length}`);
  assert.ok(events.length >= 3, `A received RFC 4733 packets (${events.length})`);
  assert.deepEqual([...codes], [8], 'all for event 8');
  assert.ok(events.some((e) => e.event?.end === true), 'with the end bit');
  const lastEnd = events.filter((e) => e.event?.end).at(-1);
  assert.ok((lastEnd?.event?.duration ?? 0) >= 40 * 8, `the end packet's duration covers the digit (${lastEnd?.event?.duration} units)`);
  // The digit went as events, not as audio: A hears (almost) none of it in-band.
  const leaked = detectDtmfDigits(callA.media.pcmBetween(inbandFrom, performance.now()));
  assert.deepEqual(leaked.map((d) => d.digit), [], `A does not also hear the 8 in-band (${JSON.stringify(leaked)})`);

  // Audio still flows both ways after the digits.
  callA.media.setSignal({ kind: 'tones', freqs: [400] });
  await sleep(300);
  const from2 = performance.now();
  await sleep(600);
  const to2 = performance.now();
  const [a2] = levels(callA.media.pcmBetween(from2, to2), [2400]) as [number];
  const [c2] = levels(callC.media.pcmBetween(from2, to2), [400]) as [number];
  assert.ok(a2 > -18 && c2 > -18, `audio flows both ways after DTMF (A hears 2400 Hz at ${a2.toFixed(1)}, C hears 400 Hz at ${c2.toFixed(1)} dBm0)`);
}


test('A (telephone-event) calls C (in-band only): RFC 4733 ⇄ in-band through the PBX, audio both ways', async () => {
  const a = await pbx.phone(A.number);
  const c = await pbx.phone(C.number, { telephoneEvent: false });
  const [callA, callC] = await a.callAnswered(c, C.number);
  try {
    await checkInterworking(callA, callC);
  } finally {
    await hangUpAndCheckReleased(pbx, a, callA, callC);
  }
});

test('C (in-band only) calls A (telephone-event): the same conversion in the other call direction', async () => {
  const a = await pbx.phone(A.number);
  const c = await pbx.phone(C.number, { telephoneEvent: false });
  const [callC, callA] = await c.callAnswered(a, A.number);
  try {
    await checkInterworking(callA, callC);
  } finally {
    await hangUpAndCheckReleased(pbx, c, callC, callA);
  }
});
