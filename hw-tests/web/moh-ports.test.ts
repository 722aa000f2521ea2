/**
 * The web API of music on hold and the analog ports, against a real HTTPS server, a real SQLite
 * store and real sox: uploads converted as `pbxctl moh add` converts them (WAV 44.1 kHz stereo and
 * MP3 → 8 kHz mono), refused uploads (not audio, a truncated WAV, too short, too long, too big,
 * cut off, empty, a bad name) answered 400/413 with the reason and nothing stored; classes chosen
 * per extension, number, ring group and for the whole office, a class in use not removable;
 * transfer music; the analog ports assigned and set with pbxctl's rules and shown with the live
 * state the analog process reports; and pbxctl reading what the web wrote.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeWavMono } from '../../services/media/wav/wav.js';
import { levels } from '../media/harness.js';
import { pbxctl } from '../support/pbxctl.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

type Err = { error: { code: string; message: string; fields?: Record<string, string> } };
type MohList = { classes: Array<{ name: string; seconds: number; builtIn: boolean; usedBy: string[]; files: Array<{ file: string; source: string; seconds: number }> }>; defaultClass: string; choices: Array<{ owner: string; className: string }>; transfer: { music: boolean; recallSeconds: number } };

async function loggedIn(web: WebUnderTest, username: string, first: string, next: string): Promise<WebClient> {
  const c = new WebClient(web);
  assert.equal((await c.login(username, first)).status, 200);
  assert.equal((await c.request('POST', '/api/session/password', { current: first, next })).status, 200);
  return c;
}

/** The raw bytes of a GET (the JSON client reads text). */
function fetchBytes(web: WebUnderTest, client: WebClient, urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: web.port, path: urlPath, headers: { cookie: client.cookie ?? '' }, ca: web.ca, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${urlPath}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Files in the music folder other than the stored classes (leftovers of refused uploads). */
function leftovers(web: WebUnderTest, keep: string[]): string[] {
  const dir = path.join(web.dataDir, 'moh');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !keep.includes(f)) : [];
}

describe('web API: music on hold and analog ports', () => {
  let web: WebUnderTest;
  let admin: WebClient;
  let work: string;
  const sox = (...args: string[]) => execFileSync('sox', args, { stdio: 'pipe' });

  before(async () => {
    web = await startWebUi({ country: 'FR' });
    fs.writeFileSync(path.join(web.dataDir, 'config.json'), JSON.stringify({ country: 'FR' }));
    work = path.join(web.dataDir, 'work');
    fs.mkdirSync(work);
    seedAdmin(web.store);
    web.store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    web.store.extensions.add({ number: '102', displayName: 'Bob', secret: 'bob-secret-22' });
    admin = await loggedIn(web, 'admin', 'first-start-pw', 'admin-chosen-pw');
  });
  after(() => web.close());

  it('converts an uploaded 44.1 kHz stereo WAV and an MP3 to 8 kHz mono classes, plays them back, lists them', async () => {
    sox('-n', '-r', '44100', '-c', '2', '-b', '16', path.join(work, 'tone700.wav'), 'synth', '3', 'sine', '700', 'gain', '-6');
    const wav = await admin.upload<{ class: { name: string; seconds: number } }>('/api/moh/classes/tune', fs.readFileSync(path.join(work, 'tone700.wav')), { name: 'Tone 700.wav' });
    assert.ok(wav.status === 201, JSON.stringify(wav));
    assert.ok(Math.abs(wav.body.class.seconds - 3) < 0.05, `3 s stored: ${wav.body.class.seconds}`);
    const stored = decodeWavMono(fs.readFileSync(path.join(web.dataDir, 'moh', 'tune.wav')), 8000);
    assert.ok(Math.abs(stored.length - 24000) < 400, `8 kHz mono: ${stored.length} samples`);
    const [level] = levels(stored.subarray(4000, 8000), [700]);
    assert.ok((level ?? -99) > -20, `the stored music is the 700 Hz tone (${level} dB)`);

    sox('-n', '-r', '44100', '-c', '2', path.join(work, 'radio.mp3'), 'synth', '2', 'sine', '440');
    const mp3 = await admin.upload('/api/moh/classes/radio', fs.readFileSync(path.join(work, 'radio.mp3')), { name: 'radio.mp3' });
    assert.equal(mp3.status, 201, JSON.stringify(mp3));
    assert.ok(fs.existsSync(path.join(web.dataDir, 'moh', 'radio.wav')));

    const audio = await admin.request('GET', '/api/moh/classes/tune/audio');
    assert.equal(audio.status, 200);
    assert.match(String(audio.headers['content-type']), /audio\/wav/);
    assert.equal(audio.text.slice(0, 4), 'RIFF');
    // The built-in default can be previewed too.
    const builtIn = await admin.request('GET', '/api/moh/classes/default/audio');
    assert.equal(builtIn.status, 200);
    assert.equal((await admin.request('GET', '/api/moh/classes/nosuch/audio')).status, 404);

    const list = await admin.request<MohList>('GET', '/api/moh');
    assert.deepEqual(list.body.classes.map((c) => [c.name, c.builtIn, c.files.map((f) => f.source)]), [['default', true, []], ['radio', false, ['radio.mp3']], ['tune', false, ['Tone_700.wav']]]);
    assert.equal(list.body.defaultClass, 'default');
    // pbxctl sees what the web stored, in the same store.
    const ctl = await pbxctl(['--data-dir', web.dataDir, 'moh', 'list', '--json']);
    assert.equal(ctl.code, 0, ctl.stderr);
    assert.deepEqual((JSON.parse(ctl.stdout) as { classes: Array<{ name: string }> }).classes.map((c) => c.name), ['radio', 'tune']);
  });

  it('appends a file to a class\'s playlist, plays the whole class and each file, removes a file', async () => {
    sox('-n', '-r', '16000', '-c', '1', '-b', '16', path.join(work, 'tone1300.wav'), 'synth', '2', 'sine', '1300', 'gain', '-6');
    const added = await admin.upload<{ class: { seconds: number; files: Array<{ file: string; source: string }> } }>('/api/moh/classes/tune?append=1', fs.readFileSync(path.join(work, 'tone1300.wav')), { name: 'tone1300.wav' });
    assert.ok(added.status === 201, JSON.stringify(added));
    assert.deepEqual(added.body.class.files.map((f) => f.source), ['Tone_700.wav', 'tone1300.wav']);
    assert.ok(Math.abs(added.body.class.seconds - 5) < 0.1);
    const second = added.body.class.files[1]?.file as string;
    // The class as a held caller hears it: 3 s of 700 Hz, then 2 s of 1300 Hz.
    const pcm = decodeWavMono(await fetchBytes(web, admin, '/api/moh/classes/tune/audio'), 8000);
    assert.ok(Math.abs(pcm.length - 40000) < 800, `5 s: ${pcm.length} samples`);
    const [early700, early1300] = levels(pcm.subarray(8000, 16000), [700, 1300]);
    const [late700, late1300] = levels(pcm.subarray(28000, 36000), [700, 1300]);
    assert.ok((early700 ?? -99) > -20 && (early1300 ?? 0) < -40, `first the 700 Hz file (${early700}, ${early1300})`);
    assert.ok((late1300 ?? -99) > -20 && (late700 ?? 0) < -40, `then the 1300 Hz file (${late700}, ${late1300})`);
    const one = decodeWavMono(await fetchBytes(web, admin, `/api/moh/classes/tune/files/${second}/audio`), 8000);
    assert.ok(Math.abs(one.length - 16000) < 400, `one file: ${one.length}`);
    assert.equal((await admin.request('GET', '/api/moh/classes/tune/files/..%2Fpbx.sqlite/audio')).status, 404);
    assert.equal((await admin.request('DELETE', `/api/moh/classes/tune/files/${second}`)).status, 200);
    assert.ok(!fs.existsSync(path.join(web.dataDir, 'moh', second)));
    assert.deepEqual(web.store.moh.get('tune')?.files.map((f) => f.file), ['tune.wav']);
    assert.equal((await admin.request('DELETE', `/api/moh/classes/tune/files/${second}`)).status, 404);
  });

  it('refuses what is not usable audio with the reason, and stores nothing', async () => {
    const before = web.store.moh.list().length;
    const refuse = async (name: string, bytes: Uint8Array, opts: Parameters<WebClient['upload']>[2], status: number, code: string) => {
      const res = await admin.upload<Err>(`/api/moh/classes/${name}`, bytes, opts);
      assert.ok(res.status !== 'reset', `${name}: ${JSON.stringify(res)}`);
      assert.equal(res.status, status, `${name}: ${res.text}`);
      assert.equal(res.body.error.code, code, `${name}: ${res.text}`);
      assert.equal(web.store.moh.get(name), null, `${name}: no class`);
    };
    await refuse('text', Buffer.from('this is not music at all\n'.repeat(100)), { name: 'notes.txt' }, 400, 'audio-not-audio');
    await refuse('fake', Buffer.from('this is not music at all\n'.repeat(100)), { name: 'fake.mp3' }, 400, 'audio-not-audio');
    // A WAV whose data chunk says more than arrived (a file cut short before the upload).
    const whole = fs.readFileSync(path.join(work, 'tone700.wav'));
    await refuse('cut', whole.subarray(0, 20_000), { name: 'cut.wav' }, 400, 'audio-not-audio');
    sox('-n', '-r', '8000', '-c', '1', '-b', '16', path.join(work, 'short.wav'), 'synth', '0.2', 'sine', '700');
    await refuse('short', fs.readFileSync(path.join(work, 'short.wav')), { name: 'short.wav' }, 400, 'audio-too-short');
    sox('-n', '-r', '8000', '-c', '1', '-b', '16', path.join(work, 'long.wav'), 'synth', '601', 'sine', '700');
    await refuse('long', fs.readFileSync(path.join(work, 'long.wav')), { name: 'long.wav' }, 400, 'audio-too-long');
    // Over the size limit by its declared length: refused before a byte is read.
    await refuse('huge', whole.subarray(0, 1000), { name: 'huge.wav', declare: 200 * 1024 * 1024, headersOnly: true }, 413, 'too-large');
    // The connection ends after 1000 of the declared bytes: nothing answers a closed socket, nothing is kept.
    const torn = await admin.upload('/api/moh/classes/torn', whole, { name: 'torn.wav', cut: 1000 });
    assert.equal(torn.status, 'reset');
    assert.equal(web.store.moh.get('torn'), null);
    await refuse('altered', whole, { name: 'altered.wav', sha256: '0'.repeat(64) }, 400, 'checksum');
    await refuse('empty', new Uint8Array(0), { name: 'empty.wav' }, 400, 'empty-file');
    await refuse('Bad%20Name', whole, { name: 'x.wav' }, 400, 'invalid');
    assert.equal(web.store.moh.list().length, before);
    // The cut upload's temporary file goes when the server sees the connection end.
    for (let i = 0; i < 40 && leftovers(web, ['tune.wav', 'radio.wav']).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(leftovers(web, ['tune.wav', 'radio.wav']), [], 'no temporary or converted file left behind');
  });

  it('chooses classes per extension, number, ring group and for the whole office, as pbxctl moh use does', async () => {
    const choose = (target: string, className: string | null) => admin.request<Err>('PUT', '/api/moh/choices', { target, className });
    assert.equal((await choose('extension:101', 'tune')).status, 200);
    assert.equal((await choose('number:01 42 68 53 00', 'radio')).status, 200);
    assert.equal((await choose('ring-group:sales', 'radio')).status, 200);
    assert.equal((await choose('default', 'tune')).status, 200);
    assert.equal(web.store.moh.choiceOf('number:+33142685300'), 'radio', 'the number is stored in E.164');
    assert.equal(web.store.moh.choiceOf('default'), 'tune');
    const missingExtension = await choose('extension:999', 'tune');
    assert.equal(missingExtension.status, 404);
    assert.match(missingExtension.body.error.message, /extension 999 does not exist/);
    assert.equal((await choose('extension:102', 'nosuch')).status, 404);
    assert.equal((await choose('user:bob', 'tune')).body.error.fields?.['target'], 'format');
    assert.equal(web.store.moh.choiceOf('extension:102'), null, 'refused choices store nothing');

    const listed = await admin.request<MohList>('GET', '/api/moh');
    assert.equal(listed.body.defaultClass, 'tune');
    assert.deepEqual(listed.body.classes.find((c) => c.name === 'tune')?.usedBy, ['default', 'extension:101']);

    // A class someone uses cannot go; once nobody does, it goes with its file.
    const busy = await admin.request<Err>('DELETE', '/api/moh/classes/radio');
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, 'moh-in-use');
    assert.ok(fs.existsSync(path.join(web.dataDir, 'moh', 'radio.wav')));
    assert.equal((await choose('number:+33142685300', null)).status, 200);
    assert.equal((await choose('ring-group:sales', null)).status, 200);
    assert.equal((await admin.request('DELETE', '/api/moh/classes/radio')).status, 200);
    assert.ok(!fs.existsSync(path.join(web.dataDir, 'moh', 'radio.wav')));
    assert.equal((await admin.request('DELETE', '/api/moh/classes/radio')).status, 404);
  });

  it('sets transfer music and the recall time with the store\'s rule', async () => {
    const ok = await admin.request<{ transfer: { music: boolean; recallSeconds: number } }>('PUT', '/api/moh/transfer', { music: true, recallSeconds: 30 });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(web.store.moh.transfer(), { music: true, recallSeconds: 30 });
    const bad = await admin.request<Err>('PUT', '/api/moh/transfer', { recallSeconds: 2 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.fields?.['recallSeconds'], 'recall-range');
    assert.equal((await admin.request<Err>('PUT', '/api/moh/transfer', { music: 'yes' })).status, 400);
    assert.deepEqual(web.store.moh.transfer(), { music: true, recallSeconds: 30 });
    const ctl = await pbxctl(['--data-dir', web.dataDir, 'moh', 'transfer', '--json']);
    assert.deepEqual(JSON.parse(ctl.stdout), { music: true, recallSeconds: 30 });
  });

  it('assigns FXS ports and sets country and the FXO line number with pbxctl port\'s rules; shows the live state', async () => {
    type Ports = { ports: Array<{ port: string; extension: string | null; number: string | null; country: string; countryIsDefault: boolean; callerIdStandard: string; state: string; offHook: boolean }>; system: Array<{ name: string; state: string }> };
    const empty = await admin.request<Ports>('GET', '/api/ports');
    assert.deepEqual(empty.body.ports, []);
    assert.equal((await admin.request('PUT', '/api/ports/fxs1/extension', { extension: '101' })).status, 200);
    const fxo = await admin.request<Err>('PUT', '/api/ports/fxo1/extension', { extension: '101' });
    assert.equal(fxo.body.error.fields?.['extension'], 'fxs-only');
    const ghost = await admin.request<Err>('PUT', '/api/ports/fxs2/extension', { extension: '999' });
    assert.equal(ghost.body.error.fields?.['extension'], 'no-extension');
    assert.equal((await admin.request('PUT', '/api/ports/fxz1/extension', { extension: '101' })).status, 404);
    assert.equal((await admin.request('PATCH', '/api/ports/fxs1', { country: 'SE' })).status, 200);
    const badCountry = await admin.request<Err>('PATCH', '/api/ports/fxs1', { country: 'DE' });
    assert.equal(badCountry.status, 400);
    assert.ok(badCountry.body.error.fields?.['country']);
    const number = await admin.request('PATCH', '/api/ports/fxo1', { number: '01 42 68 53 10' });
    assert.equal(number.status, 200, number.text);
    assert.equal((await admin.request<Err>('PATCH', '/api/ports/fxs1', { number: '01 42 68 53 11' })).body.error.fields?.['number'], 'fxo-only');
    assert.equal((await admin.request<Err>('PATCH', '/api/ports/fxo1', { number: '12' })).body.error.fields?.['number'], 'phone-number');
    assert.deepEqual(web.store.analog.get('fxs1'), { ...web.store.analog.get('fxs1'), extension: '101', country: 'SE' });
    assert.equal(web.store.analog.get('fxo1')?.number, '+33142685310');
    assert.equal(web.store.analog.get('fxs2')?.extension ?? null, null, 'the refused assignment wrote nothing');

    // What the analog process reports shows while it is fresh.
    web.store.analog.report([
      { name: 'board', state: 'up', detail: 'firmware 1.0, fxs1 fxs2 fxo1' },
      { name: 'fxs1', state: 'registered', detail: 'dial tone, off-hook' },
      { name: 'fxo1', state: 'idle', detail: 'line idle' },
    ]);
    const live = await admin.request<Ports>('GET', '/api/ports');
    assert.deepEqual(live.body.system.map((s) => [s.name, s.state]), [['board', 'up']]);
    assert.deepEqual(live.body.ports.map((p) => [p.port, p.extension, p.number, p.country, p.callerIdStandard, p.state, p.offHook]), [
      ['fxs1', '101', null, 'SE', 'v23', 'registered', true],
      ['fxo1', null, '+33142685310', 'FR', 'v23', 'idle', false],
    ]);
    const dashboard = await admin.request<{ ports: Array<{ name: string; state: string }> }>('GET', '/api/dashboard');
    assert.deepEqual(dashboard.body.ports, [{ name: 'fxs1', state: 'registered' }, { name: 'fxo1', state: 'idle' }]);
    // pbxctl lists what the web set.
    const ctl = await pbxctl(['--data-dir', web.dataDir, 'port', 'list', '--json']);
    assert.deepEqual((JSON.parse(ctl.stdout) as Array<{ port: string; extension: string | null; country: string }>).map((p) => [p.port, p.extension, p.country]), [['fxs1', '101', 'SE'], ['fxo1', null, 'FR']]);
    assert.equal((await admin.request('PUT', '/api/ports/fxs1/extension', { extension: null })).status, 200);
    assert.equal(web.store.analog.get('fxs1')?.extension, null);
  });
});
