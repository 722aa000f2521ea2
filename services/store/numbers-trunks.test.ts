import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore, StoreError } from './index.js';

function store() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-routing-'));
  const s = openStore(dir);
  s.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-101' });
  s.extensions.add({ number: '102', displayName: 'Bo', secret: 'bo-secret-102' });
  return { s, done: () => (s.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

const invalid = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof StoreError && e.code === 'invalid' && message.test(e.message));
};

test('numbers are stored only in canonical, valid E.164; destinations only as parseDestination accepts them', () => {
  const { s, done } = store();
  for (const bad of ['+33 1 42 34 56 78', '0142345678', '+331423456789999', '+15550101', 'tel:+33142345678', '']) {
    invalid(() => s.numbers.add(bad, { kind: 'extension', number: '101' }), /E\.164/);
  }
  invalid(() => s.numbers.add('+33142345678', { kind: 'ring-group', name: 'bad name!' }), /ring-group name/);
  const added = s.numbers.add('+33142345678', { kind: 'extension', number: '101' });
  assert.deepEqual(added.destination, { kind: 'extension', number: '101' });
  assert.throws(() => s.numbers.add('+33142345678', { kind: 'extension', number: '102' }), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
  assert.deepEqual(s.numbers.setDestination('+33142345678', { kind: 'conference', room: '8001' })?.destination, { kind: 'conference', room: '8001' });
  assert.equal(s.numbers.setDestination('+33142345679', { kind: 'conference', room: '8001' }), null);
  done();
});

test('direct numbers: one user each, must be an office number, cleared when the number goes, removed with the extension', () => {
  const { s, done } = store();
  assert.deepEqual(s.extensionRouting.get('101'), { extension: '101', directNumber: null, international: false });
  assert.equal(s.extensionRouting.get('999'), null);
  assert.throws(() => s.extensionRouting.set('999', { international: true }), (e: unknown) => e instanceof StoreError && e.code === 'not-found');
  invalid(() => s.extensionRouting.set('101', { directNumber: '+33142345678' }), /not one of the office's numbers/);
  s.numbers.add('+33142345678', { kind: 'extension', number: '101' });
  s.extensionRouting.set('101', { directNumber: '+33142345678' });
  assert.throws(() => s.extensionRouting.set('102', { directNumber: '+33142345678' }), (e: unknown) => e instanceof StoreError && e.code === 'conflict' && /extension 101/.test(e.message));
  s.extensionRouting.set('101', { international: true });
  assert.deepEqual(s.extensionRouting.get('101'), { extension: '101', directNumber: '+33142345678', international: true }, 'a patch keeps the other field');
  s.numbers.remove('+33142345678');
  assert.equal(s.extensionRouting.get('101')?.directNumber, null);
  s.extensions.remove('101');
  assert.deepEqual(s.extensionRouting.list().map((r) => r.extension), ['102']);
  done();
});

test('trunks: registering ones need username and secret together; names, hosts, ports and limits validated', () => {
  const { s, done } = store();
  const ip = s.trunks.add({ name: 'peer', host: '203.0.113.10' });
  assert.deepEqual([ip.port, ip.transport, ip.username, ip.secret, ip.maxCalls], [null, 'udp', null, null, null]);
  s.trunks.add({ name: 'reg', host: 'sip.carrier.test', port: 5080, transport: 'tcp', username: 'office', secret: 'pw', maxCalls: 10 });
  s.trunks.add({ name: 'v6', host: '[2001:db8::1]' });
  invalid(() => s.trunks.add({ name: 'x', host: 'h', username: 'u' }), /both --username and --secret/);
  invalid(() => s.trunks.add({ name: 'x', host: 'h', secret: 's' }), /both --username and --secret/);
  invalid(() => s.trunks.add({ name: 'x y', host: 'h' }), /trunk name/);
  invalid(() => s.trunks.add({ name: 'x', host: 'h/evil' }), /host/);
  invalid(() => s.trunks.add({ name: 'x', host: 'h', port: 0 }), /port/);
  invalid(() => s.trunks.add({ name: 'x', host: 'h', maxCalls: 0 }), /max calls/);
  assert.throws(() => s.trunks.add({ name: 'peer', host: 'h' }), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
  assert.deepEqual(s.trunks.list().map((t) => t.name), ['peer', 'reg', 'v6']);
  assert.equal(s.trunks.remove('peer'), true);
  assert.equal(s.trunks.remove('peer'), false);
  done();
});
