/**
 * Migration 15 (music-on-hold playlists): a class written by version 7's firmware (one file in
 * moh_classes) becomes a one-file playlist; files append in order, the class row mirrors the first
 * file and the total; the last file of a class used by someone cannot go, and removing the class
 * removes its files' rows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DB_FILE, openDatabase } from './db.js';
import { openStore, StoreError } from './index.js';
import { migrate, MIGRATIONS } from './migrations.js';

test('a version-7 class becomes a one-file playlist; files append, mirror and go', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-moh-playlist-'));
  const db = openDatabase(path.join(dir, DB_FILE));
  migrate(db, MIGRATIONS, 14);
  db.prepare("INSERT INTO moh_classes VALUES ('jazz', 'jazz.wav', 'Jazz Hour.mp3', 12.5, '2026-01-01T00:00:00.000Z')").run();
  db.close();

  const store = openStore(dir);
  try {
    const jazz = store.moh.get('jazz');
    assert.deepEqual(jazz?.files, [{ file: 'jazz.wav', sourceName: 'Jazz Hour.mp3', seconds: 12.5, createdAt: '2026-01-01T00:00:00.000Z' }]);
    assert.equal(jazz?.file, 'jazz.wav');

    const two = store.moh.addFile('jazz', { file: 'jazz--0001.wav', sourceName: 'b.wav', seconds: 2.5 });
    assert.deepEqual(two.files.map((f) => f.file), ['jazz.wav', 'jazz--0001.wav']);
    assert.equal(two.seconds, 15);
    assert.equal(two.file, 'jazz.wav');
    const raw = store.moh.list()[0];
    assert.equal(raw?.seconds, 15);

    // A new class from addFile; put replaces a playlist with one file.
    assert.deepEqual(store.moh.addFile('pop', { file: 'pop.wav', sourceName: 'p.wav', seconds: 1 }).files.length, 1);
    assert.deepEqual(store.moh.put({ name: 'jazz', file: 'jazz.wav', sourceName: 'new.wav', seconds: 3 }).files.map((f) => [f.file, f.sourceName]), [['jazz.wav', 'new.wav']]);
    store.moh.addFile('jazz', { file: 'jazz--0002.wav', sourceName: 'c.wav', seconds: 4 });

    assert.equal(store.moh.removeFile('jazz', 'nosuch.wav'), null);
    assert.equal(store.moh.removeFile('jazz', 'jazz.wav'), 'file');
    assert.deepEqual(store.moh.get('jazz')?.files.map((f) => f.file), ['jazz--0002.wav']);
    assert.equal(store.moh.get('jazz')?.file, 'jazz--0002.wav', 'the class row follows its first file');

    store.moh.choose('extension:1', 'jazz');
    assert.throws(() => store.moh.removeFile('jazz', 'jazz--0002.wav'), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
    store.moh.choose('extension:1', null);
    assert.equal(store.moh.removeFile('jazz', 'jazz--0002.wav'), 'class');
    assert.equal(store.moh.get('jazz'), null);
    assert.equal(store.moh.remove('pop'), true);
    const left = openDatabase(path.join(dir, DB_FILE));
    assert.equal((left.prepare('SELECT COUNT(*) AS n FROM moh_files').get() as { n: number }).n, 0, 'no file row outlives its class');
    left.close();
  } finally {
    store.close();
  }
});
