/**
 * Listening test of a 3-party conference (room 8000) with sip.js phones over real RTP:
 * - each caller hears its entry prompt in its extension's language (recognised by correlation with
 *   the generated prompt): "first participant" (en), "there are 2 participants" (es), 3 (sv);
 * - those already in hear the join tone;
 * - with everyone sending its own tone, each hears exactly the other two;
 * - * mutes: sent as RFC 4733 by one phone, as SIP INFO by another, in-band by the third; the others
 *   stop hearing that phone's tone, and the phone hears "you are muted";
 * - hanging up plays the leave tone to those who remain.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JOIN_TONE_HZ, LEAVE_TONE_HZ } from '../../services/media/mixer/room.js';
import { participantCountPrompts } from '../../services/media/prompts/catalog.js';
import { loadPromptSequence } from '../../services/media/prompts/prompts.js';
import type { Language } from '../../services/store/types.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { describeLevels, findInAudio, levels, notch, peakLevels, sleep, startTestPbx, type TestPbx } from './harness.js';

const PEOPLE = [
  { number: '5001', secret: 'conf-secret-5001', language: 'en' as Language, tone: 500 },
  { number: '5002', secret: 'conf-secret-5002', language: 'es' as Language, tone: 800 },
  { number: '5003', secret: 'conf-secret-5003', language: 'sv' as Language, tone: 1800 },
];
const TONES = PEOPLE.map((p) => p.tone);
const ROOM = '8000';

let pbx: TestPbx;
before(async () => {
  pbx = await startTestPbx(PEOPLE);
});
after(async () => {
  await pbx.close();
});

interface Member {
  phone: SipPhone;
  call: PhoneCall;
  joinedAt: number;
}

/** Joins the room silent and checks the entry prompt this caller heard, in its language. */
async function enter(index: number): Promise<Member> {
  const person = PEOPLE[index] as (typeof PEOPLE)[number];
  const phone = await pbx.phone(person.number);
  const call = await phone.call(ROOM);
  const joinedAt = performance.now();
  const prompt = loadPromptSequence(participantCountPrompts(index + 1), person.language);
  const english = loadPromptSequence(participantCountPrompts(index + 1), 'en');
  const promptMs = (prompt.length / 8000) * 1000;
  await sleep(promptMs + 700);
  const heard = call.media.pcmBetween(joinedAt - 50, performance.now());
  const match = findInAudio(heard, prompt);
  console.log(`${person.number} (${person.language}) entry prompt ${participantCountPrompts(index + 1).join('+')}: correlation ${match.correlation.toFixed(3)} at ${match.delayMs} ms`);
  assert.ok(match.correlation > 0.7, `${person.number} heard its entry prompt (correlation ${match.correlation.toFixed(3)})`);
  if (person.language !== 'en') {
    const other = findInAudio(heard, english);
    assert.ok(other.correlation < match.correlation - 0.2, `${person.number}: prompt is in ${person.language}, not English (${other.correlation.toFixed(3)})`);
  }
  return { phone, call, joinedAt };
}

/** What each member heard over `ms` from now, as dBm0 per participant tone. */
async function listen(members: Member[], ms: number, settleMs = 300): Promise<number[][]> {
  await sleep(settleMs);
  const from = performance.now();
  await sleep(ms);
  const to = performance.now();
  return members.map((m) => levels(m.call.media.pcmBetween(from, to), TONES));
}

function assertHears(who: number, heard: number[], present: number[], absent: number[], what: string): void {
  const text = describeLevels(TONES, heard);
  for (const i of present) assert.ok((heard[i] as number) > -22, `${what}: ${PEOPLE[who]?.number} hears ${TONES[i]} Hz (${text})`);
  for (const i of absent) assert.ok((heard[i] as number) < -50, `${what}: ${PEOPLE[who]?.number} must not hear ${TONES[i]} Hz (${text})`);
}

test('conference 8000: prompts, join tone, mix-minus, * mutes over RFC 4733 / INFO / in-band, leave tone', async () => {
  const first = await enter(0);
  assert.equal(pbx.applications.conference.snapshot()[0]?.members.length, 1);

  // The second caller joins: the first hears the join tone (1000 + 1400 Hz beeps).
  const beforeSecond = performance.now();
  const second = await enter(1);
  const joinHeard = peakLevels(first.call.media.pcmBetween(beforeSecond, second.joinedAt + 600), JOIN_TONE_HZ);
  console.log(`first participant heard on join: ${describeLevels(JOIN_TONE_HZ, joinHeard)}`);
  for (const [i, f] of JOIN_TONE_HZ.entries()) assert.ok((joinHeard[i] as number) > -25, `join tone ${f} Hz heard by the first participant`);
  const third = await enter(2);
  const members = [first, second, third];
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [[ROOM, 3]]);

  // Everyone talks: each hears exactly the other two.
  members.forEach((m, i) => m.call.media.setSignal({ kind: 'tones', freqs: [TONES[i] as number] }));
  let heard = await listen(members, 1000);
  console.log(`all talking: ${heard.map((h, i) => `${PEOPLE[i]?.number} hears ${describeLevels(TONES, h)}`).join(' | ')}`);
  heard.forEach((h, i) => assertHears(i, h, [0, 1, 2].filter((k) => k !== i), [i], 'all talking'));

  // * as RFC 4733 from the first phone.
  assert.ok(first.call.media.sendRfc4733('*', 120), 'telephone-event negotiated with the first phone');
  let sentAt = performance.now();
  heard = await listen(members, 800, 400);
  assertHears(1, heard[1] as number[], [2], [0, 1], 'first muted by RFC 4733');
  assertHears(2, heard[2] as number[], [1], [0, 2], 'first muted by RFC 4733');
  const mutedPrompt = loadPromptSequence(['conf.muted'], 'en');
  await sleep(Math.max(0, sentAt + (mutedPrompt.length / 8) + 600 - performance.now()));
  // The others' tones are still in the first phone's mix: notch them out of both signals.
  const others = [TONES[1] as number, TONES[2] as number];
  const told = findInAudio(notch(first.call.media.pcmBetween(sentAt, performance.now()), others), notch(mutedPrompt, others));
  console.log(`first phone heard "you are muted": correlation ${told.correlation.toFixed(3)} at ${told.delayMs} ms`);
  assert.ok(told.correlation > 0.7, `first phone is told it is muted (correlation ${told.correlation.toFixed(3)})`);

  // * as SIP INFO (application/dtmf-relay) from the second phone.
  await second.phone.sendInfo(second.call, '*');
  sentAt = performance.now();
  heard = await listen(members, 800, 400);
  assertHears(0, heard[0] as number[], [2], [0, 1], 'second muted by INFO');
  assertHears(2, heard[2] as number[], [], [0, 1, 2], 'second muted by INFO');

  // Its "you are muted" (in Spanish) has speech energy at the test tones: let it end first.
  await sleep(Math.max(0, sentAt + loadPromptSequence(['conf.muted'], 'es').length / 8 + 300 - performance.now()));

  // * in-band from the third phone (its tone replaced by the DTMF pair for 160 ms).
  third.call.media.sendInbandDigit('*', 160);
  sentAt = performance.now();
  heard = await listen(members, 800, 500);
  console.log(`all muted: ${heard.map((h) => describeLevels(TONES, h)).join(' | ')}`);
  assertHears(0, heard[0] as number[], [], [0, 1, 2], 'third muted in-band');
  assertHears(1, heard[1] as number[], [], [0, 1, 2], 'third muted in-band');

  // * again on the first phone (RFC 4733) unmutes it.
  await sleep(1500); // let the mute prompts end
  assert.ok(first.call.media.sendRfc4733('*', 120));
  heard = await listen(members, 800, 400);
  assertHears(1, heard[1] as number[], [0], [1, 2], 'first unmuted');
  assertHears(2, heard[2] as number[], [0], [1, 2], 'first unmuted');
  first.call.media.setSignal({ kind: 'silence' });
  await sleep(2000); // the "unmuted" prompt to the first phone ends; the room is quiet

  // The third hangs up: the two who remain hear the leave tone.
  const leftAt = performance.now();
  await third.phone.hangUp(third.call);
  await sleep(600);
  for (const m of [first, second]) {
    const leave = peakLevels(m.call.media.pcmBetween(leftAt, performance.now()), LEAVE_TONE_HZ);
    console.log(`leave tone heard: ${describeLevels(LEAVE_TONE_HZ, leave)}`);
    assert.ok(leave.every((l) => l > -25), `leave tone heard (${describeLevels(LEAVE_TONE_HZ, leave)})`);
  }
  assert.equal(pbx.applications.conference.snapshot()[0]?.members.length, 2);

  await first.phone.hangUp(first.call);
  await second.phone.hangUp(second.call);
  await sleep(100);
  assert.deepEqual(pbx.applications.conference.snapshot(), [], 'room empty');
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0, 'media sessions released');
  assert.equal(pbx.applications.clock.stats().subscribers, 0, 'conference left the media clock');
});
