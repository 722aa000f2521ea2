/**
 * Hold and transfer on anchored calls, with sip.js phones over real RTP, judged by listening:
 * - hold: the held party hears its music-on-hold class (an uploaded 44.1 kHz stereo WAV, here a
 *   700 Hz tune), the holder's voice is gone; resume brings both voices back; the held phone sees
 *   one clean source change each way (new SSRC, first packet with the marker bit);
 * - blind transfer (REFER, NOTIFY 100 then 200): the transferee then hears the target's voice;
 * - a transfer to a busy target: NOTIFY 486, the transferee hears the hold music again, and the
 *   transferor gets the call back (resume: voices both ways);
 * - attended transfer (REFER with Replaces): the transferee and the target hear each other, the
 *   transferor's two calls end;
 * - INVITE with Replaces: a third phone takes a phone's place in its call.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SessionState, type Invitation } from 'sip.js/lib/api/index.js';
import { Inviter, UserAgent } from 'sip.js/lib/api/index.js';
import { importMohFile } from '../../services/pbx/features/in-call/moh-files.js';
import { writeWav, synthesize } from '../support/audio-tools.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { describeLevels, levels, sleep } from '../media/harness.js';
import { secretOf, startOfficePbx, type OfficePbx } from '../routing/office-pbx.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { scenarioPath } from '../support/sipp.js';

const TONE = { '201': 500, '202': 1800, '203': 2500, '205': 1100 } as const;
const MUSIC = 700;
const ALL = [TONE['201'], TONE['202'], TONE['203'], TONE['205'], MUSIC] as const;
type Heard = Record<(typeof ALL)[number], number>;

let pbx: OfficePbx;
const phones: Record<string, SipPhone> = {};

before(async () => {
  pbx = await startOfficePbx(['201', '202', '203', '204', '205', '206'].map((number) => ({ number })));
  for (const n of ['201', '202', '203', '204', '205']) phones[n] = await pbx.phone(n);
  // 204 is always busy.
  (phones['204'] as SipPhone).ua.delegate = { onInvite: (invitation) => void invitation.reject({ statusCode: 486 }).catch(() => undefined) };
  // A music class uploaded as a 44.1 kHz stereo WAV (converted at upload), chosen by 202.
  const upload = path.join(pbx.dir, 'upload-tune.wav');
  const mono = synthesize([[3000, [MUSIC], 7000]], 44100);
  writeWav(upload, mono, 44100);
  const stored = await importMohFile(pbx.dir, 'tune', upload);
  pbx.store.moh.put({ name: 'tune', file: stored.file, sourceName: 'upload-tune.wav', seconds: stored.seconds });
  pbx.store.moh.choose('extension:202', 'tune');
});
after(async () => {
  await pbx.close();
});

/** What `call`'s phone heard over `ms` from now, as levels of every test frequency. */
async function hears(call: PhoneCall, ms = 700): Promise<Heard> {
  await sleep(250);
  const from = performance.now();
  await sleep(ms);
  const pcm = call.media.pcmBetween(from, performance.now());
  const l = levels(pcm, ALL);
  return Object.fromEntries(ALL.map((f, i) => [f, l[i] as number])) as Heard;
}

function show(label: string, heard: Heard): string {
  return `${label}: ${describeLevels(ALL, ALL.map((f) => heard[f]))}`;
}

/** `caller` calls `callee`; each phone sends its own tone. */
async function connect(caller: string, callee: string): Promise<{ a: PhoneCall; b: PhoneCall }> {
  const incoming = (phones[callee] as SipPhone).nextIncoming();
  const a = await (phones[caller] as SipPhone).call(callee);
  const b = await incoming;
  await b.established;
  a.media.setSignal({ kind: 'tones', freqs: [TONE[caller as keyof typeof TONE]] });
  b.media.setSignal({ kind: 'tones', freqs: [TONE[callee as keyof typeof TONE]] });
  // A person talks a moment before pressing hold or transfer.
  await sleep(400);
  return { a, b };
}

async function noCallsLeft(): Promise<void> {
  for (let i = 0; i < 50 && (pbx.sip.calls().length > 0 || pbx.engine.sessions.size > 0); i++) await sleep(100);
  assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  assert.equal(pbx.engine.sessions.size, 0, 'media released');
}

test('hold: the held party hears the holder\'s music class; resume brings both voices back with one clean source change', async () => {
  const { a, b } = await connect('201', '202');
  const talking = await hears(a);
  assert.ok(talking[TONE['202']] > -25, show('before hold, 201 hears 202', talking));

  const answer = await (phones['202'] as SipPhone).reinvite(b, 'sendonly');
  assert.match(answer, /a=recvonly/, 'the PBX answers the hold itself (recvonly)');
  const t0 = performance.now();
  const held = await hears(a, 1000);
  console.log(show('201 on hold', held));
  assert.ok(held[MUSIC] > -30, show('201 hears the uploaded music', held));
  assert.ok(held[TONE['202']] < -45, show('201 no longer hears 202', held));
  const toHolder = b.media.received.filter((p) => p.at > t0 + 200).length;
  assert.ok(toHolder < 5, `nothing is sent to the holding phone (sendonly): ${toHolder} packets`);

  await (phones['202'] as SipPhone).reinvite(b, 'sendrecv');
  const t1 = performance.now();
  const back = await hears(a);
  const backB = await hears(b);
  console.log(show('201 after resume', back), '|', show('202 after resume', backB));
  assert.ok(back[TONE['202']] > -25 && back[MUSIC] < -45, show('201 hears 202 again, no music', back));
  assert.ok(backB[TONE['201']] > -25, show('202 hears 201 again', backB));

  // 201's view of the sources: 202's stream, our music stream (marker on its first packet), 202's again.
  const sources: { ssrc: number; marker: boolean }[] = [];
  for (const p of a.media.received) if (sources.at(-1)?.ssrc !== p.ssrc) sources.push({ ssrc: p.ssrc, marker: p.marker });
  console.log(`201 saw ${sources.length} sources in turn: ${sources.map((s) => `${s.ssrc.toString(16)}${s.marker ? '(M)' : ''}`).join(' → ')}`);
  assert.equal(sources.length, 3, 'one change to the music, one back');
  assert.equal(sources[0]?.ssrc, sources[2]?.ssrc, 'the far phone\'s own stream comes back');
  assert.equal(sources[1]?.marker, true, 'the music starts with the marker bit');
  void t1;
  await (phones['201'] as SipPhone).hangUp(a);
  await b.ended;
  await noCallsLeft();
});

test('hold by UPDATE (RFC 3311, a SIPp phone): the caller hears the music while held, not after the resume', async () => {
  pbx.store.moh.choose('extension:206', 'tune');
  const sipp = await startRegisteredUas({
    target: `127.0.0.1:${pbx.sip.ports().udp ?? 0}`,
    user: '206',
    password: secretOf('206'),
    scenario: scenarioPath('uas-answer-update-hold-resume-then-bye'),
    timeoutSec: 30,
    workDir: pbx.dir,
  });
  const a = await (phones['201'] as SipPhone).call('206');
  const holding = (): boolean => pbx.inCall.snapshot().some((c) => c.hold.callee === 'holding');
  for (let i = 0; i < 60 && !holding(); i++) await sleep(50);
  assert.ok(holding(), 'the UPDATE put the call on hold');
  const held = await hears(a, 1000);
  console.log(show('201 held by UPDATE', held));
  assert.ok(held[MUSIC] > -30, show('201 hears 206\'s music', held));
  for (let i = 0; i < 80 && holding(); i++) await sleep(50);
  assert.ok(!holding(), 'the second UPDATE resumed the call');
  const resumed = await hears(a, 600);
  assert.ok(resumed[MUSIC] < -45, show('no music after the resume', resumed));
  await a.ended;
  const done = await sipp.waitForCalls(1, 10_000);
  const progress = sipp.progress();
  const result = await sipp.stop();
  assert.ok(done && progress.successful === 1, `SIPp phone: recvonly then sendrecv answers checked (${result.errors || result.screen})`);
  await noCallsLeft();
});

test('blind transfer: NOTIFY 100 then 200, and the transferee then talks with the target', async () => {
  const { a, b } = await connect('201', '202');
  const targetCall = (phones['203'] as SipPhone).nextIncoming();
  const frags = await (phones['202'] as SipPhone).refer(b, '203');
  console.log('NOTIFY bodies to 202:', frags);
  assert.match(frags[0] ?? '', /^SIP\/2\.0 100 Trying/);
  assert.match(frags.at(-1) ?? '', /^SIP\/2\.0 200 OK/);
  const c = await targetCall;
  c.media.setSignal({ kind: 'tones', freqs: [TONE['203']] });
  await b.ended; // the PBX hangs up the transferor who did not
  const heardA = await hears(a);
  const heardC = await hears(c);
  console.log(show('201 after the transfer', heardA), '|', show('203', heardC));
  assert.ok(heardA[TONE['203']] > -25 && heardA[TONE['202']] < -45, show('201 hears 203 and not 202', heardA));
  assert.ok(heardC[TONE['201']] > -25, show('203 hears 201', heardC));
  assert.equal(pbx.sip.calls().length, 1, 'one call left: 201 with 203');
  await (phones['201'] as SipPhone).hangUp(a);
  await c.ended;
  await noCallsLeft();
});

test('blind transfer by a SIPp phone: 202, NOTIFY 100 / 200 (sipfrag), BYE; the transferee then talks with the target', async () => {
  const sipp = await startRegisteredUas({
    target: `127.0.0.1:${pbx.sip.ports().udp ?? 0}`,
    user: '206',
    password: secretOf('206'),
    scenario: scenarioPath('uas-answer-blind-transfer'),
    timeoutSec: 30,
    workDir: pbx.dir,
    extraArgs: ['-key', 'referto', '203'],
  });
  const targetCall = (phones['203'] as SipPhone).nextIncoming();
  const a = await (phones['201'] as SipPhone).call('206');
  a.media.setSignal({ kind: 'tones', freqs: [TONE['201']] });
  const c = await Promise.race([targetCall, sleep(8000).then(async () => {
    const r = await sipp.stop();
    throw new Error(`203 never rang: ${r.errors || r.screen}`);
  })]);
  c.media.setSignal({ kind: 'tones', freqs: [TONE['203']] });
  const done = await sipp.waitForCalls(1, 10_000);
  const progress = sipp.progress();
  const result = await sipp.stop();
  assert.ok(done && progress.successful === 1, `SIPp transferor: 202, both NOTIFYs and the BYE (${result.errors || result.screen})`);
  const heardA = await hears(a);
  const heardC = await hears(c);
  console.log(show('201 after the SIPp phone\'s transfer', heardA), '|', show('203', heardC));
  assert.ok(heardA[TONE['203']] > -25, show('201 hears 203', heardA));
  assert.ok(heardC[TONE['201']] > -25, show('203 hears 201', heardC));
  await (phones['201'] as SipPhone).hangUp(a);
  await c.ended;
  await noCallsLeft();
});

test('transfer to a busy target: NOTIFY 486, the transferee hears the hold music again, the transferor resumes', async () => {
  const { a, b } = await connect('201', '202');
  await (phones['202'] as SipPhone).reinvite(b, 'sendonly');
  const frags = await (phones['202'] as SipPhone).refer(b, '204');
  console.log('NOTIFY bodies to 202:', frags);
  assert.match(frags.at(-1) ?? '', /^SIP\/2\.0 486 Busy Here/);
  const heldAgain = await hears(a);
  assert.ok(heldAgain[MUSIC] > -30, show('201 is back on hold music', heldAgain));
  await (phones['202'] as SipPhone).reinvite(b, 'sendrecv');
  const back = await hears(a);
  const backB = await hears(b);
  console.log(show('201 after the recall', back), '|', show('202', backB));
  assert.ok(back[TONE['202']] > -25, show('201 talks with 202 again', back));
  assert.ok(backB[TONE['201']] > -25, show('202 hears 201 again', backB));
  await (phones['201'] as SipPhone).hangUp(a);
  await b.ended;
  await noCallsLeft();
});

test('transferor hangs up while the target rings; no answer within the recall time: his phone rings back and he talks with the transferee', async () => {
  pbx.store.moh.setTransfer({ recallSeconds: 5 });
  const p205 = phones['205'] as SipPhone;
  const saved = p205.ua.delegate;
  const ringing: Invitation[] = [];
  p205.ua.delegate = { onInvite: (invitation) => void ringing.push(invitation) };
  const { a, b } = await connect('201', '202');
  await (phones['202'] as SipPhone).reinvite(b, 'sendonly');
  // 202 hangs up right after the REFER is accepted (as many phones do); 205 rings and never answers.
  const recall = (phones['202'] as SipPhone).nextIncoming();
  const referred = (phones['202'] as SipPhone).refer(b, '205', 2000).catch(() => []);
  await sleep(300);
  assert.equal(ringing.length, 1, 'the target rings');
  const ringback = await hears(a, 1500);
  console.log(show('201 while 205 rings', ringback));
  assert.ok(Math.max(...levels(a.media.pcmBetween(performance.now() - 1500, performance.now()), [440, 480])) > -40, '201 hears ringback (440+480 Hz)');
  await (phones['202'] as SipPhone).hangUp(b);
  await referred;
  const r = await recall;
  await r.established;
  r.media.setSignal({ kind: 'tones', freqs: [TONE['202']] });
  const heardA = await hears(a);
  const heardR = await hears(r);
  console.log(show('201 after the recall', heardA), '|', show('202 (recalled)', heardR));
  assert.ok(heardA[TONE['202']] > -25, show('201 hears 202 after the recall', heardA));
  assert.ok(heardR[TONE['201']] > -25, show('202 hears 201', heardR));
  await (phones['201'] as SipPhone).hangUp(a);
  await r.ended;
  await noCallsLeft();
  p205.ua.delegate = saved;
  pbx.store.moh.setTransfer({ recallSeconds: 20 });
  void ringback;
});

test('transfer music on: the transferee hears the transferor\'s music class instead of ringback; no answer in the recall time: NOTIFY 480', async () => {
  pbx.store.moh.setTransfer({ recallSeconds: 5, music: true });
  const p205 = phones['205'] as SipPhone;
  const saved = p205.ua.delegate;
  p205.ua.delegate = { onInvite: (invitation) => void invitation.progress().catch(() => undefined) };
  const { a, b } = await connect('201', '202');
  const referred = (phones['202'] as SipPhone).refer(b, '205', 10_000);
  await sleep(300);
  const during = await hears(a, 1000);
  const ringback = Math.max(...levels(a.media.pcmBetween(performance.now() - 1000, performance.now()), [440, 480]));
  console.log(show('201 while 205 rings (transfer music on)', during), `ringback ${ringback.toFixed(1)} dBm0`);
  assert.ok(during[MUSIC] > -30 && ringback < -45, show('201 hears 202\'s music class, no ringback', during));
  const frags = await referred;
  assert.match(frags.at(-1) ?? '', /^SIP\/2\.0 480 /, `NOTIFY after the recall time: ${frags.join(' | ')}`);
  const back = await hears(a);
  assert.ok(back[TONE['202']] > -25, show('201 talks with 202 again (202 never held)', back));
  p205.ua.delegate = saved;
  pbx.store.moh.setTransfer({ recallSeconds: 20, music: false });
  await (phones['201'] as SipPhone).hangUp(a);
  await b.ended;
  await noCallsLeft();
});

test('attended transfer (REFER with Replaces): transferee and target talk, the transferor\'s calls end', async () => {
  const { a, b } = await connect('201', '202');
  await (phones['202'] as SipPhone).reinvite(b, 'sendonly');
  const { a: consult, b: c } = await connect('202', '203');
  const talk = await hears(c);
  assert.ok(talk[TONE['202']] > -25, show('203 talks with 202 (consultation)', talk));
  const frags = await (phones['202'] as SipPhone).refer(b, consult);
  console.log('NOTIFY bodies to 202:', frags);
  assert.match(frags.at(-1) ?? '', /^SIP\/2\.0 200 OK/);
  await b.ended;
  await consult.ended;
  const heardA = await hears(a);
  const heardC = await hears(c);
  console.log(show('201 after the attended transfer', heardA), '|', show('203', heardC));
  assert.ok(heardA[TONE['203']] > -25 && heardA[MUSIC] < -45, show('201 hears 203, no music', heardA));
  assert.ok(heardC[TONE['201']] > -25 && heardC[TONE['202']] < -45, show('203 hears 201, not 202', heardC));
  assert.equal(pbx.sip.calls().length, 1, 'one call left');
  await (phones['203'] as SipPhone).hangUp(c);
  await a.ended;
  await noCallsLeft();
});

test('INVITE with Replaces: a third phone takes 201\'s place in its call with 202', async () => {
  const { a, b } = await connect('201', '202');
  const dialog = a.session.dialog;
  assert.ok(dialog !== undefined);
  const replaces = `${dialog.callId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`;
  const p205 = phones['205'] as SipPhone;
  const { address, port } = { address: '127.0.0.1', port: pbx.sip.ports().udp ?? 0 };
  const inviter = new Inviter(p205.ua, UserAgent.makeURI(`sip:202@${address}:${port}`) as NonNullable<ReturnType<typeof UserAgent.makeURI>>, {
    extraHeaders: [`Replaces: ${replaces}`],
  });
  const established = new Promise<void>((resolve) => inviter.stateChange.addListener((s) => s === SessionState.Established && resolve()));
  await inviter.invite();
  await established;
  const media = (inviter.sessionDescriptionHandler as unknown as { media: PhoneCall['media'] }).media;
  media.setSignal({ kind: 'tones', freqs: [TONE['205']] });
  await a.ended; // 201 gets BYE
  await sleep(250);
  const from = performance.now();
  await sleep(800);
  const heard205 = levels(media.pcmBetween(from, performance.now()), [...ALL]);
  const heardB = await hears(b);
  console.log(`205 hears ${describeLevels(ALL, heard205)} | ${show('202', heardB)}`);
  assert.ok((heard205[ALL.indexOf(TONE['202'])] as number) > -25, '205 hears 202');
  assert.ok(heardB[TONE['205']] > -25 && heardB[TONE['201']] < -45, show('202 hears 205, not 201', heardB));
  await inviter.bye();
  await b.ended;
  await noCallsLeft();
  void fs;
});
