/**
 * The voicemail and fax APIs of the web UI against a real HTTPS server, SQLite store, WAV files
 * written by the voicemail storage module and PDFs made by ghostscript: a user's own box (list,
 * audio with Range, download, saved/new, delete, greetings, PIN and email with the store's rules),
 * the admin's boxes; faxes (send through the same checks as `pbxctl fax send`, the international
 * permission, received and sent listed, the PDF, delete). An end user never reaches another user's
 * message or fax (404, no data) nor an admin API (403); CSRF on every change; bad uploads refused
 * with nothing kept.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitFile, tmpPath } from '../../services/fax/documents.js';
import { decodeWavMono, encodeWav } from '../../services/media/wav/wav.js';
import { makePdf } from '../fax/documents.js';
import { pbxctl } from '../support/pbxctl.js';
import { leaveToneMessage } from '../support/voicemail-box.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

type Err = { error: { code: string; fields?: Record<string, string> } };
type Box = { box: { extension: string; enabled: boolean; email: string | null; emailEnabled: boolean; pinSet: boolean; greetings: Record<string, boolean> }; counts: { new: number; old: number }; messages: Array<{ id: number; folder: string; caller: string; callerName: string; durationMs: number }> };
type FaxView = { id: number; direction: string; extension: string; status: string; number: string; pages: number; hasDocument: boolean };

async function loggedIn(web: WebUnderTest, username: string, first: string, next: string): Promise<WebClient> {
  const c = new WebClient(web);
  assert.equal((await c.login(username, first)).status, 200);
  assert.equal((await c.request('POST', '/api/session/password', { current: first, next })).status, 200);
  return c;
}

/** A GET with extra headers (Range), the body as bytes. */
function getBytes(web: WebUnderTest, client: WebClient, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: web.port, method: 'GET', path: urlPath, headers: { ...headers, ...(client.cookie !== null && { cookie: client.cookie }) }, ca: web.ca, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every file under `dir` (relative), for "nothing was kept" checks. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

const tone = (seconds: number, rate: number): Buffer => encodeWav(new Int16Array(Math.round(seconds * rate)).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / rate))), 'pcm16', rate);

describe('web API: voicemail and fax', { timeout: 120_000 }, () => {
  let web: WebUnderTest;
  let admin: WebClient;
  let alice: WebClient;
  let bob: WebClient;
  let nobody: WebClient;
  let work: string;
  const msgs: { alice: number[]; bob: number } = { alice: [], bob: 0 };

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-web-vmfax-'));
    web = await startWebUi({ country: 'FR' });
    seedAdmin(web.store);
    web.store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    web.store.extensions.add({ number: '102', displayName: 'Bob', secret: 'bob-secret-22' });
    web.store.users.add({ username: 'alice', displayName: 'Alice', role: 'user', extension: '101', email: 'alice@office.test', password: 'alice-first-pw', mustChangePassword: true });
    web.store.users.add({ username: 'bob', displayName: 'Bob', role: 'user', extension: '102', password: 'bob-first-pw', mustChangePassword: true });
    web.store.users.add({ username: 'nobody', displayName: 'No Phone', role: 'user', extension: null, password: 'nobody-first-pw', mustChangePassword: true });
    admin = await loggedIn(web, 'admin', 'first-start-pw', 'admin-chosen-pw');
    alice = await loggedIn(web, 'alice', 'alice-first-pw', 'alice-own-pw');
    bob = await loggedIn(web, 'bob', 'bob-first-pw', 'bob-own-pw-2');
    nobody = await loggedIn(web, 'nobody', 'nobody-first-pw', 'nobody-own-pw');
    msgs.alice.push((await leaveToneMessage(web.dataDir, web.store, '101', { seconds: 2, caller: '102', callerName: 'Bob', receivedAt: Date.now() - 60_000 })).id);
    msgs.alice.push((await leaveToneMessage(web.dataDir, web.store, '101', { seconds: 1, caller: '0142685300', callerName: '' })).id);
    msgs.bob = (await leaveToneMessage(web.dataDir, web.store, '102', { seconds: 3, caller: '101', callerName: 'Alice' })).id;
  });
  after(async () => {
    await web?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("lists the user's own messages, and only hers", async () => {
    const res = await alice.request<Box>('GET', '/api/me/voicemail');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.box.extension, '101');
    assert.deepEqual(res.body.counts.new, 2);
    assert.deepEqual(res.body.messages.map((m) => [m.id, m.folder, m.caller]), [[msgs.alice[0], 'new', '102'], [msgs.alice[1], 'new', '0142685300']]);
    assert.ok(Math.abs((res.body.messages[0]?.durationMs ?? 0) - 2000) < 50);
    assert.ok(!res.text.includes('msg-'), 'no file names or paths');
    const none = await nobody.request<Err>('GET', '/api/me/voicemail');
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'no-extension');
  });

  it('streams the WAV with its type, answers a Range request, offers a download', async () => {
    const id = msgs.alice[0] as number;
    const message = web.store.voicemail.get(id);
    assert.ok(message !== null);
    const file = fs.readFileSync(path.join(web.dataDir, 'voicemail', '101', message.file));
    const whole = await getBytes(web, alice, `/api/me/voicemail/messages/${id}/audio`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-type'], 'audio/wav');
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.deepEqual(whole.body, file);
    assert.equal(decodeWavMono(whole.body, 8000).length, 16000, 'two seconds at 8 kHz');
    const part = await getBytes(web, alice, `/api/me/voicemail/messages/${id}/audio`, { range: 'bytes=44-1043' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 44-1043/${file.length}`);
    assert.deepEqual(part.body, file.subarray(44, 1044));
    const download = await getBytes(web, alice, `/api/me/voicemail/messages/${id}/audio?download=1`);
    assert.match(String(download.headers['content-disposition']), /^attachment; filename="?voicemail-101-\d+\.wav"?$/);
    assert.equal(web.store.voicemail.get(id)?.folder, 'new', 'fetching the audio changes nothing (a GET)');
  });

  it("never gives a user another user's message, nor the admin's box APIs", async () => {
    const bobMessage = web.store.voicemail.get(msgs.bob);
    assert.ok(bobMessage !== null);
    const audio = await getBytes(web, alice, `/api/me/voicemail/messages/${msgs.bob}/audio`);
    assert.equal(audio.status, 404);
    assert.ok(!audio.body.includes(Buffer.from('RIFF')), 'no audio in the answer');
    for (const [method, body] of [['PATCH', { folder: 'old' }], ['DELETE', undefined]] as const) {
      const res = await alice.request<Err>(method, `/api/me/voicemail/messages/${msgs.bob}`, body);
      assert.equal(res.status, 404, `${method}: ${res.text}`);
    }
    assert.equal((await alice.request('GET', '/api/me/voicemail/messages/abc/audio')).status, 404);
    assert.deepEqual(web.store.voicemail.get(msgs.bob), bobMessage, "Bob's message is untouched");
    assert.ok(fs.existsSync(path.join(web.dataDir, 'voicemail', '102', bobMessage.file)));
    for (const url of ['/api/voicemail/boxes', '/api/voicemail/boxes/102', `/api/voicemail/boxes/102/messages/${msgs.bob}/audio`]) {
      const res = await alice.request<Err>('GET', url);
      assert.equal(res.status, 403, url);
      assert.ok(!res.text.includes('Alice') && !res.text.includes('"caller"'), `${url}: no data`);
    }
    const put = await alice.request<Err>('PUT', '/api/voicemail/boxes/102/settings', { pin: '1111' });
    assert.equal(put.status, 403);
    assert.equal(web.store.extensions.get('102')?.voicemailPin, null);
    // Bob's own list does not show Alice's messages.
    const own = await bob.request<Box>('GET', '/api/me/voicemail');
    assert.deepEqual(own.body.messages.map((m) => m.id), [msgs.bob]);
  });

  it('marks a message saved and new again; refuses a change without or with a forged CSRF token', async () => {
    const id = msgs.alice[0] as number;
    const token = alice.csrfToken;
    for (const csrf of [null, 'forged-token-123']) {
      const res = await alice.request<Err>('PATCH', `/api/me/voicemail/messages/${id}`, { folder: 'old' }, { csrf });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'csrf');
    }
    assert.equal(alice.csrfToken, token);
    assert.equal(web.store.voicemail.get(id)?.folder, 'new');
    const saved = await alice.request<{ message: { folder: string }; counts: { new: number; old: number }; notified: boolean }>('PATCH', `/api/me/voicemail/messages/${id}`, { folder: 'old' });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.body.message.folder, 'old');
    assert.deepEqual([saved.body.counts.new, saved.body.counts.old], [1, 1]);
    assert.equal(saved.body.notified, false, 'no pbx runs here: nobody to tell (the browser test has one)');
    assert.equal(web.store.voicemail.get(id)?.folder, 'old');
    const bad = await alice.request<Err>('PATCH', `/api/me/voicemail/messages/${id}`, { folder: 'trash' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.fields?.['folder'], 'invalid');
    const back = await alice.request('PATCH', `/api/me/voicemail/messages/${id}`, { folder: 'new' });
    assert.equal(back.status, 200);
    assert.equal(web.store.voicemail.get(id)?.folder, 'new');
  });

  it('deletes a message: row and audio', async () => {
    const id = msgs.alice[1] as number;
    const file = path.join(web.dataDir, 'voicemail', '101', web.store.voicemail.get(id)?.file ?? 'x');
    assert.ok(fs.existsSync(file));
    const noToken = await alice.request('DELETE', `/api/me/voicemail/messages/${id}`, undefined, { csrf: null });
    assert.equal(noToken.status, 403);
    assert.ok(fs.existsSync(file));
    const res = await alice.request<{ deleted: number; counts: { new: number } }>('DELETE', `/api/me/voicemail/messages/${id}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.deleted, id);
    assert.equal(web.store.voicemail.get(id), null);
    assert.ok(!fs.existsSync(file));
    assert.equal((await alice.request('DELETE', `/api/me/voicemail/messages/${id}`)).status, 404);
  });

  it("changes the PIN and email with the store's rules; a bad field changes nothing", async () => {
    const badPin = await alice.request<Err>('PUT', '/api/me/voicemail/settings', { pin: '12', emailEnabled: false });
    assert.equal(badPin.status, 400);
    assert.equal(badPin.body.error.fields?.['pin'], 'format');
    const badEmail = await alice.request<Err>('PUT', '/api/me/voicemail/settings', { pin: '2468', email: 'not an address' });
    assert.equal(badEmail.body.error.fields?.['email'], 'format');
    const own = await alice.request<Err>('PUT', '/api/me/voicemail/settings', { enabled: false });
    assert.equal(own.status, 400, 'a user does not turn her box off');
    assert.ok(Object.values(own.body.error.fields ?? {}).includes('unknown-field'), own.text);
    assert.equal(web.store.extensions.get('101')?.voicemailPin, null, 'nothing changed');
    assert.equal(web.store.voicemail.box('101')?.emailEnabled, true);
    const ok = await alice.request<Box>('PUT', '/api/me/voicemail/settings', { pin: '2468', email: 'alice.vm@office.test', emailEnabled: false });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.box.pinSet, true);
    assert.ok(!ok.text.includes('2468'), 'the PIN is never sent back');
    assert.equal(web.store.extensions.get('101')?.voicemailPin, '2468');
    assert.deepEqual([web.store.voicemail.box('101')?.email, web.store.voicemail.box('101')?.emailEnabled], ['alice.vm@office.test', false]);
    const back = await alice.request('PUT', '/api/me/voicemail/settings', { email: null, emailEnabled: true });
    assert.equal(back.status, 200);
    assert.equal(web.store.voicemail.emailOf('101'), 'alice@office.test', "back to her account's address");
  });

  it('takes a greeting as any WAV (converted to 8 kHz), plays it back, and refuses what is not one', async () => {
    const greeting = path.join(web.dataDir, 'voicemail', '101', 'greeting-unavailable.wav');
    const up = await alice.upload<{ seconds: number; greetings: Record<string, boolean> }>('/api/me/voicemail/greetings/unavailable', tone(1.5, 16000), { name: 'hello.wav' });
    assert.ok(up.status !== 'reset');
    assert.equal(up.status, 201, up.text);
    assert.equal(up.body.greetings['unavailable'], true);
    assert.equal(decodeWavMono(fs.readFileSync(greeting), 8000).length, 12000, '1.5 s at 8 kHz');
    const played = await getBytes(web, alice, '/api/me/voicemail/greetings/unavailable');
    assert.equal(played.status, 200);
    assert.equal(played.headers['content-type'], 'audio/wav');
    const before = fs.readFileSync(greeting);
    const uploads = path.join(web.dataDir, 'voicemail', '.uploads');
    const refused: Array<[string, Awaited<ReturnType<WebClient['upload']>>, number, string | null]> = [
      ['text', await alice.upload('/api/me/voicemail/greetings/unavailable', Buffer.from('not a recording at all'), { name: 'x.wav' }), 400, 'not-wav'],
      ['truncated WAV', await alice.upload('/api/me/voicemail/greetings/unavailable', tone(1, 8000).subarray(0, 30), { name: 'x.wav' }), 400, 'not-wav'],
      ['too long', await alice.upload('/api/me/voicemail/greetings/unavailable', tone(121, 8000), { name: 'long.wav' }), 400, 'greeting-too-long'],
      ['declared too large', await alice.upload('/api/me/voicemail/greetings/unavailable', Buffer.alloc(10), { declare: 40 * 1024 * 1024, headersOnly: true }), 413, 'too-large'],
      ['empty', await alice.upload('/api/me/voicemail/greetings/unavailable', Buffer.alloc(0)), 400, 'empty-file'],
      ['cut', await alice.upload('/api/me/voicemail/greetings/unavailable', tone(1, 8000), { cut: 1000 }), 0, null],
    ];
    for (const [what, res, status, code] of refused) {
      if (code === null) {
        assert.equal(res.status, 'reset', what);
        continue;
      }
      assert.ok(res.status !== 'reset', what);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.equal((res.body as Err).error.code, code, what);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(fs.readFileSync(greeting), before, 'the greeting in place is untouched');
    assert.deepEqual(filesUnder(uploads), [], 'no temporary file left');
    assert.equal((await alice.upload('/api/me/voicemail/greetings/holiday', tone(1, 8000)) as { status: number }).status, 404);
    const noCsrf = new WebClient(web);
    const res = await noCsrf.upload('/api/me/voicemail/greetings/busy', tone(1, 8000));
    assert.ok(res.status !== 'reset');
    assert.ok(res.status === 401 || res.status === 403);
    const removed = await alice.request<{ greetings: Record<string, boolean> }>('DELETE', '/api/me/voicemail/greetings/unavailable');
    assert.equal(removed.body.greetings['unavailable'], false);
    assert.ok(!fs.existsSync(greeting));
  });

  it('lets the admin see every box with its counts, reset a PIN, turn a box off, open its messages', async () => {
    const list = await admin.request<{ boxes: Array<{ extension: string; enabled: boolean; pinSet: boolean; counts: { new: number; old: number } }> }>('GET', '/api/voicemail/boxes');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.boxes.map((b) => [b.extension, b.enabled, b.pinSet, b.counts.new, b.counts.old]), [['101', true, true, 1, 0], ['102', true, false, 1, 0]]);
    const bad = await admin.request<Err>('PUT', '/api/voicemail/boxes/102/settings', { pin: 'abcd' });
    assert.equal(bad.body.error.fields?.['pin'], 'format');
    const set = await admin.request<Box>('PUT', '/api/voicemail/boxes/102/settings', { pin: '975310', enabled: false });
    assert.equal(set.status, 200, set.text);
    assert.equal(web.store.extensions.get('102')?.voicemailPin, '975310');
    assert.equal(web.store.voicemail.box('102')?.enabled, false);
    const box = await admin.request<Box>('GET', '/api/voicemail/boxes/102');
    assert.deepEqual(box.body.messages.map((m) => m.id), [msgs.bob]);
    const audio = await getBytes(web, admin, `/api/voicemail/boxes/102/messages/${msgs.bob}/audio`);
    assert.equal(audio.status, 200);
    // The id of another box's message through this box is not found, for the admin too.
    assert.equal((await getBytes(web, admin, `/api/voicemail/boxes/102/messages/${msgs.alice[0]}/audio`)).status, 404);
    assert.equal((await admin.request('GET', '/api/voicemail/boxes/999')).status, 404);
    const cleared = await admin.request('PUT', '/api/voicemail/boxes/102/settings', { pin: null, enabled: true });
    assert.equal(cleared.status, 200);
    assert.equal(web.store.extensions.get('102')?.voicemailPin, null);
  });

  it("changes a box's quotas and operator and the settings of every box as pbxctl does, with its rules", async () => {
    const before = web.store.voicemail.box('102');
    for (const [body, field, code] of [
      [{ maxMessages: 0 }, 'maxMessages', 'too-short'],
      [{ maxMinutes: 20_000 }, 'maxMinutes', 'too-long'],
      [{ operator: 'somewhere' }, 'operator', 'format'],
      [{ operator: 'voicemail:101' }, 'operator', 'format'],
    ] as const) {
      const res = await admin.request<Err>('PUT', '/api/voicemail/boxes/102/settings', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.fields?.[field], code, JSON.stringify(body));
    }
    assert.deepEqual(web.store.voicemail.box('102'), before, 'nothing changed');
    const ok = await admin.request<Box>('PUT', '/api/voicemail/boxes/102/settings', { maxMessages: 20, maxMinutes: null, emailDelete: true, operator: 'extension:101' });
    assert.equal(ok.status, 200, ok.text);
    const shown = await pbxctl(['--data-dir', web.dataDir, 'voicemail', 'box', '102', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const box = JSON.parse(shown.stdout) as { maxMessages: number; emailDelete: boolean; operator: string; effectiveMaxMinutes: number };
    assert.deepEqual([box.maxMessages, box.emailDelete, box.operator, box.effectiveMaxMinutes], [20, true, 'extension:101', 60], 'pbxctl reads what the web wrote');

    for (const [body, field, code] of [
      [{ retentionDays: 99999 }, 'retentionDays', 'too-long'],
      [{ emailFormat: 'ogg' }, 'emailFormat', 'invalid'],
      [{ operator: 'fax:101' }, 'operator', 'format'],
      [{ maxPinAttempts: 'three' }, 'maxPinAttempts', null],
    ] as const) {
      const res = await admin.request<Err>('PUT', '/api/voicemail/settings', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      if (code === null) assert.ok(res.body.error.fields?.[field], `${JSON.stringify(body)}: ${res.text}`);
      else assert.equal(res.body.error.fields?.[field], code, `${JSON.stringify(body)}: ${res.text}`);
    }
    const set = await admin.request<{ settings: { retentionDays: number; emailFormat: string } }>('PUT', '/api/voicemail/settings', { retentionDays: 30, emailFormat: 'mp3', operator: 'extension:102' });
    assert.equal(set.status, 200, set.text);
    const settings = JSON.parse((await pbxctl(['--data-dir', web.dataDir, 'voicemail', 'settings', '--json'])).stdout) as { retentionDays: number; emailFormat: string; operator: string; maxMessages: number };
    assert.deepEqual([settings.retentionDays, settings.emailFormat, settings.operator, settings.maxMessages], [30, 'mp3', 'extension:102', 100]);
    for (const [method, body] of [['GET', undefined], ['PUT', { retentionDays: 1 }]] as const) {
      const res = await alice.request<Err>(method, '/api/voicemail/settings', body);
      assert.equal(res.status, 403, method);
      assert.ok(!res.text.includes('retentionDays'));
    }
    assert.equal(web.store.voicemail.settings().retentionDays, 30);
  });

  describe('faxes', () => {
    let pdf2: Buffer;
    let aliceFax = 0;
    let received = 0;
    const faxFiles = (): string[] => filesUnder(path.join(web.dataDir, 'fax'));

    before(() => {
      pdf2 = fs.readFileSync(makePdf(work, 2, 'two-pages'));
      // A fax received on Alice's line, stored as the pbx's receiver stores one.
      const tmp = tmpPath(web.dataDir, 'pdf');
      fs.writeFileSync(tmp, fs.readFileSync(makePdf(work, 1, 'received')));
      const document = commitFile(web.dataDir, tmp, '101');
      received = web.store.faxes.recordInbound({ extension: '101', status: 'received', remoteNumber: '+33155550199', remoteIdent: '+33 1 55 55 01 99', pages: 1, document, transport: 't38', error: null, callId: 'test-call' }).id;
    });

    it('needs a fax line to send; lists what was received', async () => {
      const list = await alice.request<{ faxes: FaxView[]; faxLines: Record<string, string[]> }>('GET', '/api/me/faxes');
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.faxLines, { '101': [] });
      assert.deepEqual(list.body.faxes.map((f) => [f.id, f.direction, f.status, f.pages, f.hasDocument]), [[received, 'in', 'received', 1, true]]);
      assert.ok(!list.text.includes('fax/101/'), 'no file paths');
      const refused = await alice.upload<Err>('/api/me/faxes?number=0155550199', pdf2, { name: 'two.pdf' });
      assert.ok(refused.status !== 'reset');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'no-fax-line');
      assert.equal((await nobody.request<Err>('GET', '/api/me/faxes')).status, 404);
      web.store.numbers.add('+33142685309', { kind: 'fax', extension: '101' });
    });

    it('sends a PDF to a national number: checked, converted, queued', async () => {
      const res = await alice.upload<{ fax: FaxView }>('/api/me/faxes?number=01%2055%2055%2001%2099', pdf2, { name: 'contract.pdf' });
      assert.ok(res.status !== 'reset');
      assert.equal(res.status, 201, res.text);
      assert.deepEqual([res.body.fax.direction, res.body.fax.status, res.body.fax.number, res.body.fax.pages, res.body.fax.extension], ['out', 'queued', '0155550199', 2, '101']);
      aliceFax = res.body.fax.id;
      const row = web.store.faxes.get(aliceFax);
      assert.ok(row?.document && row.image);
      assert.deepEqual(fs.readFileSync(path.join(web.dataDir, row.document)), pdf2, 'the PDF kept as sent');
      assert.ok(fs.statSync(path.join(web.dataDir, row.image)).size > 0, 'the TIFF-F the modem sends');
      const pdf = await getBytes(web, alice, `/api/me/faxes/${aliceFax}/document`);
      assert.equal(pdf.status, 200);
      assert.equal(pdf.headers['content-type'], 'application/pdf');
      assert.deepEqual(pdf.body, pdf2);
    });

    it('refuses numbers the user may not dial and documents that are not a PDF, keeping nothing', async () => {
      const rows = web.store.faxes.list().length;
      const files = faxFiles();
      const cases: Array<[string, string, Buffer, number | 'reset', string | null, string | null]> = [
        ['abroad without the permission', '+14155550100', pdf2, 403, 'fax-international', 'fax-international'],
        ['premium without the permission', '0899123456', pdf2, 403, 'fax-international', 'fax-international'],
        ['emergency', '112', pdf2, 400, 'fax-emergency', 'fax-emergency'],
        ['not a number', 'call-me', pdf2, 400, 'invalid', 'format'],
        ['no number', '', pdf2, 400, 'invalid', 'required'],
        ['text', '0155550199', Buffer.from('Dear Sir, this is plain text.'), 400, 'not-pdf', null],
        ['a PNG', '0155550199', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 400, 'not-pdf', null],
        ['truncated PDF', '0155550199', pdf2.subarray(0, Math.floor(pdf2.length / 2)), 400, 'not-pdf', null],
        ['empty', '0155550199', Buffer.alloc(0), 400, 'empty-file', null],
      ];
      for (const [what, number, body, status, code, field] of cases) {
        const res = await alice.upload<Err>(`/api/me/faxes?number=${encodeURIComponent(number)}`, body, { name: 'doc.pdf' });
        assert.ok(res.status !== 'reset', what);
        assert.equal(res.status, status, `${what}: ${res.text}`);
        assert.equal(res.body.error.code, code, what);
        if (field !== null) assert.equal(res.body.error.fields?.['number'], field, what);
      }
      const big = await alice.upload<Err>('/api/me/faxes?number=0155550199', Buffer.alloc(10), { declare: 60 * 1024 * 1024, headersOnly: true });
      assert.ok(big.status !== 'reset');
      assert.equal(big.status, 413);
      const cut = await alice.upload('/api/me/faxes?number=0155550199', pdf2, { cut: 500 });
      assert.equal(cut.status, 'reset');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(web.store.faxes.list().length, rows, 'no fax queued');
      assert.deepEqual(faxFiles(), files, 'no file kept');
      // With the permission the same number abroad is accepted: the rule follows the extension, as for calls.
      web.store.extensionRouting.set('101', { international: true });
      const ok = await alice.upload<{ fax: FaxView }>('/api/me/faxes?number=%2B14155550100', pdf2, { name: 'us.pdf' });
      assert.ok(ok.status !== 'reset');
      assert.equal(ok.status, 201, ok.text);
      web.store.extensionRouting.set('101', { international: false });
    });

    it("never gives a user another user's fax, nor the admin's fax APIs", async () => {
      const own = await bob.request<{ faxes: FaxView[] }>('GET', '/api/me/faxes');
      assert.deepEqual(own.body.faxes, []);
      for (const id of [aliceFax, received]) {
        const doc = await getBytes(web, bob, `/api/me/faxes/${id}/document`);
        assert.equal(doc.status, 404);
        assert.ok(!doc.body.includes(Buffer.from('%PDF')));
        assert.equal((await bob.request('DELETE', `/api/me/faxes/${id}`)).status, 404);
        assert.notEqual(web.store.faxes.get(id), null);
      }
      for (const [method, url] of [['GET', '/api/faxes'], ['GET', `/api/faxes/${aliceFax}/document`], ['DELETE', `/api/faxes/${aliceFax}`]] as const) {
        const res = await bob.request<Err>(method, url);
        assert.equal(res.status, 403, `${method} ${url}`);
        assert.ok(!res.text.includes('0155550199'));
      }
      const send = await bob.upload<Err>('/api/faxes?extension=102&number=0155550199', pdf2);
      assert.ok(send.status !== 'reset');
      assert.equal(send.status, 403);
    });

    it('lets the admin see every fax, send as an extension, delete; a user deletes her own', async () => {
      const all = await admin.request<{ faxes: FaxView[] }>('GET', '/api/faxes');
      assert.ok(all.body.faxes.some((f) => f.id === aliceFax) && all.body.faxes.some((f) => f.id === received));
      const missing = await admin.upload<Err>('/api/faxes?number=0155550199', pdf2);
      assert.ok(missing.status !== 'reset');
      assert.equal(missing.body.error.fields?.['extension'], 'required');
      const sent = await admin.upload<{ fax: FaxView }>('/api/faxes?extension=102&number=0155550188', pdf2, { name: 'for-bob.pdf' });
      assert.ok(sent.status !== 'reset');
      assert.equal(sent.status, 201, sent.text);
      assert.equal(sent.body.fax.extension, '102');
      assert.equal((await bob.request<{ faxes: FaxView[] }>('GET', '/api/me/faxes')).body.faxes.length, 1, 'Bob sees the fax sent as him');
      const row = web.store.faxes.get(aliceFax);
      const noToken = await alice.request('DELETE', `/api/me/faxes/${aliceFax}`, undefined, { csrf: null });
      assert.equal(noToken.status, 403);
      const del = await alice.request('DELETE', `/api/me/faxes/${aliceFax}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(web.store.faxes.get(aliceFax), null);
      assert.ok(row?.document && !fs.existsSync(path.join(web.dataDir, row.document)));
      assert.ok(row?.image && !fs.existsSync(path.join(web.dataDir, row.image)));
      const adminDel = await admin.request('DELETE', `/api/faxes/${sent.body.fax.id}`);
      assert.equal(adminDel.status, 200);
    });

    it('switches the fax transports as pbxctl does: T.38 on the fax line, T.38 on the analog ports; users may not', async () => {
      type Switches = { t38: boolean; analogT38: boolean };
      assert.deepEqual((await admin.request<Switches>('GET', '/api/fax-settings')).body, { t38: true, analogT38: false }, 'the defaults');
      assert.equal((await alice.request('GET', '/api/fax-settings')).status, 403);
      assert.equal((await alice.request('PUT', '/api/fax-settings', { t38: false })).status, 403);
      for (const body of [{ t38: 'off' }, { analogT38: 1 }, { t38: false, extra: true }]) {
        assert.equal((await admin.request('PUT', '/api/fax-settings', body)).status, 400, JSON.stringify(body));
      }
      assert.deepEqual((await admin.request<Switches>('GET', '/api/fax-settings')).body, { t38: true, analogT38: false }, 'a refused change changed nothing');
      const set = await admin.request<Switches>('PUT', '/api/fax-settings', { t38: false, analogT38: true });
      assert.deepEqual(set.body, { t38: false, analogT38: true });
      const shown = await pbxctl(['--data-dir', web.dataDir, 'fax', 't38', '--json']);
      assert.deepEqual(JSON.parse(shown.stdout), { t38: false }, 'pbxctl reads what the web wrote');
      const analog = await pbxctl(['--data-dir', web.dataDir, 'fax', 'analog-t38', 'off', '--json']);
      assert.deepEqual(JSON.parse(analog.stdout), { analogT38: false });
      assert.deepEqual((await admin.request<Switches>('GET', '/api/fax-settings')).body, { t38: false, analogT38: false }, 'and the web what pbxctl wrote');
    });
  });
});
