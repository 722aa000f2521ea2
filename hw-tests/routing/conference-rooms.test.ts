/**
 * Conference rooms as the seeds sell them, with sip.js phones over real RTP, listening:
 * - a room with a PIN asks for it ("please enter the conference PIN"); the right PIN (RFC 4733,
 *   then #) lets the caller in ("you are the first participant"); a wrong one is refused three
 *   times ("that PIN is incorrect"), then goodbye and the PBX hangs up;
 * - the limits are settings: with 2 participants per room, a third caller gets 486 (room full);
 *   with 1 room in use at once, a caller to another room gets 486 (no room free);
 * - the receptionist's conference option takes a caller into a room (the room asks its PIN).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PromptId } from '../../services/media/prompts/catalog.js';
import { loadPromptSequence } from '../../services/media/prompts/prompts.js';
import type { DtmfDigit } from '../../services/media/dtmf/digits.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { findInAudio, sleep } from '../media/harness.js';
import { startOfficePbx, type OfficePbx } from './office-pbx.js';

let pbx: OfficePbx;
const phones: SipPhone[] = [];

before(async () => {
  pbx = await startOfficePbx(['501', '502', '503'].map((number) => ({ number })));
  for (const n of ['501', '502', '503']) phones.push(await pbx.phone(n));
  pbx.store.routing.conferenceRooms.setPin('8001', '2468');
});
after(async () => {
  await pbx.close();
});

const phone = (i: number): SipPhone => phones[i] as SipPhone;

function heard(call: PhoneCall, from: number, ids: PromptId[]): number {
  return findInAudio(call.media.pcmBetween(from, performance.now()), loadPromptSequence(ids, 'en')).correlation;
}

async function until(call: PhoneCall, from: number, ids: PromptId[], withinMs = 6000): Promise<number> {
  const deadline = performance.now() + withinMs;
  let best = 0;
  while (performance.now() < deadline) {
    await sleep(400);
    best = heard(call, from, ids);
    if (best > 0.7) break;
  }
  return best;
}

async function keys(call: PhoneCall, digits: string): Promise<void> {
  for (const d of digits) {
    assert.ok(call.media.sendRfc4733(d as DtmfDigit, 100));
    await sleep(250);
  }
}

test('room with a PIN: asked by prompt, the right PIN enters, a wrong one three times is goodbye', async () => {
  const t0 = performance.now();
  const call = await phone(0).call('8001');
  const asked = await until(call, t0, ['conf.enter_pin']);
  console.log(`"enter the conference PIN": ${asked.toFixed(3)}`);
  assert.ok(asked > 0.7, `the PIN is asked (${asked.toFixed(3)})`);
  assert.deepEqual(pbx.applications.conference.snapshot(), [], 'not in the room before the PIN');
  const t1 = performance.now();
  await keys(call, '2468#');
  const first = await until(call, t1, ['conf.first_participant']);
  console.log(`right PIN → "first participant": ${first.toFixed(3)}`);
  assert.ok(first > 0.7, `the right PIN enters the room (${first.toFixed(3)})`);
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [['8001', 1]]);

  // Another caller gets it wrong three times (a wrong PIN, a wrong PIN, a wrong PIN).
  const t2 = performance.now();
  const intruder = await phone(1).call('8001');
  assert.ok((await until(intruder, t2, ['conf.enter_pin'])) > 0.7);
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await keys(intruder, '1111#');
    const refused = await until(intruder, t, ['vm.pin_incorrect']);
    assert.ok(refused > 0.7, `wrong PIN ${i + 1} refused (${refused.toFixed(3)})`);
  }
  await intruder.ended;
  const bye = heard(intruder, t2, ['vm.pin_incorrect', 'common.goodbye']);
  console.log(`third wrong PIN → "incorrect. goodbye" ${bye.toFixed(3)}, then hung up`);
  assert.ok(bye > 0.7);
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [['8001', 1]], 'the intruder never entered');
  await phone(0).hangUp(call);
  await sleep(100);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('limits are settings: participants per room, rooms in use at once (486 beyond)', async () => {
  pbx.store.routing.conferenceRooms.setLimits({ maxRooms: 1, maxParticipants: 2 });
  const a = await phone(0).call('8002');
  const b = await phone(1).call('8002');
  await sleep(200); // the member enters at the ACK
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [['8002', 2]]);
  // A third participant: room full. A caller to another room: no room free.
  const decisionFull = pbx.applications.resolve('8002', { extension: '503', displayName: '' });
  assert.deepEqual(decisionFull && decisionFull.kind === 'reject' && [decisionFull.status, decisionFull.reason], [486, 'Conference Full']);
  await assert.rejects(phone(2).call('8002'), /not answered/);
  const decisionRooms = pbx.applications.resolve('8003', { extension: '503', displayName: '' });
  assert.deepEqual(decisionRooms && decisionRooms.kind === 'reject' && [decisionRooms.status, decisionRooms.reason], [486, 'No Conference Room Free']);
  assert.equal(pbx.applications.conference.snapshot().length, 1);
  // Raised at once (a setting, read at each call).
  pbx.store.routing.conferenceRooms.setLimits({ maxRooms: 10, maxParticipants: 10 });
  const c = await phone(2).call('8002');
  await sleep(200);
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [['8002', 3]]);
  for (const [i, call] of [a, b, c].entries()) await phone(i).hangUp(call);
  await sleep(100);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('the receptionist sends a caller into a PIN room', async () => {
  pbx.store.routing.receptionists.put({
    name: 'rooms',
    extension: '710',
    timezone: 'UTC',
    language: 'en',
    hours: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, opens: '00:00', closes: '24:00' })),
    holidays: [],
    menus: { business: { options: [{ digit: '3', target: 'conference:8001' }], greeting: null }, 'after-hours': { options: [], greeting: null } },
    operator: null,
    timeoutSeconds: 5,
    maxAttempts: 2,
  });
  const t0 = performance.now();
  const call = await phone(2).call('710');
  assert.ok((await until(call, t0, ['ivr.for', 'ivr.conference'])) > 0.6, 'the menu offers the conference room');
  const t1 = performance.now();
  await keys(call, '3');
  const asked = await until(call, t1, ['conf.enter_pin']);
  console.log(`receptionist key 3 → room 8001 asks its PIN: ${asked.toFixed(3)}`);
  assert.ok(asked > 0.7, 'the room asks its PIN');
  const t2 = performance.now();
  await keys(call, '2468#');
  const first = await until(call, t2, ['conf.first_participant']);
  console.log(`receptionist → room 8001 → "first participant": ${first.toFixed(3)}`);
  assert.ok(first > 0.7);
  assert.deepEqual(pbx.applications.conference.snapshot().map((r) => [r.room, r.members.length]), [['8001', 1]]);
  await phone(2).hangUp(call);
  await sleep(100);
  assert.deepEqual(pbx.applications.conference.snapshot(), []);
  assert.equal(pbx.engine.sessions.size, 0);
});
