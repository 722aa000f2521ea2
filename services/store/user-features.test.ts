import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { dataDirAtVersion } from '../../hw-tests/support/old-database.js';
import { DB_FILE, openDatabase } from './db.js';
import { openStore, StoreError } from './index.js';
import { currentVersion } from './migrations.js';

const invalid = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof StoreError && e.code === 'invalid' && message.test(e.message), String(message));
};

test('migration 8 on a version-6 database keeps its rows; features default for every extension', () => {
  const dir = dataDirAtVersion('pbx-user-features', 6);
  const store = openStore(dir);
  const check = openDatabase(path.join(dir, DB_FILE));
  assert.ok(currentVersion(check) >= 8);
  check.close();
  assert.equal(store.extensions.get('101')?.displayName, 'Ana');
  assert.deepEqual(store.userFeatures.get('101'), {
    extension: '101',
    forward: { always: null, busy: null, 'no-answer': null, unreachable: null },
    noAnswerSeconds: 20,
    callWaiting: true,
    doNotDisturb: false,
    hideCallerId: false,
  });
  assert.equal(store.userFeatures.get('999'), null);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('user features: patches keep the other fields, validation, no forward to oneself, removed with the extension', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-user-features-'));
  const s = openStore(dir);
  s.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-101' });
  s.extensions.add({ number: '102', displayName: 'Bo', secret: 'bo-secret-102' });
  s.userFeatures.set('101', { forward: { always: '102', 'no-answer': '+33612345678' }, noAnswerSeconds: 15 });
  s.userFeatures.set('101', { doNotDisturb: true, forward: { always: null } });
  assert.deepEqual(s.userFeatures.get('101'), {
    extension: '101',
    forward: { always: null, busy: null, 'no-answer': '+33612345678', unreachable: null },
    noAnswerSeconds: 15,
    callWaiting: true,
    doNotDisturb: true,
    hideCallerId: false,
  });
  invalid(() => s.userFeatures.set('101', { forward: { busy: '101' } }), /cannot forward to itself/);
  invalid(() => s.userFeatures.set('101', { forward: { busy: 'sip:evil@x' } }), /forward target must be/);
  invalid(() => s.userFeatures.set('101', { noAnswerSeconds: 2 }), /5 to 120/);
  invalid(() => s.userFeatures.set('101', { noAnswerSeconds: 1.5 }), /whole number/);
  invalid(() => s.userFeatures.set('101', { surprise: true } as never), /unrecognized|Unrecognized/i);
  assert.throws(() => s.userFeatures.set('999', { doNotDisturb: true }), (e: unknown) => e instanceof StoreError && e.code === 'not-found');
  assert.equal(s.userFeatures.get('101')?.noAnswerSeconds, 15, 'refused patches change nothing');
  assert.deepEqual(s.userFeatures.list().map((f) => [f.extension, f.doNotDisturb]), [['101', true], ['102', false]]);
  s.extensions.remove('101');
  s.extensions.add({ number: '101', displayName: 'Ana again', secret: 'ana-secret-101' });
  assert.equal(s.userFeatures.get('101')?.doNotDisturb, false, 'a removed extension takes its features with it');
  s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
