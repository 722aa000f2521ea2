import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { muLawEncode } from '../codec/g711.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { decodeCacheSize, loadAudioFile, MusicOnHold, type MohClass } from './moh.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moh-test-'));
test.after(() => fs.rmSync(root, { recursive: true, force: true }));

function sox(...args: string[]): void {
  execFileSync('sox', args, { stdio: 'pipe' });
}

// Uploaded music in whatever format people have: a 44.1 kHz stereo file, a 16 kHz one, an 8 kHz μ-law one.
fs.mkdirSync(path.join(root, 'jazz'));
fs.mkdirSync(path.join(root, 'rock'));
sox('-n', '-r', '44100', '-c', '2', '-b', '16', path.join(root, 'jazz', '01-intro.wav'), 'synth', '2', 'sine', '440', 'gain', '-10');
sox('-n', '-r', '16000', '-c', '1', '-b', '16', path.join(root, 'jazz', '02-theme.wav'), 'synth', '1', 'sine', '1000', 'gain', '-10');
sox('-n', '-r', '8000', '-c', '1', '-e', 'u-law', path.join(root, 'rock', 'song.wav'), 'synth', '1.5', 'sine', '697', 'gain', '-10');
fs.writeFileSync(path.join(root, 'rock', 'zz-broken.wav'), 'RIFF\x00\x00\x00\x00WAVEfmt ');
fs.mkdirSync(path.join(root, 'empty'));

function relDb(pcm: Int16Array, f: number): number {
  return 10 * Math.log10((detectTones(pcm, [f])[0] ?? 0) / meanSquare(pcm) + 1e-12);
}

async function loaded(): Promise<MusicOnHold> {
  const moh = new MusicOnHold();
  const r = await moh.loadFolder(root);
  assert.deepEqual(r.loaded.sort(), ['jazz', 'rock']);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]?.file ?? '', /zz-broken\.wav$/);
  assert.match(r.errors[0]?.error ?? '', /fmt chunk/);
  return moh;
}

test('a folder of classes loads files of any rate, decoded once to 8 kHz', async () => {
  const moh = await loaded();
  const jazz = moh.get('jazz') as MohClass;
  assert.ok(Math.abs(jazz.audio.length - 24000) <= 2, `2 s + 1 s at 8 kHz (${jazz.audio.length})`);
  assert.ok(relDb(jazz.audio.subarray(400, 15600), 440) > -1, 'the 44.1 kHz stereo part is 440 Hz');
  assert.ok(relDb(jazz.audio.subarray(16400, 23600), 1000) > -1, 'the 16 kHz part is 1000 Hz');
  const rock = moh.get('rock') as MohClass;
  assert.equal(rock.audio.length, 12000);
  assert.ok(relDb(rock.audio, 697) > -1, 'μ-law file decoded');
  // A second load of the same files reuses the decoded audio.
  const before = decodeCacheSize();
  const again = await loadAudioFile(path.join(root, 'jazz', '01-intro.wav'));
  assert.equal(again, await loadAudioFile(path.join(root, 'jazz', '01-intro.wav')));
  await new MusicOnHold().loadFolder(root);
  assert.equal(decodeCacheSize(), before);
});

test('two callers on one class get the identical frame; a late caller hears from the current position', async () => {
  const moh = await loaded();
  const jazz = moh.get('jazz') as MohClass;
  const a: Int16Array[] = [];
  const b: Int16Array[] = [];
  const subA = moh.hold('jazz', (f) => a.push(f.slice()));
  for (let k = 0; k < 30; k++) moh.tick();
  const joinPos = jazz.position;
  assert.equal(joinPos, 30 * 160);
  const subB = moh.hold('jazz', (f, cls) => {
    assert.equal(cls, jazz);
    b.push(f.slice());
  });
  for (let k = 0; k < 200; k++) moh.tick(); // runs past the end of the 3 s playlist: it loops
  assert.equal(a.length, 230);
  assert.equal(b.length, 200);
  for (let k = 0; k < 200; k++) assert.deepEqual(b[k], a[30 + k], `frame ${k} identical for both callers`);
  assert.deepEqual(b[0], jazz.audio.subarray(joinPos, joinPos + 160), 'B starts where the stream is');
  // Wrap-around keeps continuity: frame 150 is audio[24000 - …] spliced with the start.
  const flat = new Int16Array(230 * 160);
  a.forEach((f, k) => flat.set(f, k * 160));
  for (let i = 0; i < flat.length; i++) assert.equal(flat[i], jazz.audio[i % jazz.audio.length]);
  // One G.711 encoding per tick, shared.
  assert.equal(jazz.encoded('PCMU'), jazz.encoded('PCMU'));
  assert.deepEqual(jazz.encoded('PCMU'), muLawEncode(jazz.frame));
  subA.release();
  subB.release();
  const pos = jazz.position;
  moh.tick();
  assert.equal(jazz.position, pos, 'a class nobody listens to does not run');
  assert.equal(a.length, 230);
});

test('a second class is an independent stream', async () => {
  const moh = await loaded();
  const jazzHeard: Int16Array[] = [];
  const rockHeard: Int16Array[] = [];
  moh.hold('jazz', (f) => jazzHeard.push(f.slice()));
  for (let k = 0; k < 40; k++) moh.tick();
  moh.hold('rock', (f) => rockHeard.push(f.slice()));
  for (let k = 0; k < 50; k++) moh.tick();
  const rock = moh.get('rock') as MohClass;
  assert.equal(rock.position, 50 * 160, 'rock started at its own beginning');
  const cat = (fs_: Int16Array[]): Int16Array => {
    const o = new Int16Array(fs_.length * 160);
    fs_.forEach((f, k) => o.set(f, k * 160));
    return o;
  };
  const r = cat(rockHeard);
  const j = cat(jazzHeard.slice(40));
  assert.ok(relDb(r, 697) > -1 && relDb(r, 440) < -50, 'rock callers hear rock only');
  assert.ok(relDb(j, 440) > -1 && relDb(j, 697) < -50, 'jazz callers hear jazz only');
  assert.throws(() => moh.hold('polka', () => undefined), /no music-on-hold class polka \(have jazz, rock\)/);
});

test('a listener that throws does not silence the others; reload keeps callers on hold', async () => {
  const moh = await loaded();
  let got = 0;
  moh.hold('rock', () => {
    throw new Error('broken leg');
  });
  moh.hold('rock', () => got++);
  moh.tick();
  assert.equal(got, 1);
  const cls = await moh.loadClass('rock', [path.join(root, 'jazz', '02-theme.wav')]);
  moh.tick();
  assert.equal(got, 2);
  assert.equal(cls.listenerCount, 2);
});
