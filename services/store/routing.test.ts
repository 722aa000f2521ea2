import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { dataDirAtVersion } from '../../hw-tests/support/old-database.js';
import { DB_FILE, openDatabase } from './db.js';
import { openStore, StoreError } from './index.js';
import { currentVersion, LATEST_VERSION } from './migrations.js';
import type { ReceptionistInput } from './routing-schema.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-routing-store-'));
}

const reception: ReceptionistInput = {
  name: 'main',
  extension: '700',
  timezone: 'Europe/Stockholm',
  language: 'sv',
  hours: [{ day: 1, opens: '09:00', closes: '17:00' }],
  holidays: ['2026-12-24'],
  menus: {
    business: { options: [{ digit: '1', target: 'ring-group:sales', label: 'sales' }, { digit: '*', target: 'repeat' }], greeting: null },
    'after-hours': { options: [], greeting: null },
  },
  operator: 'extension:101',
  timeoutSeconds: 5,
  maxAttempts: 3,
};

test('migration 6 on a version-2 database keeps its rows and adds the routing tables', () => {
  const dir = dataDirAtVersion('pbx-routing-store', 2);
  const store = openStore(dir);
  try {
    assert.equal(store.extensions.get('101')?.displayName, 'Ana');
    assert.deepEqual(store.routing.ringGroups.list(), []);
    store.routing.ringGroups.put({ name: 'sales', extension: '600', strategy: 'sequential', ringSeconds: 20, members: [{ extension: '101', ringSeconds: 10 }], noAnswer: 'voicemail:101' });
    assert.equal(store.routing.ringGroups.byExtension('600')?.members[0]?.ringSeconds, 10);
  } finally {
    store.close();
  }
  const again = openDatabase(path.join(dir, DB_FILE));
  assert.equal(currentVersion(again), LATEST_VERSION);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('routing repositories validate every field and keep internal numbers unique', () => {
  const dir = tempDir();
  const store = openStore(dir);
  try {
    store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse' });
    const invalid = (fn: () => unknown, message: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof StoreError && e.code === 'invalid' && message.test(e.message));
    const conflict = (fn: () => unknown, message: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof StoreError && e.code === 'conflict' && message.test(e.message));
    const group = { name: 'sales', extension: '600', strategy: 'simultaneous' as const, ringSeconds: 20, members: [{ extension: '101' }], noAnswer: null };
    store.routing.ringGroups.put(group);
    conflict(() => store.routing.ringGroups.put(group), /already exists/);
    invalid(() => store.routing.ringGroups.put({ ...group, name: 'x', extension: null, members: [] }), /at least one member/);
    invalid(() => store.routing.ringGroups.put({ ...group, name: 'x', extension: null, members: [{ extension: '101' }, { extension: '101' }] }), /listed twice/);
    invalid(() => store.routing.ringGroups.put({ ...group, name: 'bad name', extension: null }), /name must be/);
    conflict(() => store.routing.ringGroups.put({ ...group, name: 'x', extension: '101' }), /already extension 101/);
    store.routing.receptionists.put(reception);
    conflict(() => store.routing.receptionists.put({ ...reception, name: 'other', extension: '600' }), /already ring group sales/);
    conflict(() => store.routing.ringGroups.put({ ...group, name: 'x', extension: '700' }), /already receptionist main/);
    invalid(() => store.routing.receptionists.put({ ...reception, name: 'r2', extension: null, timezone: 'Nowhere/City' }), /IANA/);
    invalid(() => store.routing.receptionists.put({ ...reception, name: 'r2', extension: null, hours: [{ day: 1, opens: '18:00', closes: '09:00' }] }), /before closing/);
    invalid(
      () => store.routing.receptionists.put({ ...reception, name: 'r2', extension: null, menus: { ...reception.menus, business: { options: [{ digit: '1', target: 'sales' }], greeting: null } } }),
      /option must be a destination|destination must be/,
    );
    assert.deepEqual(store.routing.receptionists.get('main')?.menus.business.options.map((o) => o.digit), ['1', '*']);
    // Re-pointed without a restart: the next read sees it.
    store.routing.receptionists.put({ ...reception, operator: null }, { replace: true });
    assert.equal(store.routing.receptionists.byExtension('700')?.operator, null);

    assert.deepEqual(store.routing.conferenceRooms.limits(), { maxRooms: 10, maxParticipants: 10 });
    assert.deepEqual(store.routing.conferenceRooms.setLimits({ maxParticipants: 4 }), { maxRooms: 10, maxParticipants: 4 });
    invalid(() => store.routing.conferenceRooms.setLimits({ maxRooms: 0 }), /rooms must be/);
    store.routing.conferenceRooms.setPin('8001', '2468');
    invalid(() => store.routing.conferenceRooms.setPin('8001', '12ab'), /PIN/);
    assert.equal(store.routing.conferenceRooms.pin('8001'), '2468');
    store.routing.conferenceRooms.setPin('8001', null);
    assert.equal(store.routing.conferenceRooms.pin('8001'), null);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
