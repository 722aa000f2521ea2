import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DB_FILE, openDatabase } from './db.js';
import { openStore, StoreError, LATEST_VERSION } from './index.js';
import { currentVersion, migrate, MIGRATIONS } from './migrations.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-migrate-'));
}

test('a database at version 1 with data keeps every row through all migrations', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, DB_FILE));
  assert.deepEqual(migrate(db, MIGRATIONS, 1), [1]);
  assert.equal(currentVersion(db), 1);
  // Rows written the way the version-1 firmware wrote them.
  db.prepare(
    `INSERT INTO extensions (number, display_name, secret, voicemail_pin, language, created_at, updated_at)
     VALUES ('101', 'Ana', 'correct-horse', '1234', 'es', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
  ).run();
  db.prepare(
    `INSERT INTO users (username, display_name, email, role, language, extension, password_hash, created_at)
     VALUES ('admin', 'Admin', NULL, 'admin', 'en', '101', 'scrypt$16384$8$1$AAAA$BBBB', '2026-01-01T00:00:00.000Z')`,
  ).run();
  db.prepare(
    `INSERT INTO registrations VALUES ('101', 'sip:101@10.0.0.1', NULL, 'c1', 7, 99999999999999, 0.5, 'UDP',
       '10.0.0.1', 5062, 'Phone/1', 1)`,
  ).run();
  db.prepare(`INSERT INTO settings VALUES ('country', '"SE"', '2026-01-01T00:00:00.000Z')`).run();
  db.close();

  const store = openStore(dir);
  try {
    const ext = store.extensions.get('101');
    assert.equal(ext?.displayName, 'Ana');
    assert.equal(ext?.secret, 'correct-horse');
    assert.equal(ext?.voicemailPin, '1234');
    assert.equal(ext?.language, 'es');
    assert.equal(store.users.byUsername('admin')?.extension, '101');
    const [binding] = store.registrations.byAor('101');
    assert.equal(binding?.cseq, 7);
    assert.equal(binding?.q, 0.5);
    assert.equal(binding?.userAgent, 'Phone/1');
    assert.equal(store.settings.get('country', 'US'), 'SE');
    // The tables of later migrations are usable.
    store.authBlocks.upsert({ source: '10.0.0.9', extension: '*', failures: 5, reason: 'r', blockedUntil: 10, createdAt: 1 });
    assert.equal(store.authBlocks.active(0).length, 1);
  } finally {
    store.close();
  }
  const check = openDatabase(path.join(dir, DB_FILE));
  assert.equal(currentVersion(check), LATEST_VERSION);
  assert.deepEqual(
    (check.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
  );
  check.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('migrating twice applies nothing the second time', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, DB_FILE));
  assert.deepEqual(migrate(db), MIGRATIONS.map((m) => m.version));
  assert.deepEqual(migrate(db), []);
  db.close();
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse' });
  store.close();
  const again = openStore(dir);
  assert.equal(again.extensions.list().length, 1);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a failing migration rolls back entirely and leaves the version unchanged', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, DB_FILE));
  migrate(db);
  const broken = [
    ...MIGRATIONS,
    {
      version: LATEST_VERSION + 1,
      name: 'half done',
      up(d: typeof db) {
        d.exec('CREATE TABLE half (x INTEGER)');
        d.exec('THIS IS NOT SQL');
      },
    },
  ];
  assert.throws(() => migrate(db, broken));
  assert.equal(currentVersion(db), LATEST_VERSION);
  assert.equal((db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get() as { n: number }).n, 0);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a database from a newer firmware is refused, not guessed at', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, DB_FILE));
  migrate(db);
  db.prepare("INSERT INTO schema_migrations VALUES (?, 'future', 'now')").run(LATEST_VERSION + 1);
  db.close();
  assert.throws(() => openStore(dir), (error: unknown) => error instanceof StoreError && error.code === 'schema');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('version 3 keeps every block of version 2 as a block of the whole source', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, DB_FILE));
  assert.deepEqual(migrate(db, MIGRATIONS, 2), [1, 2]);
  db.prepare(`INSERT INTO auth_blocks VALUES ('10.0.0.7', '101', 5, 'digest failures', 99999999999999, 1)`).run();
  db.prepare(`INSERT INTO auth_blocks VALUES ('10.0.0.8', NULL, 6, 'digest failures', 99999999999999, 2)`).run();
  db.close();
  const store = openStore(dir);
  try {
    assert.deepEqual(
      store.authBlocks.active(0).map((b) => [b.source, b.extension, b.failures, b.createdAt]),
      [
        ['10.0.0.7', '*', 5, 1],
        ['10.0.0.8', '*', 6, 2],
      ],
    );
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
