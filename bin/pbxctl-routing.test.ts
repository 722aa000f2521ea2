/**
 * pbxctl ring-group / receptionist / conference against a real data dir (no pbx running): what the
 * commands write is what the store (and so the pbx) reads; bad input exits 1 with the store's
 * message and changes nothing; listings take --json.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sines } from '../services/media/dsp/synth.js';
import { decodeWavMono, encodeWav } from '../services/media/wav/wav.js';
import { openStore } from '../services/store/index.js';
import { pbxctl } from '../hw-tests/support/pbxctl.js';

test('pbxctl ring-group, receptionist, conference: write, list (--json), refuse bad input', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-ctl-routing-'));
  openStore(dir).close(); // an appliance database, as the pbx's first start leaves it
  const d = ['--data-dir', dir];
  const ok = async (args: string[]): Promise<string> => {
    const r = await pbxctl([...d, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const refused = async (args: string[], message: RegExp, code = 1): Promise<void> => {
    const r = await pbxctl([...d, ...args]);
    assert.equal(r.code, code, `${args.join(' ')} must fail: ${r.stdout}`);
    assert.match(r.stderr, message);
  };
  await ok(['extension', 'add', '101', '--name', 'Ana', '--secret', 'long-secret-1']);
  await ok(['extension', 'add', '102', '--name', 'Bo', '--secret', 'long-secret-2']);

  await ok(['ring-group', 'add', 'sales', '--members', '101,102:15', '--strategy', 'sequential', '--ring-seconds', '20', '--no-answer', 'extension:101', '--extension', '600']);
  await refused(['ring-group', 'add', 'x', '--members', '101', '--strategy', 'random'], /strategy must be simultaneous or sequential/);
  await refused(['ring-group', 'add', 'x', '--members', '101', '--no-answer', 'phone:1'], /unknown destination kind "phone"/);
  await refused(['ring-group', 'add', 'x', '--members', '101', '--ring-seconds', '2'], /at least 5 seconds/);
  await refused(['ring-group', 'add', 'x', '--members', '101', '--extension', '102'], /already extension 102/, 2);
  await refused(['ring-group', 'add', 'x', '--members', '101', '--extension', '8001'], /conference room/, 2);
  const groups = JSON.parse(await ok(['ring-group', 'list', '--json'])) as { name: string; members: unknown[] }[];
  assert.deepEqual(groups.map((g) => [g.name, g.members]), [['sales', [{ extension: '101' }, { extension: '102', ringSeconds: 15 }]]]);
  await ok(['ring-group', 'set', 'sales', '--strategy', 'simultaneous', '--no-answer', 'none']);
  assert.match(await ok(['ring-group', 'list']), /sales\s+600\s+simultaneous\s+101,102:15\s+20 s\s+-/);

  await ok(['receptionist', 'add', 'main', '--extension', '700', '--timezone', 'Europe/Stockholm', '--language', 'sv', '--operator', 'extension:101']);
  await refused(['receptionist', 'add', 'other', '--extension', '600'], /already ring group sales/, 2);
  await ok(['receptionist', 'hours', 'main', 'clear']);
  await ok(['receptionist', 'hours', 'main', 'mon-fri', '08:30-17:00']);
  await ok(['receptionist', 'hours', 'main', 'sat', '10:00-14:00']);
  await refused(['receptionist', 'hours', 'main', 'funday', '10:00-14:00'], /days must be like/);
  await ok(['receptionist', 'holiday', 'main', '2026-12-24']);
  await refused(['receptionist', 'holiday', 'main', '2026-02-30'], /not a calendar date/);
  await ok(['receptionist', 'option', 'main', '--menu', 'business', '1', 'ring-group:sales', '--label', 'sales']);
  await ok(['receptionist', 'option', 'main', '--menu', 'business', '9', 'dial-by-extension']);
  await ok(['receptionist', 'option', 'main', '--menu', 'after-hours', '1', 'voicemail:101']);
  await refused(['receptionist', 'option', 'main', '--menu', 'business', 'A', 'repeat'], /digit must be/);
  await refused(['receptionist', 'set', 'main', '--timezone', 'Mars/Olympus'], /IANA time zone/);
  // A 44.1 kHz WAV becomes an 8 kHz mono greeting; a file that is not a WAV changes nothing.
  const wav = path.join(dir, 'hello.wav');
  fs.writeFileSync(wav, encodeWav(sines([{ freq: 440, dbm0: -10 }], 44100, 0, 44100), 'pcm16', 44100));
  await ok(['receptionist', 'greeting', 'main', '--menu', 'business', wav]);
  fs.writeFileSync(path.join(dir, 'bad.wav'), 'not a wav');
  await refused(['receptionist', 'greeting', 'main', '--menu', 'after-hours', path.join(dir, 'bad.wav')], /not a usable WAV/);
  const shown = JSON.parse(await ok(['receptionist', 'show', 'main', '--json'])) as { hours: unknown[]; menus: { business: { greeting: string; options: unknown[] }; 'after-hours': { greeting: null } } };
  assert.equal(shown.hours.length, 6);
  assert.equal(shown.menus.business.greeting, 'main-business.wav');
  assert.equal(shown.menus['after-hours'].greeting, null);
  assert.equal(decodeWavMono(fs.readFileSync(path.join(dir, 'greetings', 'main-business.wav'))).length, 8000, '1 s at 8 kHz');

  await ok(['conference', 'set', '8001', '--pin', '2468']);
  await refused(['conference', 'set', '8001', '--pin', '12'], /3 to 10 digits/);
  await ok(['conference', 'limits', '--rooms', '5', '--participants', '6']);
  await refused(['conference', 'limits', '--participants', '500'], /participants must be/);
  const conf = JSON.parse(await ok(['conference', 'list', '--json'])) as unknown;
  assert.deepEqual(conf, { limits: { maxRooms: 5, maxParticipants: 6 }, rooms: [{ room: '8001', pinSet: true }] });

  // What the pbx will read.
  const store = openStore(dir);
  try {
    assert.equal(store.routing.ringGroups.byExtension('600')?.strategy, 'simultaneous');
    assert.equal(store.routing.receptionists.byExtension('700')?.language, 'sv');
    assert.equal(store.routing.conferenceRooms.pin('8001'), '2468');
  } finally {
    store.close();
  }
  await ok(['ring-group', 'remove', 'sales']);
  await refused(['ring-group', 'remove', 'sales'], /does not exist/, 2);
  await ok(['receptionist', 'remove', 'main']);
  fs.rmSync(dir, { recursive: true, force: true });
});
