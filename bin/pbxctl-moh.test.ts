/**
 * pbxctl moh against a real data dir: a WAV (44.1 kHz stereo) and an MP3 are converted at upload
 * to 8 kHz mono, a file that is not audio is refused and nothing is written, classes are named by
 * extensions (`moh use`, `extension set --moh`), numbers and ring groups, a class in use cannot be
 * removed, the transfer settings are validated; listings take --json.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sines } from '../services/media/dsp/synth.js';
import { decodeWavMono, encodeWav } from '../services/media/wav/wav.js';
import { openStore } from '../services/store/index.js';
import { pbxctl } from '../hw-tests/support/pbxctl.js';

test('pbxctl moh: upload WAV and MP3, choose per extension/number/ring group, refuse bad input, transfer settings', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-ctl-moh-'));
  openStore(dir).close();
  const d = ['--data-dir', dir];
  const ok = async (args: string[]): Promise<string> => {
    const r = await pbxctl([...d, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const refused = async (args: string[], message: RegExp): Promise<void> => {
    const r = await pbxctl([...d, ...args]);
    assert.notEqual(r.code, 0, `${args.join(' ')} must fail: ${r.stdout}`);
    assert.match(r.stderr, message);
  };
  await ok(['extension', 'add', '101', '--name', 'Ana', '--secret', 'long-secret-1']);

  const wav = path.join(dir, 'in.wav');
  fs.writeFileSync(wav, encodeWav(sines([{ freq: 600, dbm0: -10 }], 44100 * 2, 0, 44100), 'pcm16', 44100));
  await ok(['moh', 'add', 'jazz', wav]);
  const stored = decodeWavMono(fs.readFileSync(path.join(dir, 'moh', 'jazz.wav')), 8000);
  assert.ok(Math.abs(stored.length - 16000) < 50, `8 kHz mono, 2 s: ${stored.length} samples`);

  const mp3 = path.join(dir, 'in.mp3');
  execFileSync('sox', ['-n', '-r', '44100', '-c', '2', mp3, 'synth', '1.5', 'sine', '440']);
  await ok(['moh', 'add', 'radio', mp3]);
  assert.ok(fs.existsSync(path.join(dir, 'moh', 'radio.wav')), 'the MP3 is stored converted');

  const junk = path.join(dir, 'junk.txt');
  fs.writeFileSync(junk, 'not audio at all');
  await refused(['moh', 'add', 'junk', junk], /not an audio file/);
  assert.ok(!fs.existsSync(path.join(dir, 'moh', 'junk.wav')), 'nothing written for a bad upload');
  await refused(['moh', 'add', 'Bad Name', wav], /class name/);

  // A playlist: a second file appended (its own stored name), listed in order, removed again.
  await ok(['moh', 'add', 'radio', wav, '--append']);
  let playlist = (JSON.parse(await ok(['moh', 'list', '--json'])) as { classes: Array<{ name: string; seconds: number; files: Array<{ file: string; source: string }> }> }).classes.find((c) => c.name === 'radio');
  assert.deepEqual(playlist?.files.map((f) => f.source), ['in.mp3', 'in.wav']);
  assert.ok(Math.abs((playlist?.seconds ?? 0) - 3.5) < 0.1, `the class plays both: ${playlist?.seconds} s`);
  const second = playlist?.files[1]?.file as string;
  assert.match(second, /^radio--[0-9a-f]{8}\.wav$/);
  assert.ok(fs.existsSync(path.join(dir, 'moh', second)));
  await refused(['moh', 'remove', 'radio', '--file', 'nosuch.wav'], /has no file nosuch\.wav/);
  await ok(['moh', 'remove', 'radio', '--file', second]);
  assert.ok(!fs.existsSync(path.join(dir, 'moh', second)));
  playlist = (JSON.parse(await ok(['moh', 'list', '--json'])) as { classes: Array<{ name: string; seconds: number; files: Array<{ file: string; source: string }> }> }).classes.find((c) => c.name === 'radio');
  assert.deepEqual(playlist?.files.map((f) => f.file), ['radio.wav']);

  await ok(['moh', 'use', 'jazz', '--extension', '101']);
  await ok(['moh', 'use', 'radio', '--number', '+15551230000']);
  await ok(['moh', 'use', 'radio', '--ring-group', 'sales']);
  await refused(['moh', 'use', 'nosuch', '--extension', '101'], /no music-on-hold class nosuch/);
  await refused(['moh', 'use', 'jazz', '--extension', '999'], /extension 999 does not exist/);
  await refused(['moh', 'remove', 'jazz'], /used by extension:101/);
  await ok(['extension', 'set', '101', '--moh', 'radio']);

  const listed = JSON.parse(await ok(['moh', 'list', '--json'])) as { classes: { name: string }[]; builtInDefault: boolean; choices: { owner: string; className: string }[] };
  assert.deepEqual(listed.classes.map((c) => c.name), ['jazz', 'radio']);
  assert.equal(listed.builtInDefault, true);
  assert.deepEqual(listed.choices, [
    { owner: 'extension:101', className: 'radio' },
    { owner: 'number:+15551230000', className: 'radio' },
    { owner: 'ring-group:sales', className: 'radio' },
  ]);
  // The office's music: a rule like the others, and it keeps its class from being removed.
  await ok(['moh', 'use', 'jazz', '--default']);
  await refused(['moh', 'remove', 'jazz'], /used by default/);
  await refused(['moh', 'use', 'jazz', '--default', '--extension', '101'], /exactly one of/);
  await ok(['moh', 'use', 'none', '--default']);
  await ok(['moh', 'remove', 'jazz']);
  assert.ok(!fs.existsSync(path.join(dir, 'moh', 'jazz.wav')));

  assert.deepEqual(JSON.parse(await ok(['moh', 'transfer', '--json'])), { music: false, recallSeconds: 20 });
  assert.deepEqual(JSON.parse(await ok(['moh', 'transfer', '--transfer-music', 'on', '--recall-seconds', '30', '--json'])), { music: true, recallSeconds: 30 });
  await refused(['moh', 'transfer', '--recall-seconds', '2'], /5-300 seconds/);
  await refused(['moh', 'transfer', '--transfer-music', 'maybe'], /on or off/);
  const store = openStore(dir);
  assert.deepEqual(store.moh.transfer(), { music: true, recallSeconds: 30 });
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
