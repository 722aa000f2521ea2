/**
 * The virtual receptionist, called by its number from sip.js phones over real RTP, listening:
 * - the business menu's prompt is heard (correlation with the generated prompt), then a key sent as
 *   RFC 4733 (first test) or in-band (second) takes the caller to a ring group whose member answers,
 *   and both hear each other;
 * - the schedule picks the after-hours menu on a holiday and in the evening, the business menu in
 *   the opening hours (the receptionist's clock is injected, nothing waits for real time);
 * - a wrong key says "invalid option" and a silence says "we did not receive your selection",
 *   each with the menu again, then the operator takes the call; without an operator the caller
 *   hears goodbye and the PBX hangs up;
 * - an uploaded greeting (44.1 kHz stereo WAV) is what the caller hears instead of the prompts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadPromptSequence } from '../../services/media/prompts/prompts.js';
import type { PromptId } from '../../services/media/prompts/catalog.js';
import { encodeWav } from '../../services/media/wav/wav.js';
import { sines } from '../../services/media/dsp/synth.js';
import { importGreeting } from '../../services/pbx/receptionist/greetings.js';
import type { ReceptionistInput } from '../../services/store/routing-schema.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { describeLevels, findInAudio, levels, sleep } from '../media/harness.js';
import { startOfficePbx, type OfficePbx } from './office-pbx.js';

const CALLER_TONE = 500;
const MEMBER_TONE = 1800;
/** Wednesday 2 December 2026, 10:00 in Stockholm (UTC+1): open. */
const OPEN = new Date('2026-12-02T09:00:00Z');
/** Christmas Eve 2026 (a Thursday), 10:00 in Stockholm: a holiday. */
const HOLIDAY = new Date('2026-12-24T09:00:00Z');
/** Wednesday 2 December 2026, 18:30 in Stockholm: closed. */
const EVENING = new Date('2026-12-02T17:30:00Z');

let pbx: OfficePbx;
let caller: SipPhone;
let member: SipPhone;
let operator: SipPhone;
let silent: SipPhone;

function receptionist(name: string, extension: string, patch: Partial<ReceptionistInput> = {}): ReceptionistInput {
  return {
    name,
    extension,
    timezone: 'Europe/Stockholm',
    language: 'en',
    hours: [1, 2, 3, 4, 5].map((day) => ({ day, opens: '09:00', closes: '17:00' })),
    holidays: ['2026-12-24'],
    menus: {
      business: { options: [{ digit: '1', target: 'ring-group:sales', label: 'sales' }], greeting: null },
      'after-hours': { options: [{ digit: '1', target: 'extension:403' }], greeting: null },
    },
    operator: null,
    timeoutSeconds: 2,
    maxAttempts: 2,
    ...patch,
  };
}

before(async () => {
  pbx = await startOfficePbx(['401', '402', '403', '404', '405'].map((number) => ({ number })));
  caller = await pbx.phone('401');
  member = await pbx.phone('402');
  operator = await pbx.phone('404');
  // 403 never registers; 405 rings and never answers.
  silent = await pbx.phone('405');
  silent.ua.delegate = { onInvite: (invitation) => void invitation.progress().catch(() => undefined) };
  pbx.store.routing.ringGroups.put({ name: 'sales', extension: null, strategy: 'sequential', ringSeconds: 20, members: [{ extension: '403' }, { extension: '402' }], noAnswer: null });
  pbx.store.routing.receptionists.put(receptionist('main', '700'));
  pbx.store.routing.receptionists.put(receptionist('front', '701', { operator: 'extension:404' }));
  pbx.store.routing.receptionists.put(receptionist('strict', '702', { maxAttempts: 1 }));
  pbx.store.routing.receptionists.put(receptionist('mx', '704', { language: 'es', timezone: 'America/Mexico_City' }));
  pbx.store.routing.receptionists.put(
    receptionist('desk', '703', {
      menus: {
        business: {
          options: [
            { digit: '9', target: 'dial-by-extension' },
            { digit: '5', target: 'extension:405' },
          ],
          greeting: null,
        },
        'after-hours': { options: [], greeting: null },
      },
      timeoutSeconds: 4,
      maxAttempts: 3,
    }),
  );
});
after(async () => {
  await pbx.close();
});

/** How well `ids` (en) is heard in what the call received between `from` and now. */
function heard(call: PhoneCall, from: number, ids: PromptId[]): number {
  return findInAudio(call.media.pcmBetween(from, performance.now()), loadPromptSequence(ids, 'en')).correlation;
}

/**
 * Waits until `ids` has been heard since `from` (or `withinMs` more after its own length). Each
 * look searches only the last few seconds: the PBX runs in this process, and an FFT over a whole
 * call would stall its event loop (and its overload guard would shed the next INVITE).
 */
async function waitHeard(call: PhoneCall, from: number, ids: PromptId[], withinMs: number): Promise<number> {
  const reference = loadPromptSequence(ids, 'en');
  const refMs = reference.length / 8;
  await sleep(refMs + 300);
  const deadline = performance.now() + withinMs;
  let best = 0;
  for (;;) {
    const now = performance.now();
    const pcm = call.media.pcmBetween(Math.max(from, now - refMs - 2500), now);
    best = Math.max(best, findInAudio(pcm, reference).correlation);
    if (best > 0.7 || now >= deadline) return best;
    await sleep(1000);
  }
}

async function talk(call: PhoneCall, answered: PhoneCall, label: string): Promise<void> {
  call.media.setSignal({ kind: 'tones', freqs: [CALLER_TONE] });
  answered.media.setSignal({ kind: 'tones', freqs: [MEMBER_TONE] });
  await sleep(400);
  const from = performance.now();
  await sleep(800);
  const to = performance.now();
  const callerHears = levels(call.media.pcmBetween(from, to), [CALLER_TONE, MEMBER_TONE]);
  const memberHears = levels(answered.media.pcmBetween(from, to), [CALLER_TONE, MEMBER_TONE]);
  console.log(`${label}: caller hears ${describeLevels([CALLER_TONE, MEMBER_TONE], callerHears)}; answerer hears ${describeLevels([CALLER_TONE, MEMBER_TONE], memberHears)}`);
  assert.ok((callerHears[1] as number) > -25, `${label}: the caller hears who answered`);
  assert.ok((memberHears[0] as number) > -25, `${label}: who answered hears the caller`);
  await caller.hangUp(call);
  await answered.ended;
  await sleep(150);
  assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  assert.equal(pbx.engine.sessions.size, 0, 'media released');
}

for (const via of ['rfc4733', 'inband'] as const) {
  test(`business menu heard, key 1 sent ${via === 'rfc4733' ? 'as RFC 4733' : 'in-band'} → ring group sales → 402 answers, audio both ways`, async () => {
    pbx.clock.now = OPEN;
    const t0 = performance.now();
    const call = await caller.call('700');
    const welcome = await waitHeard(call, t0, ['ivr.thank_you_for_calling'], 3000);
    console.log(`business greeting "thank you for calling": correlation ${welcome.toFixed(3)}`);
    assert.ok(welcome > 0.7, `the caller hears the business menu (${welcome.toFixed(3)})`);
    const forSales = await waitHeard(call, t0, ['ivr.for', 'ivr.sales'], 4000);
    assert.ok(forSales > 0.6, `"for sales" is said (${forSales.toFixed(3)})`);
    const incoming = member.nextIncoming();
    if (via === 'rfc4733') assert.ok(call.media.sendRfc4733('1', 120), 'telephone-event negotiated');
    else call.media.sendInbandDigit('1', 160);
    const answered = await incoming;
    await answered.established;
    await talk(call, answered, `receptionist → sales (${via})`);
    // One record for the receptionist's part (answered, then transferred), one for the bridged call.
    const records = pbx.store.cdr.findByCallId(call.session.dialog?.callId ?? "");
    assert.deepEqual(
      records.map((r) => [r.callee, r.disposition, r.reason]),
      [
        ['receptionist-main', 'answered', 'transferred'],
        ['sales', 'answered', 'caller hung up'],
      ],
      JSON.stringify(records),
    );
    assert.ok(records.every((r) => r.endedAt !== null), 'both records closed');
  });
}

test('schedule: after-hours menu on a holiday and in the evening, business menu in opening hours', async () => {
  for (const [at, expected, other] of [
    [HOLIDAY, 'ivr.closed', 'ivr.thank_you_for_calling'],
    [EVENING, 'ivr.closed', 'ivr.thank_you_for_calling'],
    [OPEN, 'ivr.thank_you_for_calling', 'ivr.closed'],
  ] as const) {
    pbx.clock.now = at;
    const t0 = performance.now();
    const call = await caller.call('700');
    const yes = await waitHeard(call, t0, [expected], 2000);
    const no = heard(call, t0, [other]);
    console.log(`${at.toISOString()}: "${expected}" ${yes.toFixed(3)}, "${other}" ${no.toFixed(3)}`);
    assert.ok(yes > 0.7, `${at.toISOString()}: ${expected} heard (${yes.toFixed(3)})`);
    assert.ok(no < yes - 0.2, `${at.toISOString()}: not ${other} (${no.toFixed(3)})`);
    await caller.hangUp(call);
  }
  await sleep(100);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('invalid key (sent as SIP INFO), then silence: each is said and the menu repeats; then the operator takes the call', async () => {
  pbx.clock.now = OPEN;
  const t0 = performance.now();
  const call = await caller.call('701');
  assert.ok((await waitHeard(call, t0, ['ivr.thank_you_for_calling'], 3000)) > 0.7);
  // This key comes as SIP INFO (application/dtmf-relay), the third way phones send keys.
  const t1 = performance.now();
  await caller.sendInfo(call, '7');
  const invalid = await waitHeard(call, t1, ['common.invalid_option'], 3000);
  console.log(`"invalid option": ${invalid.toFixed(3)}`);
  assert.ok(invalid > 0.7, `a wrong key is said to be invalid (${invalid.toFixed(3)})`);
  const again = await waitHeard(call, t1, ['ivr.thank_you_for_calling'], 4000);
  assert.ok(again > 0.7, `the menu is played again (${again.toFixed(3)})`);
  // Silence: after the menu and its 2 s timeout, the caller is told, then goes to the operator.
  const incoming = operator.nextIncoming();
  const t2 = performance.now();
  const answered = await incoming;
  await answered.established;
  const waited = performance.now() - t2;
  const noInput = heard(call, t2, ['common.no_input']);
  console.log(`"we did not receive your selection": ${noInput.toFixed(3)}; operator rang after ${Math.round(waited)} ms`);
  assert.ok(noInput > 0.7, `the timeout is said (${noInput.toFixed(3)})`);
  await talk(call, answered, 'to the operator after 2 attempts');
});

test('no operator: after the last attempt the caller hears goodbye and the PBX hangs up (never silence)', async () => {
  pbx.clock.now = OPEN;
  const t0 = performance.now();
  const call = await caller.call('702');
  await call.ended;
  const took = performance.now() - t0;
  const goodbye = heard(call, t0, ['common.no_input', 'common.goodbye']);
  console.log(`hung up after ${Math.round(took)} ms; "no input, goodbye": ${goodbye.toFixed(3)}`);
  assert.ok(goodbye > 0.7, `"we did not receive your selection. Goodbye." before the hang-up (${goodbye.toFixed(3)})`);
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('an uploaded greeting (44.1 kHz stereo WAV) replaces the default prompts', async () => {
  // 2 s of 700 Hz (left) and 700 Hz (right) at 44.1 kHz: converted to 8 kHz mono at upload.
  const tone = sines([{ freq: 700, dbm0: -10 }], 44100 * 2, 0, 44100);
  const stereo = new Int16Array(tone.length * 2);
  tone.forEach((v, i) => {
    stereo[2 * i] = v;
    stereo[2 * i + 1] = v;
  });
  const wav = stereoWav(stereo, 44100);
  const { file, seconds } = await importGreeting(pbx.dir, 'main', 'business', wav);
  assert.ok(Math.abs(seconds - 2) < 0.01, `2 s kept (${seconds})`);
  const current = pbx.store.routing.receptionists.get('main');
  assert.ok(current);
  pbx.store.routing.receptionists.put({ ...current, menus: { ...current.menus, business: { ...current.menus.business, greeting: file } } }, { replace: true });
  pbx.clock.now = OPEN;
  const t0 = performance.now();
  const call = await caller.call('700');
  await sleep(1500);
  const level = levels(call.media.pcmBetween(t0, performance.now()), [700])[0] as number;
  const prompt = heard(call, t0, ['ivr.thank_you_for_calling']);
  console.log(`greeting: 700 Hz at ${level.toFixed(1)} dBm0; default prompt ${prompt.toFixed(3)}`);
  assert.ok(level > -20, `the uploaded greeting is played (${level.toFixed(1)} dBm0)`);
  assert.ok(prompt < 0.5, 'not the default prompt');
  await caller.hangUp(call);
});

/** A 16-bit stereo PCM WAV (what a PC sound recorder writes). */
function stereoWav(interleaved: Int16Array, rate: number): Buffer {
  const mono = encodeWav(new Int16Array(0), 'pcm16', rate);
  const header = Buffer.from(mono.subarray(0, 44));
  header.writeUInt32LE(36 + interleaved.length * 2, 4);
  header.writeUInt16LE(2, 22); // channels
  header.writeUInt32LE(rate * 4, 28); // byte rate
  header.writeUInt16LE(4, 32); // block align
  header.writeUInt32LE(interleaved.length * 2, 40);
  return Buffer.concat([header, Buffer.from(interleaved.buffer, interleaved.byteOffset, interleaved.byteLength)]);
}

test('dial by extension: an unknown number is refused, a known one rings and answers; the callee hangs up first', async () => {
  pbx.clock.now = OPEN;
  const t0 = performance.now();
  const call = await caller.call('703');
  assert.ok((await waitHeard(call, t0, ['ivr.dial_by_extension_press'], 20000)) > 0.7, '"to dial an extension, press 9" is said');
  const t1 = performance.now();
  for (const d of '9') assert.ok(call.media.sendRfc4733(d as '9', 100));
  assert.ok((await waitHeard(call, t1, ['ivr.enter_extension'], 3000)) > 0.7, 'the extension is asked');
  for (const d of ['9', '9', '9', '#'] as const) {
    call.media.sendRfc4733(d, 100);
    await sleep(250);
  }
  const t2 = performance.now() - 1000;
  const invalid = await waitHeard(call, t2, ['ivr.invalid_extension'], 3000);
  console.log(`"999#": "that extension is not valid" ${invalid.toFixed(3)}`);
  assert.ok(invalid > 0.7);
  assert.ok((await waitHeard(call, t2, ['ivr.dial_by_extension_press'], 20000)) > 0.7, 'the menu again');
  call.media.sendRfc4733('9', 100);
  await sleep(2500);
  const incoming = operator.nextIncoming();
  for (const d of ['4', '0', '4', '#'] as const) {
    call.media.sendRfc4733(d, 100);
    await sleep(250);
  }
  const answered = await incoming;
  await answered.established;
  call.media.setSignal({ kind: 'tones', freqs: [CALLER_TONE] });
  answered.media.setSignal({ kind: 'tones', freqs: [MEMBER_TONE] });
  await sleep(1000);
  const from = performance.now() - 600;
  const callerHears = levels(call.media.pcmBetween(from, performance.now()), [MEMBER_TONE])[0] as number;
  const calleeHears = levels(answered.media.pcmBetween(from, performance.now()), [CALLER_TONE])[0] as number;
  console.log(`dialled 404: caller hears ${callerHears.toFixed(1)} dBm0, 404 hears ${calleeHears.toFixed(1)} dBm0`);
  assert.ok(callerHears > -25 && calleeHears > -25, 'audio both ways');
  // The callee hangs up: the caller's call ends too (BYE relayed by the B2BUA that owns it now).
  await operator.hangUp(answered);
  await call.ended;
  await sleep(150);
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0);
});

test('the caller hangs up while a transfer rings: the ringing phone stops, nothing is left', async () => {
  pbx.clock.now = OPEN;
  const t0 = performance.now();
  const call = await caller.call('703');
  assert.ok((await waitHeard(call, t0, ['ivr.dial_by_extension_press'], 20000)) > 0.7);
  const rang = new Promise<import('sip.js/lib/api/index.js').Invitation>((resolve) => {
    silent.ua.delegate = {
      onInvite: (invitation) => {
        void invitation.progress().catch(() => undefined);
        resolve(invitation);
      },
    };
  });
  call.media.sendRfc4733('5', 100);
  const invitation = await rang;
  await sleep(800);
  const ringback = levels(call.media.pcmBetween(performance.now() - 700, performance.now()), [440, 480]);
  console.log(`while 405 rings the caller hears ringback: 440 Hz ${(ringback[0] as number).toFixed(1)}, 480 Hz ${(ringback[1] as number).toFixed(1)} dBm0`);
  assert.ok((ringback[0] as number) > -35 && (ringback[1] as number) > -35, 'US ringback (440 + 480 Hz) while ringing');
  assert.equal(pbx.sip.calls().length, 2, 'the receptionist call and the ringing transfer');
  await caller.hangUp(call);
  await sleep(500);
  assert.equal(invitation.state, 'Terminated', "405's INVITE was cancelled");
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0, 'the receptionist session and the transfer leg are released');
});

test('an after-hours menu without keys: "our office is closed", goodbye, and the PBX hangs up', async () => {
  pbx.clock.now = EVENING;
  const t0 = performance.now();
  const call = await caller.call('703');
  await call.ended;
  const said = heard(call, t0, ['ivr.closed', 'common.goodbye']);
  console.log(`closed office without options: "closed. goodbye" ${said.toFixed(3)}, hung up after ${Math.round(performance.now() - t0)} ms`);
  assert.ok(said > 0.7);
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), []);
});

test("default prompts in the receptionist's language (Spanish), in its own time zone", async () => {
  // 10:00 in Mexico City (UTC-6) on a Wednesday: open.
  pbx.clock.now = new Date('2026-12-02T16:00:00Z');
  const t0 = performance.now();
  const call = await caller.call('704');
  const es = loadPromptSequence(['ivr.thank_you_for_calling'], 'es');
  const en = loadPromptSequence(['ivr.thank_you_for_calling'], 'en');
  await sleep(es.length / 8 + 800);
  const pcm = call.media.pcmBetween(t0, performance.now());
  const inSpanish = findInAudio(pcm, es).correlation;
  const inEnglish = findInAudio(pcm, en).correlation;
  console.log(`"Gracias por llamar" ${inSpanish.toFixed(3)}, English ${inEnglish.toFixed(3)}`);
  assert.ok(inSpanish > 0.7, `Spanish greeting heard (${inSpanish.toFixed(3)})`);
  assert.ok(inEnglish < inSpanish - 0.2, 'not the English one');
  await caller.hangUp(call);
});
