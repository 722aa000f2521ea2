/**
 * `pbxctl voicemail` and `pbxctl mail` as the technician types them (real pbxctl process, real
 * SQLite): a box's messages listed, played (byte for byte), deleted (row and file); box and
 * appliance settings validated; another box's message is not reachable through this one; the
 * outbox listed with its failures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeWav } from '../../services/media/wav/wav.js';
import { openStore } from '../../services/store/index.js';

const PBXCTL = fileURLToPath(new URL('../pbxctl.js', import.meta.url));

function pbxctl(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dir, ...args], { timeout: 20_000, encoding: 'buffer' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout: stdout.toString('latin1'), stderr: stderr.toString() });
    });
  });
}

function setup(): { dir: string; file: string; audio: Buffer; id: number; otherId: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-voicemail-'));
  const store = openStore(dir);
  try {
    store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse-101', voicemailPin: '1234' });
    store.extensions.add({ number: '102', displayName: 'Bo', secret: 'correct-horse-102' });
    const audio = encodeWav(Int16Array.from({ length: 8000 }, (_, i) => Math.round(Math.sin(i / 3) * 8000)));
    const put = (box: string, file: string) => {
      fs.mkdirSync(path.join(dir, 'voicemail', box), { recursive: true });
      fs.writeFileSync(path.join(dir, 'voicemail', box, file), audio);
      return store.voicemail.add({ box, caller: '102', callerName: 'Bo', receivedAt: Date.parse('2026-12-06T08:00:00Z'), durationMs: 1000, file, bytes: audio.length, reason: 'unavailable' });
    };
    const m = put('101', 'msg-1-aaaaaaaa.wav');
    const other = put('102', 'msg-2-bbbbbbbb.wav');
    return { dir, file: path.join(dir, 'voicemail', '101', m.file), audio, id: m.id, otherId: other.id };
  } finally {
    store.close();
  }
}

test('voicemail list, play, delete: the row and the file, --json, another box\'s message refused', async () => {
  const { dir, file, audio, id, otherId } = setup();
  const list = await pbxctl(dir, ['voicemail', 'list', '101']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /box 101: 1 new, 0 old \(1 s in all\)/);
  assert.match(list.stdout, new RegExp(`${id}\\s+new\\s+2026-12-06T08:00:00Z\\s+Bo <102>\\s+1\\.0\\s+${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const json = JSON.parse((await pbxctl(dir, ['voicemail', 'list', '101', '--json'])).stdout) as { counts: { new: number }; messages: Array<{ id: number; path: string }> };
  assert.equal(json.counts.new, 1);
  assert.equal(json.messages[0]?.path, file);

  const out = path.join(dir, 'copy.wav');
  assert.equal((await pbxctl(dir, ['voicemail', 'play', '101', String(id), '--out', out])).code, 0);
  assert.ok(fs.readFileSync(out).equals(audio));
  const stdout = await pbxctl(dir, ['voicemail', 'play', '101', String(id)]);
  assert.ok(Buffer.from(stdout.stdout, 'latin1').equals(audio), 'play without --out writes the WAV to stdout');

  const foreign = await pbxctl(dir, ['voicemail', 'delete', '101', String(otherId)]);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, new RegExp(`no message ${otherId} in box 101`));
  assert.equal((await pbxctl(dir, ['voicemail', 'list', 'abc'])).code, 1);
  assert.equal((await pbxctl(dir, ['voicemail', 'list', '999'])).code, 2);

  const del = await pbxctl(dir, ['voicemail', 'delete', '101', String(id), '--json']);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(JSON.parse(del.stdout), { box: '101', deleted: [id] });
  assert.ok(!fs.existsSync(file));
  assert.match((await pbxctl(dir, ['voicemail', 'list', '101'])).stdout, /box 101: 0 new, 0 old/);
  assert.match((await pbxctl(dir, ['voicemail', 'list', '102'])).stdout, /box 102: 1 new/);
});

test('voicemail box and settings: validated, shown with the effective values', async () => {
  const { dir } = setup();
  const box = await pbxctl(dir, ['voicemail', 'box', '101', '--email', 'ana@office.test', '--delete-after-email', 'yes', '--max-messages', '20', '--operator', 'extension:102', '--json']);
  assert.equal(box.code, 0, box.stderr);
  assert.deepEqual(
    { ...JSON.parse(box.stdout) },
    { extension: '101', enabled: true, email: 'ana@office.test', emailEnabled: true, emailDelete: true, maxMessages: 20, maxMinutes: null, operator: 'extension:102', emailTo: 'ana@office.test', effectiveMaxMessages: 20, effectiveMaxMinutes: 60 },
  );
  const bad = await pbxctl(dir, ['voicemail', 'box', '101', '--email', 'not-an-address']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /email address/);
  assert.equal((await pbxctl(dir, ['voicemail', 'box', '101', '--operator', 'somewhere'])).code, 1);
  const s = await pbxctl(dir, ['voicemail', 'settings', '--min-seconds', '2', '--retention-days', '30', '--email-format', 'mp3', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const settings = JSON.parse(s.stdout) as { minSeconds: number; retentionDays: number; emailFormat: string; maxMessages: number };
  assert.deepEqual([settings.minSeconds, settings.retentionDays, settings.emailFormat, settings.maxMessages], [2, 30, 'mp3', 100]);
  assert.equal((await pbxctl(dir, ['voicemail', 'settings', '--email-format', 'ogg'])).code, 1);
  assert.equal((await pbxctl(dir, ['voicemail', 'settings', '--retention-days', '99999'])).code, 1);
  assert.match((await pbxctl(dir, ['voicemail', 'settings'])).stdout, /retention: 30 days/);
});

test('mail list and status show a failed delivery with the server\'s answer; retry queues it again', async () => {
  const { dir } = setup();
  const store = openStore(dir);
  let id: number;
  try {
    id = store.mail.enqueue({ to: 'ana@office.test', subject: 'New voicemail from Bo <102>', text: 'x' }).id;
    store.mail.markFailed(id, '554 5.7.1 Message rejected as spam', Date.parse('2026-12-06T09:00:00Z'), Date.now(), true);
  } finally {
    store.close();
  }
  const list = await pbxctl(dir, ['mail', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /mail outbox: 0 waiting, 1 failed, 0 sent/);
  assert.match(list.stdout, /DELIVERY FAILED: mail 1 to ana@office\.test, 1 attempt\(s\), last 2026-12-06T09:00:00Z: 554 5\.7\.1 Message rejected as spam/);
  const status = await pbxctl(dir, ['status']);
  assert.match(status.stdout, /DELIVERY FAILED: mail 1 to ana@office\.test/);
  assert.equal((await pbxctl(dir, ['mail', 'retry', String(id)])).code, 0);
  assert.match((await pbxctl(dir, ['mail', 'list', '--json'])).stdout, /"status": "pending"/);
  assert.equal((await pbxctl(dir, ['mail', 'retry', String(id)])).code, 2, 'only a failed mail can be retried');
  assert.equal((await pbxctl(dir, ['mail', 'test', 'nope'])).code, 1);
});

test('voicemail greeting: any WAV is converted to 8 kHz where the box plays it from; a foreign file is refused and writes nothing', async () => {
  const { dir } = setup();
  const at16k = encodeWav(Int16Array.from({ length: 16000 }, (_, i) => Math.round(Math.sin((2 * Math.PI * 440 * i) / 16000) * 8000)), 'pcm16', 16000);
  const upload = path.join(dir, 'busy-16k.wav');
  fs.writeFileSync(upload, at16k);
  const set = await pbxctl(dir, ['voicemail', 'greeting', '101', 'busy', upload, '--json']);
  assert.equal(set.code, 0, set.stderr);
  const stored = path.join(dir, 'voicemail', '101', 'greeting-busy.wav');
  const wav = fs.readFileSync(stored);
  assert.equal(wav.readUInt32LE(24), 8000, 'resampled to 8 kHz');
  assert.equal(wav.readUInt16LE(22), 1, 'mono');
  assert.equal((JSON.parse(set.stdout) as { seconds: number }).seconds, 1);
  const junk = path.join(dir, 'not-a.wav');
  fs.writeFileSync(junk, 'this is text, not audio');
  const refused = await pbxctl(dir, ['voicemail', 'greeting', '101', 'unavailable', junk]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not-a\.wav/);
  assert.equal(fs.existsSync(path.join(dir, 'voicemail', '101', 'greeting-unavailable.wav')), false);
  assert.equal((await pbxctl(dir, ['voicemail', 'greeting', '101', 'loud', upload])).code, 1);
  assert.equal((await pbxctl(dir, ['voicemail', 'greeting', '101', 'busy', 'none'])).code, 0);
  assert.equal(fs.existsSync(stored), false);
});
