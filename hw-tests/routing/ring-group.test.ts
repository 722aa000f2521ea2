/**
 * Ring groups dialled by their own number from a desk phone (sip.js phones, real RTP, listening):
 * - sequential: an unregistered member is skipped at once, the next one rings and answers, and
 *   audio flows both ways through the PBX;
 * - sequential: a busy member (486) is skipped at once, a member who does not answer rings its
 *   own ring time, then the next member answers;
 * - simultaneous: every member rings at once, the first to answer gets the call, the others stop;
 * - the no-answer destination takes the call when nobody in the group answers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Invitation } from 'sip.js/lib/api/index.js';
import { SessionState } from 'sip.js/lib/api/index.js';
import type { SipPhone } from '../support/sip-phone.js';
import { loadPromptSequence } from '../../services/media/prompts/prompts.js';
import { describeLevels, findInAudio, levels, sleep } from '../media/harness.js';
import { startOfficePbx, type OfficePbx } from './office-pbx.js';

const CALLER_TONE = 500;
const MEMBER_TONE = 1800;

let pbx: OfficePbx;
let caller: SipPhone;
let answering: SipPhone;
let silent: SipPhone;
let busy: SipPhone;
/** INVITEs the phone that never answers received, and whether each ended (CANCEL) */
const rang: Invitation[] = [];

before(async () => {
  pbx = await startOfficePbx(['201', '202', '203', '204', '205'].map((number) => ({ number })));
  caller = await pbx.phone('201');
  answering = await pbx.phone('203');
  busy = await pbx.phone('204');
  silent = await pbx.phone('205');
  // 202 never registers. 204 answers busy; 205 rings and never answers.
  busy.ua.delegate = { onInvite: (invitation) => void invitation.reject({ statusCode: 486 }).catch(() => undefined) };
  silent.ua.delegate = {
    onInvite: (invitation) => {
      rang.push(invitation);
      void invitation.progress().catch(() => undefined);
    },
  };
});
after(async () => {
  await pbx.close();
});

/** Calls `number` from 201; returns how long until answered, and checks the talk path both ways. */
async function callAndTalk(number: string, label: string): Promise<number> {
  const incoming = answering.nextIncoming();
  const t0 = performance.now();
  const call = await caller.call(number);
  const answeredAfter = performance.now() - t0;
  const member = await incoming;
  await member.established;
  call.media.setSignal({ kind: 'tones', freqs: [CALLER_TONE] });
  member.media.setSignal({ kind: 'tones', freqs: [MEMBER_TONE] });
  await sleep(400);
  const from = performance.now();
  await sleep(800);
  const to = performance.now();
  const callerHears = levels(call.media.pcmBetween(from, to), [CALLER_TONE, MEMBER_TONE]);
  const memberHears = levels(member.media.pcmBetween(from, to), [CALLER_TONE, MEMBER_TONE]);
  console.log(`${label}: answered after ${Math.round(answeredAfter)} ms; caller hears ${describeLevels([CALLER_TONE, MEMBER_TONE], callerHears)}; member hears ${describeLevels([CALLER_TONE, MEMBER_TONE], memberHears)}`);
  assert.ok((callerHears[1] as number) > -25, `${label}: the caller hears the member`);
  assert.ok((memberHears[0] as number) > -25, `${label}: the member hears the caller`);
  await caller.hangUp(call);
  await member.ended;
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  assert.equal(pbx.engine.sessions.size, 0, 'media released');
  return answeredAfter;
}

test('sequential ring group: an unregistered member is skipped at once; the next answers; audio both ways', async () => {
  pbx.store.routing.ringGroups.put({ name: 'sales', extension: '600', strategy: 'sequential', ringSeconds: 20, members: [{ extension: '202' }, { extension: '203' }], noAnswer: null });
  const ms = await callAndTalk('600', 'sequential, 202 unregistered');
  assert.ok(ms < 5000, `202 (unregistered, 20 s ring time) was not waited for: answered after ${Math.round(ms)} ms`);
});

test('sequential ring group: busy member skipped at once, a silent member rings its own time, then the next', async () => {
  pbx.store.routing.ringGroups.put({
    name: 'support',
    extension: '601',
    strategy: 'sequential',
    ringSeconds: 20,
    members: [{ extension: '204' }, { extension: '205', ringSeconds: 5 }, { extension: '203' }],
    noAnswer: null,
  });
  const before = rang.length;
  const ms = await callAndTalk('601', 'sequential, 204 busy, 205 silent 5 s');
  assert.equal(rang.length, before + 1, '205 rang once');
  assert.ok(ms >= 4500, `205 rang its 5 s before 203 (answered after ${Math.round(ms)} ms)`);
  assert.ok(ms < 15_000, `204 (busy) did not cost its 20 s ring time (answered after ${Math.round(ms)} ms)`);
  assert.equal((rang.at(-1) as Invitation).state, SessionState.Terminated, "205's INVITE was cancelled");
});

test('simultaneous ring group: all members ring at once; the first to answer gets the call', async () => {
  pbx.store.routing.ringGroups.put({ name: 'all', extension: '602', strategy: 'simultaneous', ringSeconds: 20, members: [{ extension: '205' }, { extension: '203' }], noAnswer: null });
  const before = rang.length;
  const ms = await callAndTalk('602', 'simultaneous');
  assert.equal(rang.length, before + 1, '205 rang at the same time');
  assert.ok(ms < 5000, `answered at once by 203 (${Math.round(ms)} ms)`);
  assert.equal((rang.at(-1) as Invitation).state, SessionState.Terminated, "205's INVITE was cancelled when 203 answered");
});

test('no-answer destination: nobody in the group answers, the call goes to extension 203', async () => {
  pbx.store.routing.ringGroups.put({ name: 'night', extension: '603', strategy: 'simultaneous', ringSeconds: 5, members: [{ extension: '205' }, { extension: '202' }], noAnswer: 'extension:203' });
  const ms = await callAndTalk('603', 'no-answer → extension:203');
  assert.ok(ms >= 4500, `the group rang its 5 s first (${Math.round(ms)} ms)`);
});

test('no-answer destination is the virtual receptionist: it answers the caller after the ring time', async () => {
  pbx.store.routing.receptionists.put({
    name: 'backup',
    extension: null,
    timezone: 'UTC',
    language: 'en',
    hours: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, opens: '00:00', closes: '24:00' })),
    holidays: [],
    menus: { business: { options: [{ digit: '1', target: 'extension:203' }], greeting: null }, 'after-hours': { options: [], greeting: null } },
    operator: null,
    timeoutSeconds: 10,
    maxAttempts: 1,
  });
  pbx.store.routing.ringGroups.put({ name: 'late', extension: '605', strategy: 'sequential', ringSeconds: 5, members: [{ extension: '205' }], noAnswer: 'receptionist:backup' });
  const t0 = performance.now();
  const call = await caller.call('605');
  const answeredAfter = performance.now() - t0;
  await sleep(loadPromptSequence(['ivr.thank_you_for_calling'], 'en').length / 8 + 500);
  const welcome = findInAudio(call.media.pcmBetween(t0, performance.now()), loadPromptSequence(['ivr.thank_you_for_calling'], 'en')).correlation;
  console.log(`ring group 605 → no answer → receptionist: answered after ${Math.round(answeredAfter)} ms, "thank you for calling" ${welcome.toFixed(3)}`);
  assert.ok(answeredAfter >= 4500, 'the group rang first');
  assert.ok(welcome > 0.7, 'the receptionist answered and speaks');
  await caller.hangUp(call);
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('nobody registered in the group: the no-answer destination (receptionist) answers at once', async () => {
  pbx.store.routing.ringGroups.put({ name: 'ghost', extension: '606', strategy: 'sequential', ringSeconds: 20, members: [{ extension: '202' }], noAnswer: 'receptionist:backup' });
  const t0 = performance.now();
  const call = await caller.call('606');
  const answeredAfter = performance.now() - t0;
  await sleep(loadPromptSequence(['ivr.thank_you_for_calling'], 'en').length / 8 + 500);
  const welcome = findInAudio(call.media.pcmBetween(t0, performance.now()), loadPromptSequence(['ivr.thank_you_for_calling'], 'en')).correlation;
  console.log(`ring group 606 (nobody registered) → receptionist: answered after ${Math.round(answeredAfter)} ms, welcome ${welcome.toFixed(3)}`);
  assert.ok(answeredAfter < 3000, 'no ring time wasted on an unregistered member');
  assert.ok(welcome > 0.7);
  await caller.hangUp(call);
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('a group whose members are all unavailable and no no-answer destination: 480 at once', async () => {
  pbx.store.routing.ringGroups.put({ name: 'empty', extension: '604', strategy: 'sequential', ringSeconds: 20, members: [{ extension: '202' }], noAnswer: null });
  // 202 has no registration: what the registrar's location service says for it.
  const decision = pbx.office.directory.resolve('604', { extension: '201', displayName: 'Phone 201' }, { contactsOf: () => [] });
  assert.deepEqual(decision, { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' });
});

test('voicemail destinations answer 480 until voicemail exists; unknown groups 404', () => {
  const ctx = { caller: { extension: '201', displayName: 'Phone 201' }, contactsOf: () => [] };
  assert.deepEqual(pbx.office.route({ kind: 'voicemail', extension: '203' }, ctx), { kind: 'reject', status: 480, reason: 'Voicemail Not Available' });
  assert.deepEqual(pbx.office.route({ kind: 'ring-group', name: 'nope' }, ctx), { kind: 'reject', status: 404, reason: 'Not Found' });
  assert.equal(pbx.office.route({ kind: 'receptionist', name: 'backup' }, ctx).kind, 'application');
  assert.equal(pbx.office.route({ kind: 'conference', room: '8050' }, ctx).kind, 'application');
});
