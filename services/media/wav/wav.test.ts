import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { aLawDecode, aLawEncode, muLawDecode, muLawEncode } from '../codec/g711.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { sines, whiteNoise, mix } from '../dsp/synth.js';
import { decodeWav, decodeWavMono, encodeWav, parseWavHeader, readWavFile, WavError, writeWavFile } from './wav.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wav-test-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sox(...args: string[]): void {
  execFileSync('sox', args, { stdio: 'pipe' });
}

/** Power at `f` relative to the total power of the block, in dB. */
function relDb(pcm: Int16Array, f: number): number {
  const [p] = detectTones(pcm, [f]);
  return 10 * Math.log10((p ?? 0) / meanSquare(pcm) + 1e-12);
}

const speechLike = mix(8000, sines([{ freq: 440, dbm0: -10 }, { freq: 1209, dbm0: -14 }], 8000), whiteNoise(8000, -30, 7));

test('16-bit PCM round-trips bit-exactly and sox agrees with the header', async () => {
  const file = path.join(tmp, 'pcm16.wav');
  await writeWavFile(file, speechLike, 'pcm16');
  const { info, channels } = decodeWav(fs.readFileSync(file));
  assert.equal(info.encoding, 'pcm16');
  assert.equal(info.sampleRate, 8000);
  assert.equal(info.channels, 1);
  assert.equal(info.frames, 8000);
  assert.deepEqual(channels[0], speechLike);
  assert.equal(fs.statSync(file).size, 44 + 16000);
  const soxi = execFileSync('soxi', [file]).toString();
  assert.match(soxi, /Sample Rate\s*:\s*8000/);
  assert.match(soxi, /8000 samples/);
});

for (const [encoding, enc, dec, soxEnc] of [
  ['mulaw', muLawEncode, muLawDecode, 'u-law'],
  ['alaw', aLawEncode, aLawDecode, 'a-law'],
] as const) {
  test(`${encoding} WAV round-trips to the G.711 codewords and sox decodes it identically`, async () => {
    const file = path.join(tmp, `${encoding}.wav`);
    await writeWavFile(file, speechLike, encoding);
    const buf = fs.readFileSync(file);
    const info = parseWavHeader(buf);
    assert.equal(info.encoding, encoding);
    assert.equal(info.bitsPerSample, 8);
    assert.equal(info.frames, 8000);
    // The codewords on disk are exactly G.711 of the input.
    assert.deepEqual(new Uint8Array(buf.subarray(info.dataOffset, info.dataOffset + info.dataBytes)), enc(speechLike));
    const ours = decodeWavMono(buf);
    assert.deepEqual(ours, dec(enc(speechLike)));
    // sox (an independent implementation) reads our file and gets the same linear samples.
    const raw = path.join(tmp, `${encoding}.raw`);
    sox(file, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', raw);
    const soxPcm = new Int16Array(new Uint8Array(fs.readFileSync(raw)).buffer);
    assert.equal(soxPcm.length, ours.length);
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs((soxPcm[i] ?? 0) - (ours[i] ?? 0)));
    assert.ok(maxDiff <= 8, `sox decodes ${soxEnc} within rounding of ours (max diff ${maxDiff})`);
    assert.match(execFileSync('soxi', [file]).toString(), new RegExp(soxEnc, 'i'));
  });
}

test('44.1 kHz stereo file from sox is read at 8 kHz with the tone in place and no aliasing', async () => {
  const file = path.join(tmp, 'cd.wav');
  // 1000 Hz in the band + 6000 Hz above the new Nyquist, which would alias to 2000 Hz if not filtered.
  sox('-n', '-r', '44100', '-c', '2', '-b', '16', file, 'synth', '1', 'sine', '1000', 'sine', '6000', 'gain', '-8');
  const info = parseWavHeader(fs.readFileSync(file));
  assert.equal(info.sampleRate, 44100);
  assert.equal(info.channels, 2);
  const pcm = await readWavFile(file);
  assert.ok(Math.abs(pcm.length - 8000) <= 1, `length ${pcm.length}`);
  const mid = pcm.subarray(400, 7600);
  assert.ok(relDb(mid, 1000) > -1, `1000 Hz carries the power (${relDb(mid, 1000).toFixed(1)} dB)`);
  assert.ok(relDb(mid, 2000) < -50, `no alias of 6 kHz at 2 kHz (${relDb(mid, 2000).toFixed(1)} dB)`);
  assert.ok(relDb(mid, 1100) < -40, 'tone is not shifted');
});

test('16 kHz file reads at 8 kHz (697 Hz kept) and at 16 kHz unchanged (for G.722)', async () => {
  const file = path.join(tmp, 'wide.wav');
  sox('-n', '-r', '16000', '-c', '1', '-b', '16', file, 'synth', '0.5', 'sine', '697', 'gain', '-6');
  const at8 = await readWavFile(file, 8000);
  assert.equal(at8.length, 4000);
  assert.ok(relDb(at8.subarray(200, 3800), 697) > -1);
  assert.ok(relDb(at8.subarray(200, 3800), 770) < -40);
  const at16 = await readWavFile(file, 16000);
  assert.equal(at16.length, 8000);
  assert.deepEqual(at16, decodeWav(fs.readFileSync(file)).channels[0]);
});

test('8-bit unsigned, 24-bit, 32-bit float and WAVE_FORMAT_EXTENSIBLE uploads decode', async () => {
  const cases: [string, string[]][] = [
    ['u8.wav', ['-r', '11025', '-b', '8', '-e', 'unsigned-integer']],
    ['s24.wav', ['-r', '48000', '-b', '24', '-e', 'signed-integer']],
    ['f32.wav', ['-r', '22050', '-b', '32', '-e', 'floating-point']],
    ['ext.wav', ['-r', '32000', '-c', '3', '-b', '16', '-e', 'signed-integer']], // >2 channels: sox writes EXTENSIBLE
  ];
  for (const [name, fmt] of cases) {
    const file = path.join(tmp, name);
    sox('-n', ...fmt, file, 'synth', '0.5', 'sine', '1209', 'gain', '-6');
    const pcm = await readWavFile(file);
    assert.ok(Math.abs(pcm.length - 4000) <= 1, `${name}: ${pcm.length} samples`);
    const db = relDb(pcm.subarray(200, 3800), 1209);
    assert.ok(db > -1.5, `${name}: 1209 Hz present (${db.toFixed(1)} dB)`);
    assert.ok(meanSquare(pcm) > 1e6, `${name}: not silent`);
  }
});

test('truncated and corrupt files give WavError with a clear message, never another exception', () => {
  const good = encodeWav(speechLike.subarray(0, 800), 'pcm16');
  const expectCode = (buf: Uint8Array, code: string, re: RegExp): void => {
    assert.throws(
      () => decodeWav(buf),
      (e: unknown) => e instanceof WavError && e.code === code && re.test(e.message),
    );
  };
  expectCode(good.subarray(0, 6), 'too-short', /not a WAV file/);
  expectCode(Buffer.from('ID3\x03 this is an mp3 file really'), 'not-riff', /expected "RIFF"/);
  const avi = Buffer.from(good);
  avi.write('AVI ', 8, 'latin1');
  expectCode(avi, 'not-wave', /expected "WAVE"/);
  expectCode(good.subarray(0, 30), 'bad-fmt', /fmt chunk/);
  expectCode(good.subarray(0, 36), 'no-data', /no data chunk/);
  expectCode(good.subarray(0, 44 + 1000), 'truncated', /declares 1600 bytes but only 1000/);
  // A recording cut short is still usable when asked for.
  const partial = decodeWav(good.subarray(0, 44 + 1001), { allowTruncated: true });
  assert.equal(partial.info.truncated, true);
  assert.equal(partial.info.frames, 500);
  const zeroCh = Buffer.from(good);
  zeroCh.writeUInt16LE(0, 22);
  expectCode(zeroCh, 'bad-fmt', /0 channels/);
  const mp3InWav = Buffer.from(good);
  mp3InWav.writeUInt16LE(0x55, 20);
  expectCode(mp3InWav, 'unsupported-format', /format tag 85/);
  const badAlign = Buffer.from(good);
  badAlign.writeUInt16LE(3, 32);
  expectCode(badAlign, 'bad-fmt', /block align 3/);

  // Random damage: each outcome is a decode or a WavError.
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  let errors = 0;
  for (let k = 0; k < 2000; k++) {
    const b = Buffer.from(good.subarray(0, 44 + Math.floor(rnd() * 200)));
    for (let j = 0; j < 4; j++) b[Math.floor(rnd() * Math.min(b.length, 60))] = Math.floor(rnd() * 256);
    try {
      decodeWav(b);
    } catch (e) {
      assert.ok(e instanceof WavError, `mutation ${k}: ${String(e)}`);
      errors++;
    }
  }
  assert.ok(errors > 100, `mutations were detected (${errors})`);
});

test('readWavFile names the file in its error', async () => {
  const file = path.join(tmp, 'broken.wav');
  fs.writeFileSync(file, 'RIFF\x10\x00\x00\x00WAVEjunk');
  await assert.rejects(readWavFile(file), (e: unknown) => e instanceof WavError && e.message.includes('broken.wav'));
});

test('readWavFileOffThread gives the same samples and the same WavError as the main-thread reader', async () => {
  const { readWavFileOffThread } = await import('./wav.js');
  const file = path.join(tmp, 'offthread.wav');
  sox('-n', '-r', '22050', '-c', '2', '-b', '16', file, 'synth', '0.5', 'sine', '770', 'gain', '-6');
  assert.deepEqual(await readWavFileOffThread(file), await readWavFile(file));
  const bad = path.join(tmp, 'bad-offthread.wav');
  fs.writeFileSync(bad, Buffer.from('not a wav at all'));
  await assert.rejects(readWavFileOffThread(bad), (e: unknown) => e instanceof WavError && e.code === 'not-riff' && e.message.includes('bad-offthread.wav'));
});
