// Voicemail storage on a real file system and SQLite: a committed message has its file first; the
// start-up sweep removes partials of dead writers, files without rows and rows without files;
// retention deletes old messages (row, then file); a recording too short is discarded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../log.js';
import { openStore } from '../store/index.js';
import { VoicemailStorage } from './storage.js';

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-storage-'));
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse-101' });
  return { dir, store, storage: new VoicemailStorage(dir, store.voicemail, silentLogger()) };
}

const tone = (n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => Math.round(Math.sin(i / 2) * 5000));

test('commit: the file is whole under its final name before the row exists; delete: row then file', async (t) => {
  const { store, storage } = setup();
  t.after(() => store.close());
  const recorder = await storage.startMessage('101', 60);
  for (let i = 0; i < 100; i++) recorder.write(tone(160));
  assert.equal(fs.readdirSync(storage.boxDir('101')).filter((f) => !f.startsWith('.')).length, 0, 'only a temporary file while recording');
  const message = await storage.commit(recorder, { box: '101', caller: '102', callerName: 'Bo', receivedAt: Date.now(), reason: 'unavailable' });
  assert.equal(message.durationMs, 2000);
  const file = storage.audioPath(message);
  assert.equal(fs.statSync(file).size, message.bytes);
  assert.deepEqual(fs.readdirSync(storage.boxDir('101')), [message.file]);
  assert.equal((await storage.remove(message.id))?.id, message.id);
  assert.ok(!fs.existsSync(file));
  assert.equal(store.voicemail.list('101').length, 0);
});

test('sweep: partials of dead writers, files without rows, rows without files; retention', async (t) => {
  const { store, storage } = setup();
  t.after(() => store.close());
  const dir = storage.boxDir('101');
  fs.mkdirSync(dir, { recursive: true });
  // A dead writer's temporary file (pid 999999 does not exist), an orphan message file, a greeting (kept).
  fs.writeFileSync(path.join(dir, '.msg-5-abcdef01.wav.partial-999999-0a0b0c0d'), 'half');
  fs.writeFileSync(path.join(dir, 'msg-6-abcdef02.wav'), 'whole but no row');
  fs.writeFileSync(path.join(dir, 'greeting-unavailable.wav'), 'greeting');
  // A row whose file is gone, an old message and a recent one.
  store.voicemail.add({ box: '101', caller: '1', callerName: '', receivedAt: Date.now(), durationMs: 1000, file: 'msg-7-abcdef03.wav', bytes: 10, reason: 'busy' });
  const old = store.voicemail.add({ box: '101', caller: '2', callerName: '', receivedAt: Date.now() - 40 * 86_400_000, durationMs: 1000, file: 'msg-8-abcdef04.wav', bytes: 4, reason: 'busy' });
  const recent = store.voicemail.add({ box: '101', caller: '3', callerName: '', receivedAt: Date.now() - 86_400_000, durationMs: 1000, file: 'msg-9-abcdef05.wav', bytes: 4, reason: 'busy' });
  fs.writeFileSync(path.join(dir, old.file), 'old!');
  fs.writeFileSync(path.join(dir, recent.file), 'new!');
  const result = await storage.sweep(30);
  assert.deepEqual(result, { partials: 1, orphanFiles: 1, rowsWithoutAudio: 1, expired: 1 });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['greeting-unavailable.wav', recent.file]);
  assert.deepEqual(store.voicemail.list('101').map((m) => m.id), [recent.id]);
  assert.deepEqual(await storage.sweep(0), { partials: 0, orphanFiles: 0, rowsWithoutAudio: 0, expired: 0 }, 'a second sweep finds nothing; 0 keeps forever');
});
