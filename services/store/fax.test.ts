import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from './db.js';
import { currentVersion, migrate, MIGRATIONS } from './migrations.js';
import { openStore, StoreError } from './index.js';

function store() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-store-'));
  const s = openStore(dir);
  s.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-01' });
  return { s, done: () => (s.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

const job = { extension: '101', remoteNumber: '0155550199', pages: 2, document: 'fax/101/a.pdf', image: 'fax/outbox/a.tif' };

test('queue → claim → failed attempts retried until max, then failed; sent is final', () => {
  const { s, done } = store();
  const fax = s.faxes.queue({ ...job, maxAttempts: 2 });
  assert.equal(fax.status, 'queued');
  assert.equal(s.faxes.claimNext(Date.now() - 10_000), null, 'not due before its time');
  const first = s.faxes.claimNext(Date.now());
  assert.equal(first?.status, 'sending');
  assert.equal(first?.attempts, 1);
  assert.equal(s.faxes.claimNext(Date.now()), null, 'one claim per fax');
  const retry = s.faxes.finish(fax.id, { status: 'failed', pages: 0, remoteIdent: null, transport: null, error: 'call failed: 486 Busy Here', callId: null }, Date.now() + 1000);
  assert.equal(retry?.status, 'queued');
  assert.equal(s.faxes.claimNext(Date.now()), null, 'waits for its retry time');
  assert.equal(s.faxes.claimNext(Date.now() + 2000)?.attempts, 2);
  const final = s.faxes.finish(fax.id, { status: 'failed', pages: 0, remoteIdent: null, transport: null, error: 'busy again', callId: null }, Date.now() + 1000);
  assert.equal(final?.status, 'failed', 'no attempt left');
  const other = s.faxes.queue(job);
  s.faxes.claimNext(Date.now());
  const sent = s.faxes.finish(other.id, { status: 'sent', pages: 2, remoteIdent: '+33 1', transport: 't38', error: null, callId: 'c' }, null);
  assert.deepEqual([sent?.status, sent?.pages, sent?.remoteIdent, sent?.transport], ['sent', 2, '+33 1', 't38']);
  assert.deepEqual(s.faxes.list({ extension: '101' }).map((f) => f.id), [other.id, fax.id], 'newest first');
  done();
});

test('a fax left sending by a stopped process is queued again; bad input is refused', () => {
  const { s, done } = store();
  const fax = s.faxes.queue(job);
  s.faxes.claimNext(Date.now());
  assert.equal(s.faxes.requeueInterrupted(Date.now()), 1);
  assert.equal(s.faxes.get(fax.id)?.status, 'queued');
  assert.throws(() => s.faxes.queue({ ...job, extension: '999' }), (e: unknown) => e instanceof StoreError && e.code === 'not-found');
  assert.throws(() => s.faxes.queue({ ...job, remoteNumber: '01 55; rm -rf' }), (e: unknown) => e instanceof StoreError && e.code === 'invalid');
  assert.throws(() => s.faxes.queue({ ...job, document: '../../etc/passwd' }), (e: unknown) => e instanceof StoreError && e.code === 'invalid');
  assert.throws(() => s.faxes.queue({ ...job, pages: 0 }), (e: unknown) => e instanceof StoreError && e.code === 'invalid');
  const inbound = s.faxes.recordInbound({ extension: '101', status: 'received', remoteNumber: '+33155550123', remoteIdent: 'TSI', pages: 3, document: 'fax/101/b.pdf', transport: 'audio', error: null, callId: 'x' });
  assert.deepEqual([inbound.direction, inbound.status, inbound.pages], ['in', 'received', 3]);
  done();
});

test('migration 10 adds faxes to a version-9 database and keeps every row', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-migrate-'));
  const file = path.join(dir, 'pbx.sqlite');
  const db = openDatabase(file);
  migrate(db, MIGRATIONS, 9);
  assert.equal(currentVersion(db), 9);
  db.prepare("INSERT INTO extensions (number, display_name, secret, language, created_at, updated_at) VALUES ('101', 'Ana', 'ana-secret-01', 'en', 'x', 'x')").run();
  db.prepare("INSERT INTO numbers (number, destination, created_at, updated_at) VALUES ('+33142345609', 'extension:101', 'x', 'x')").run();
  db.close();
  const s = openStore(dir);
  assert.equal(s.extensions.get('101')?.displayName, 'Ana');
  assert.equal(s.numbers.get('+33142345609')?.destination.kind, 'extension');
  assert.deepEqual(s.numbers.setDestination('+33142345609', { kind: 'fax', extension: '101' })?.destination, { kind: 'fax', extension: '101' });
  assert.equal(s.faxes.list().length, 0);
  s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
