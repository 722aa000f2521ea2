/**
 * The music uploaded in the web UI is what a held caller hears: an admin uploads a 700 Hz sine WAV
 * (made by sox, 44.1 kHz stereo) through the web API and gives it to extension 202; 201 calls 202,
 * 202 puts the call on hold, and 201's phone (sip.js with an RTP phone) hears 700 Hz in the RTP it
 * receives. The admin then takes the choice back in the web UI: the next hold plays the built-in
 * tune, with no 700 Hz in it; made the office's music, it is heard again. Same data dir, same store, real pbx stack in this process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { describeLevels, levels, sleep } from '../media/harness.js';
import { startOfficePbx, type OfficePbx } from '../routing/office-pbx.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

const MUSIC = 700;
const VOICE_202 = 1800;
const FREQS = [MUSIC, VOICE_202] as const;

let pbx: OfficePbx;
let web: WebUnderTest;
let admin: WebClient;
const phones: Record<string, SipPhone> = {};

before(async () => {
  pbx = await startOfficePbx([{ number: '201' }, { number: '202' }]);
  for (const n of ['201', '202']) phones[n] = await pbx.phone(n);
  web = await startWebUi({ dataDir: pbx.dir, country: 'US' });
  seedAdmin(web.store);
  admin = new WebClient(web);
  assert.equal((await admin.login('admin', 'first-start-pw')).status, 200);
  assert.equal((await admin.request('POST', '/api/session/password', { current: 'first-start-pw', next: 'admin-chosen-pw' })).status, 200);
});
after(async () => {
  await web?.close();
  await pbx?.close();
});

/** What 201 heard over `ms` from a moment after now, as levels of the music and of 202's voice. */
async function hears(call: PhoneCall, ms = 1000): Promise<{ music: number; voice: number; text: string }> {
  await sleep(300);
  const from = performance.now();
  await sleep(ms);
  const l = levels(call.media.pcmBetween(from, performance.now()), FREQS);
  return { music: l[0] as number, voice: l[1] as number, text: describeLevels(FREQS, l) };
}

async function holdAndListen(): Promise<{ music: number; voice: number; text: string }> {
  const incoming = (phones['202'] as SipPhone).nextIncoming();
  const a = await (phones['201'] as SipPhone).call('202');
  const b = await incoming;
  await b.established;
  b.media.setSignal({ kind: 'tones', freqs: [VOICE_202] });
  const talking = await hears(a, 500);
  assert.ok(talking.voice > -25, `201 hears 202 before the hold: ${talking.text}`);
  await (phones['202'] as SipPhone).reinvite(b, 'sendonly');
  const held = await hears(a);
  await (phones['201'] as SipPhone).hangUp(a);
  await b.ended;
  return held;
}

test('a held caller hears the music uploaded and assigned in the web UI', async () => {
  const wav = path.join(pbx.dir, 'sine700.wav');
  execFileSync('sox', ['-n', '-r', '44100', '-c', '2', '-b', '16', wav, 'synth', '6', 'sine', String(MUSIC), 'gain', '-8']);
  const uploaded = await admin.upload('/api/moh/classes/office', fs.readFileSync(wav), { name: 'sine700.wav' });
  assert.ok(uploaded.status === 201, JSON.stringify(uploaded));
  const chosen = await admin.request('PUT', '/api/moh/choices', { target: 'extension:202', className: 'office' });
  assert.equal(chosen.status, 200, chosen.text);

  const held = await holdAndListen();
  console.log(`201 held by 202 (class office): ${held.text}`);
  assert.ok(held.music > -30, `201 hears the uploaded 700 Hz music: ${held.text}`);
  assert.ok(held.voice < -45, `201 no longer hears 202: ${held.text}`);
});

test('taking the choice back in the web UI: the next hold plays the built-in tune, not the upload', async () => {
  const back = await admin.request('PUT', '/api/moh/choices', { target: 'extension:202', className: null });
  assert.equal(back.status, 200, back.text);
  const held = await holdAndListen();
  console.log(`201 held by 202 (built-in default): ${held.text}`);
  assert.ok(held.music < -40, `no 700 Hz any more: ${held.text}`);
  assert.ok(held.voice < -45, `and not 202's voice: ${held.text}`);
});

test("the office's music chosen in the web UI reaches a hold no other rule covers", async () => {
  const office = await admin.request('PUT', '/api/moh/choices', { target: 'default', className: 'office' });
  assert.equal(office.status, 200, office.text);
  const held = await holdAndListen();
  console.log(`201 held by 202 (the office's music): ${held.text}`);
  assert.ok(held.music > -30, `the office's music is the uploaded 700 Hz: ${held.text}`);
});
