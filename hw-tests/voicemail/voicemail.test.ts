/**
 * Issue 18, end to end through the real pbx process, with sip.js phones on loopback, listening:
 * A leaves a 1 kHz tone message for B (no phone registered); the audio reaches a real SMTP server
 * (aiosmtpd) byte for byte; B registers and gets NOTIFY "Messages-Waiting: yes" 1/0 (unsolicited),
 * then subscribes (RFC 6665) and gets it inside the subscription; B dials *97, enters the PIN by
 * in-band DTMF, presses 1 and hears the 1 kHz tone; again with the PIN by RFC 4733, presses 7, and
 * the next NOTIFY says "no" 0/0. Then the SMTP server refuses mail and `pbxctl status` says so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DtmfDigit } from '../../services/media/dtmf/digits.js';
import { openStore } from '../../services/store/index.js';
import type { RtpPhone } from '../support/rtp-phone.js';
import { toneShare } from '../support/rtp-phone.js';
import { withTimeout, type PhoneCall, type SipPhone } from '../support/sip-phone.js';
import { SmtpServer } from '../support/smtp-server.js';
import { createRuntimePbx, type RuntimePbx } from '../runtime/harness.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { killAllSipp, scenarioPath } from '../support/sipp.js';
import { encodeWav } from '../../services/media/wav/wav.js';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PBXCTL = path.join(REPO_ROOT, 'dist', 'bin', 'pbxctl.js');

const A = { number: '4101', secret: 'alpha-secret-4101' };
const B = { number: '4102', secret: 'bravo-secret-4102' };
const BUSY = { number: '4103', secret: 'busy-secret-4103' };
const SLOW = { number: '4104', secret: 'slow-secret-4104' };
const FULL = { number: '4105', secret: 'full-secret-4105' };
const PIN = '2468';

let pbx: RuntimePbx;
let smtp: SmtpServer;

before(async () => {
  smtp = await SmtpServer.start();
  pbx = await createRuntimePbx([A, B, BUSY, SLOW, FULL], { calls: { noAnswerSeconds: 2 }, mail: { host: '127.0.0.1', port: smtp.port, security: 'none', from: 'pbx@office.test' } });
  const store = openStore(pbx.dir);
  try {
    store.extensions.update(B.number, { voicemailPin: PIN });
    store.voicemail.setBox(B.number, { email: 'bo@office.test' });
  } finally {
    store.close();
  }
});

after(async () => {
  killAllSipp();
  await pbx?.close();
  await smtp?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the phone hears a 1 kHz tone for `ms` (checked in 100 ms windows). */
async function hearTone(media: RtpPhone, freq: number, ms: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const now = performance.now();
    let run = 0;
    for (let t = now - ms; t < now; t += 100) {
      const pcm = media.pcmBetween(t, t + 100);
      if (pcm.length >= 480 && toneShare(pcm, freq) > 0.8) run++;
    }
    if (run >= Math.floor(ms / 100) - 1) return;
    if (Date.now() > end) throw new Error(`no ${freq} Hz tone of ${ms} ms heard within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function keys(media: RtpPhone, digits: string, how: 'inband' | 'rfc4733'): Promise<void> {
  for (const d of digits) {
    if (how === 'inband') media.sendInbandDigit(d as DtmfDigit, 120);
    else assert.ok(media.sendRfc4733(d as DtmfDigit, 120), 'telephone-event negotiated');
    await sleep(300);
  }
}

function mwi(body: string): { waiting: string; counts: string } {
  return { waiting: /Messages-Waiting:\s*(\w+)/.exec(body)?.[1] ?? '', counts: /Voice-Message:\s*(\S+)/.exec(body)?.[1] ?? '' };
}

async function readMessages() {
  const store = openStore(pbx.dir);
  try {
    return store.voicemail.list(B.number);
  } finally {
    store.close();
  }
}

async function listenToBox(phone: SipPhone, how: 'inband' | 'rfc4733'): Promise<PhoneCall> {
  const call = await phone.call('*97');
  await withTimeout(call.established, 5000, '*97 answered');
  call.media.setSignal({ kind: 'silence' });
  await sleep(800);
  await keys(call.media, `${PIN}#`, how);
  // "You have 1 new message" then the menu: 1 barges in.
  await sleep(1500);
  await keys(call.media, '1', how);
  await hearTone(call.media, 1000, 1500, 15_000);
  return call;
}

test('A leaves a 1 kHz message for B (no phone): saved, emailed byte for byte, MWI, *97 with PIN in-band and RFC 4733, 7 deletes', async () => {
  const a = await pbx.phone(A);
  const call = await a.call(B.number);
  await withTimeout(call.established, 5000, 'the voicemail answers at once (B has no phone)');
  call.media.setSignal({ kind: 'silence' });
  // The greeting ("The person at extension 4 1 0 2 is not available...") then the beep (1 kHz).
  await hearTone(call.media, 1000, 200, 20_000);
  call.media.setSignal({ kind: 'tones', freqs: [1000] });
  await sleep(3000);
  await a.hangUp(call);

  // The message is whole on disk and in SQLite.
  let messages: Awaited<ReturnType<typeof readMessages>> = [];
  for (let i = 0; i < 50 && messages.length === 0; i++) {
    await sleep(100);
    messages = await readMessages();
  }
  assert.equal(messages.length, 1, 'one message in B\'s box');
  const message = messages[0];
  assert.ok(message !== undefined);
  assert.equal(message.folder, 'new');
  assert.equal(message.caller, A.number);
  assert.ok(message.durationMs > 2500 && message.durationMs < 4500, `message lasts ${message.durationMs} ms`);
  const audioFile = path.join(pbx.dir, 'voicemail', B.number, message.file);
  const audio = fs.readFileSync(audioFile);

  // The email: a real SMTP server, the attachment as Python's email package decodes it.
  const [mail] = await smtp.waitFor(1);
  assert.ok(mail !== undefined);
  assert.deepEqual(mail.rcptTos, ['bo@office.test']);
  assert.match(mail.subject, new RegExp(`voicemail from .*${A.number}`, 'i'));
  assert.match(mail.text, /Length: 3 s/);
  assert.equal(mail.attachments.length, 1);
  assert.equal(mail.attachments[0]?.contentType, 'audio/wav');
  assert.ok(mail.attachments[0]?.content.equals(audio), 'the attachment is byte-identical to the stored audio');

  // B registers: an unsolicited NOTIFY (B has not subscribed) says yes, 1 new 0 old.
  const b = await pbx.phone(B);
  const first = await b.nextNotify(0, (n) => n.event === 'message-summary');
  assert.ok(first.unsolicited);
  assert.deepEqual(mwi(first.body), { waiting: 'yes', counts: '1/0' });

  // B subscribes (RFC 6665): the NOTIFY comes inside the subscription, with the same counts.
  const mark = b.notifies.length;
  b.subscribe('message-summary');
  const inDialog = await b.nextNotify(mark, (n) => !n.unsolicited);
  assert.match(inDialog.subscriptionState ?? '', /^active/);
  assert.deepEqual(mwi(inDialog.body), { waiting: 'yes', counts: '1/0' });

  // *97, PIN by in-band DTMF, 1: the 1 kHz tone is heard.
  const listen1 = await listenToBox(b, 'inband');
  await b.hangUp(listen1);
  await sleep(500);
  // Heard, so no longer new: the subscription says so.
  const heard = await b.nextNotify(mark, (n) => !n.unsolicited && mwi(n.body).counts === '0/1');
  assert.equal(mwi(heard.body).waiting, 'no');

  // *97 again, PIN by RFC 4733, 1 then 7: deleted, and the next NOTIFY says no, 0/0.
  const mark2 = b.notifies.length;
  const listen2 = await listenToBox(b, 'rfc4733');
  await keys(listen2.media, '7', 'rfc4733');
  const gone = await b.nextNotify(mark2, (n) => mwi(n.body).counts === '0/0', 5000);
  assert.equal(mwi(gone.body).waiting, 'no');
  assert.equal(gone.unsolicited, false, 'the subscribed phone hears it in its subscription');
  await b.hangUp(listen2);
  assert.equal((await readMessages()).length, 0);
  assert.ok(!fs.existsSync(audioFile), 'the audio file is gone with its row');
  const log = pbx.child.output();
  assert.equal((log.match(/"msg":"mailbox login"/g) ?? []).length, 2, 'two logins, each with the right PIN');
  assert.doesNotMatch(log, /wrong voicemail PIN|voicemail failed|"level":50/);
  if (process.env.VM_LOG) console.log(log.split('\n').filter((l) => /voicemail|mwi|events|subscri|NOTIFY|mail/i.test(l)).join('\n'));
});

test('the SMTP server refuses the mail: pbxctl status and pbxctl mail list show the failure with the server\'s answer', async () => {
  smtp.refuse('550 5.7.1 Mailbox bo@office.test disabled');
  const store = openStore(pbx.dir);
  try {
    store.mail.enqueue({ to: 'bo@office.test', subject: 'New voicemail from 4101', text: 'x' });
  } finally {
    store.close();
  }
  // The pbx polls the outbox (5 s).
  const env = { ...process.env, PBX_DATA_DIR: pbx.dir };
  let status = '';
  for (let i = 0; i < 40; i++) {
    status = (await run('node', [PBXCTL, 'status'], { env })).stdout;
    if (/DELIVERY FAILED/.test(status)) break;
    await sleep(250);
  }
  assert.match(status, /mail outbox: 0 waiting, 1 failed, 1 sent/);
  assert.match(status, /DELIVERY FAILED: mail \d+ to bo@office\.test, 1 attempt\(s\), last [^:]+:\d\d:\d\dZ: 550 5\.7\.1 Mailbox bo@office\.test disabled/);
  const json = JSON.parse((await run('node', [PBXCTL, 'status', '--json'], { env })).stdout) as { mail: { failed: number; lastFailure: { error: string } } };
  assert.equal(json.mail.failed, 1);
  assert.match(json.mail.lastFailure.error, /550 5\.7\.1/);
  const list = (await run('node', [PBXCTL, 'mail', 'list', '--state', 'failed'], { env })).stdout;
  assert.match(list, /bo@office\.test\s+failed\s+1\s+New voicemail from 4101\s+550 5\.7\.1 Mailbox bo@office\.test disabled/);
});

/** A sine of `freq` Hz for `ms`, as a WAV a user would upload. */
function toneWav(freq: number, ms: number): Buffer {
  return encodeWav(Int16Array.from({ length: (ms * 8000) / 1000 }, (_, i) => Math.round(Math.sin((2 * Math.PI * freq * i) / 8000) * 10000)));
}

async function waitForMessages(box: string, count: number): Promise<Awaited<ReturnType<typeof readMessages>>> {
  for (let i = 0; i < 80; i++) {
    const store = openStore(pbx.dir);
    const list = store.voicemail.list(box);
    store.close();
    if (list.length >= count) return list;
    await sleep(100);
  }
  throw new Error(`box ${box}: fewer than ${count} messages`);
}

test('a busy phone: the caller hears the user\'s own busy greeting (an uploaded 440 Hz WAV), the beep, and leaves a message', async () => {
  smtp.accept();
  const dir = path.join(pbx.dir, 'voicemail', BUSY.number);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'greeting-busy.wav'), toneWav(440, 1500));
  const uas = await startRegisteredUas({ target: `127.0.0.1:${pbx.port}`, user: BUSY.number, password: BUSY.secret, scenario: scenarioPath('uas-busy-486'), timeoutSec: 30, workDir: pbx.dir });
  try {
    const a = await pbx.phone(A);
    const call = await a.call(BUSY.number);
    await withTimeout(call.established, 5000, 'the box answers once the phone said busy');
    call.media.setSignal({ kind: 'silence' });
    await hearTone(call.media, 440, 800, 10_000);
    await hearTone(call.media, 1000, 200, 10_000);
    call.media.setSignal({ kind: 'tones', freqs: [1000] });
    await sleep(1500);
    // `#` ends the message: "Message saved. Goodbye." and the box hangs up.
    call.media.setSignal({ kind: 'silence' });
    await keys(call.media, '#', 'rfc4733');
    await withTimeout(call.ended, 15_000, 'the box hangs up after goodbye');
  } finally {
    await uas.stop();
  }
  const [message] = await waitForMessages(BUSY.number, 1);
  assert.equal(message?.reason, 'busy');
  assert.ok((message?.durationMs ?? 0) > 1000 && (message?.durationMs ?? 0) < 2500, `${message?.durationMs} ms`);
  assert.match(pbx.child.output(), /"reason":"busy"[^\n]*"why":"caller pressed #","saved":true/);
});

test('nobody answers within the ring time: the box answers after it, with the default unavailable prompt', async () => {
  const uas = await startRegisteredUas({ target: `127.0.0.1:${pbx.port}`, user: SLOW.number, password: SLOW.secret, scenario: scenarioPath('uas-ring-no-answer'), timeoutSec: 30, workDir: pbx.dir });
  try {
    const a = await pbx.phone(A);
    const t0 = Date.now();
    const call = await a.call(SLOW.number);
    await withTimeout(call.established, 8000, 'the box answers after the ring time');
    assert.ok(Date.now() - t0 >= 1900, 'not before the 2 s ring time');
    call.media.setSignal({ kind: 'silence' });
    const heardFrom = performance.now();
    await hearTone(call.media, 1000, 200, 20_000);
    // Before the beep, a spoken prompt (speech, not a tone): "The person at extension 4 1 0 4 is not available..."
    const speech = call.media.pcmBetween(heardFrom, performance.now() - 400);
    assert.ok(speech.length > 8000 * 3, `seconds of prompt before the beep (${speech.length / 8000} s)`);
    assert.ok(toneShare(speech, 1000) < 0.3);
    await a.hangUp(call);
  } finally {
    await uas.stop();
  }
  assert.match(pbx.child.output(), /"box":"4104","reason":"unavailable","msg":"voicemail answered"/);
  // Hung up at the beep: shorter than the minimum, nothing kept.
  const store = openStore(pbx.dir);
  try {
    assert.equal(store.voicemail.list(SLOW.number).length, 0);
  } finally {
    store.close();
  }
});

test('the virtual receptionist sends the caller to a box (key 1 → voicemail:4102): the message is left there', async () => {
  const store = openStore(pbx.dir);
  try {
    store.routing.receptionists.put({
      name: 'front',
      extension: '700',
      timezone: 'UTC',
      language: 'en',
      hours: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, opens: '00:00', closes: '24:00' })),
      holidays: [],
      menus: { business: { options: [{ digit: '1', target: `voicemail:${B.number}` }], greeting: null }, 'after-hours': { options: [{ digit: '1', target: `voicemail:${B.number}` }], greeting: null } },
      operator: null,
      timeoutSeconds: 10,
      maxAttempts: 3,
    });
  } finally {
    store.close();
  }
  const before = (await readMessages()).length;
  const a = await pbx.phone(A);
  const call = await a.call('700');
  await withTimeout(call.established, 5000, 'the receptionist answers');
  call.media.setSignal({ kind: 'silence' });
  await sleep(1500);
  await keys(call.media, '1', 'rfc4733');
  await hearTone(call.media, 1000, 200, 20_000);
  call.media.setSignal({ kind: 'tones', freqs: [1000] });
  await sleep(2000);
  await a.hangUp(call);
  const messages = await waitForMessages(B.number, before + 1);
  const left = messages.find((m) => m.reason === 'direct');
  assert.ok(left, 'a message left through the receptionist');
  assert.ok(left.durationMs > 1500, `${left.durationMs} ms`);
});

test('*98 from another phone: box number, then wrong PINs are refused and logged, the third ends the call', async () => {
  const a = await pbx.phone(A);
  const call = await a.call('*98');
  await withTimeout(call.established, 5000, '*98 answered');
  call.media.setSignal({ kind: 'silence' });
  await sleep(800);
  await keys(call.media, `${B.number}#`, 'rfc4733');
  for (let i = 0; i < 3; i++) {
    await sleep(1200);
    await keys(call.media, '0000#', i === 1 ? 'inband' : 'rfc4733');
  }
  await withTimeout(call.ended, 15_000, 'goodbye after the third wrong PIN');
  const wrong = pbx.child.output().match(/"app":"\*98","box":"4102","tries":\d,"empty":false,"msg":"wrong voicemail PIN"/g) ?? [];
  assert.equal(wrong.length, 3, 'each wrong PIN logged, with the box and the caller');
  assert.doesNotMatch(pbx.child.output(), /0000/, 'the PIN tried is never logged');
  await pbx.child.waitFor(/"application":"mailbox\*98","reason":"too many wrong PINs"/, 5000);
});

test('a full box: the caller is told and the call ends; the user gets an email saying so', async () => {
  // FULL has no phone and one message, its quota.
  const dir = path.join(pbx.dir, 'voicemail', FULL.number);
  fs.mkdirSync(dir, { recursive: true });
  const audio = toneWav(1000, 1000);
  fs.writeFileSync(path.join(dir, 'msg-1-00000000.wav'), audio);
  const store = openStore(pbx.dir);
  try {
    store.voicemail.add({ box: FULL.number, caller: '4101', callerName: '', receivedAt: Date.now(), durationMs: 1000, file: 'msg-1-00000000.wav', bytes: audio.length, reason: 'unavailable' });
    store.voicemail.setBox(FULL.number, { maxMessages: 1, email: 'full@office.test' });
  } finally {
    store.close();
  }
  const mailsBefore = smtp.received().length;
  const a = await pbx.phone(A);
  const call = await a.call(FULL.number);
  await withTimeout(call.established, 5000, 'the box answers');
  call.media.setSignal({ kind: 'silence' });
  await withTimeout(call.ended, 20_000, '"this mailbox is full", goodbye, and the box hangs up');
  assert.match(pbx.child.output(), /"box":"4105"[^\n]*"msg":"mailbox full: the caller cannot leave a message"/);
  const mails = await smtp.waitFor(mailsBefore + 1);
  const notice = mails[mails.length - 1];
  assert.deepEqual(notice?.rcptTos, ['full@office.test']);
  assert.match(notice?.subject ?? '', /Your voicemail box 4105 is full/);
  assert.match(notice?.text ?? '', /4101 called and could not leave a message/);
  const after = openStore(pbx.dir);
  try {
    assert.equal(after.voicemail.list(FULL.number).length, 1, 'nothing was added');
  } finally {
    after.close();
  }
});

test('email notification off (pbxctl voicemail box --email-notify no): the message is kept, no mail is queued', async () => {
  const env = { ...process.env, PBX_DATA_DIR: pbx.dir };
  const set = await run('node', [PBXCTL, 'voicemail', 'box', FULL.number, '--email-notify', 'no', '--max-messages', 'default', '--json'], { env });
  const box = JSON.parse(set.stdout) as { emailEnabled: boolean; email: string; emailTo: string };
  assert.deepEqual([box.emailEnabled, box.email, box.emailTo], [false, 'full@office.test', 'full@office.test'], 'the address is kept');
  await assert.rejects(run('node', [PBXCTL, 'voicemail', 'box', FULL.number, '--email-notify', 'maybe'], { env }), /--email-notify must be yes or no/);
  const count = (): number => {
    const store = openStore(pbx.dir);
    try {
      return store.mail.list({ limit: 1000 }).length;
    } finally {
      store.close();
    }
  };
  const mailsBefore = count();
  const a = await pbx.phone(A);
  const call = await a.call(FULL.number);
  await withTimeout(call.established, 5000, 'the box answers (no phone)');
  call.media.setSignal({ kind: 'silence' });
  await hearTone(call.media, 1000, 200, 20_000);
  call.media.setSignal({ kind: 'tones', freqs: [1000] });
  await sleep(2000);
  await a.hangUp(call);
  await waitForMessages(FULL.number, 2);
  // The email would be queued right after the row: give it time to show if it were.
  await sleep(1000);
  assert.equal(count(), mailsBefore, 'no voicemail mail queued');
  assert.match(pbx.child.output(), /"box":"4105"[^\n]*"msg":"new voicemail"/);
});
