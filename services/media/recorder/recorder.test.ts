import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { muLawDecode, muLawEncode } from '../codec/g711.js';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { sines, frames } from '../dsp/synth.js';
import { decodeWav } from '../wav/wav.js';
import { removeStalePartials, WavRecorder } from './recorder.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-test-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tone = sines([{ freq: 697, dbm0: -10 }], 8000 * 5); // 5 s

test('finish publishes the complete file under the final name only', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'ok-'));
  const final = path.join(dir, 'msg-0001.wav');
  const rec = await WavRecorder.create(final);
  for (const f of frames(tone)) {
    assert.equal(rec.write(f), true);
    if (rec.samples === 8000 * 2) {
      await rec.drain();
      assert.equal(fs.existsSync(final), false, 'nothing under the final name while recording');
      assert.equal(fs.readdirSync(dir).length, 1, 'one temporary file');
    }
  }
  const r = await rec.finish();
  assert.equal(r.path, final);
  assert.equal(r.samples, 40000);
  assert.equal(r.durationMs, 5000);
  assert.deepEqual(fs.readdirSync(dir), ['msg-0001.wav']);
  assert.equal(fs.statSync(final).size, 44 + 80000);
  const { info, channels } = decodeWav(fs.readFileSync(final));
  assert.equal(info.frames, 40000);
  assert.deepEqual(channels[0], tone);
  assert.equal(rec.write(tone.subarray(0, 160)), false, 'a finished recorder takes no more audio');
  await assert.rejects(rec.finish(), /finished/);
});

test('μ-law recording with a frame-size that does not divide the chunk, and maxSeconds', async () => {
  const final = path.join(tmp, 'greeting.wav');
  const rec = await WavRecorder.create(final, { encoding: 'mulaw', maxSeconds: 3, chunkBytes: 1000 });
  let accepted = 0;
  for (const f of frames(tone, 240)) if (rec.write(f)) accepted++;
  const r = await rec.finish();
  assert.equal(r.samples, 24000);
  assert.equal(accepted, 100);
  const buf = fs.readFileSync(final);
  assert.equal(buf.length, r.bytes);
  const { info, channels } = decodeWav(buf);
  assert.equal(info.encoding, 'mulaw');
  assert.deepEqual(channels[0], muLawDecode(muLawEncode(tone.subarray(0, 24000))));
  const [p] = detectTones(channels[0] ?? new Int16Array(0), [697]);
  assert.ok((p ?? 0) / meanSquare(channels[0] ?? new Int16Array(1)) > 0.95, 'the tone is what was recorded');
});

test('abort leaves nothing under either name', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'abort-'));
  const rec = await WavRecorder.create(path.join(dir, 'x.wav'));
  for (const f of frames(tone.subarray(0, 16000))) rec.write(f);
  await rec.drain();
  await rec.abort();
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a recorder process killed mid-recording leaves no file under the final name', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'crash-'));
  const final = path.join(dir, 'crash.wav');
  const recorderUrl = new URL('./recorder.js', import.meta.url).href;
  // The child records 20 ms frames in real time, reports once data is on disk, then keeps going.
  const script = `
    const { WavRecorder } = await import(${JSON.stringify(recorderUrl)});
    const rec = await WavRecorder.create(${JSON.stringify(final)});
    const frame = new Int16Array(160).map((_, i) => Math.round(8000 * Math.sin(i / 3)));
    let n = 0;
    setInterval(async () => {
      rec.write(frame);
      if (++n === 60) { await rec.drain(); process.stdout.write('recording ' + rec.tempPath + '\\n'); }
    }, 20);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /recording (\S+)\n/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const tempPath = await ready;
    assert.equal(fs.existsSync(tempPath), true, 'the child really wrote a temporary file');
    assert.ok(fs.statSync(tempPath).size >= 44 + 60 * 320 - 1, 'with audio in it');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    assert.equal(fs.existsSync(final), false, 'no file under the final name after the crash');
    // Start-up sweep removes the dead process's leftover.
    const removed = await removeStalePartials(dir);
    assert.deepEqual(removed, [tempPath]);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
