import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { openStore } from '../../store/index.js';
import type { SipUri } from '../message.js';
import { parseUri } from '../uri.js';
import { MemoryLocation, type BindingInput } from './location.js';

function sipUri(text: string): SipUri {
  const uri = parseUri(text);
  assert.ok(uri !== null && uri.kind === 'sip');
  return uri;
}

function input(aor: string, contact: string, expiresAt: number, port = 5062): BindingInput {
  return {
    aor,
    contact: sipUri(contact),
    contactText: contact,
    params: new Map(),
    endpoint: { transport: 'UDP', address: '192.0.2.10', port, connectionId: null },
    instanceId: null,
    callId: 'c1@test',
    cseq: 1,
    expiresAt,
    q: null,
    userAgent: null,
  };
}

test('one unpersistable binding (its extension was deleted) does not lose the others of the batch', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'location-'));
  const store = openStore(dir);
  try {
    store.extensions.add({ number: '101', displayName: 'A', secret: 'secret-101' });
    store.extensions.add({ number: '102', displayName: 'B', secret: 'secret-102' });
    const location = new MemoryLocation({ store, logger: silentLogger() });
    const later = Date.now() + 60_000;
    store.extensions.remove('101');
    location.put(input('101', 'sip:101@192.0.2.10:5062', later));
    location.put(input('102', 'sip:102@192.0.2.10:5062', later));
    location.flush();
    assert.deepEqual(store.registrations.all().map((r) => r.aor), ['102']);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('refreshes are written back later, moves and removals at once; load() restores, expire() purges', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'location-'));
  const store = openStore(dir);
  try {
    store.extensions.add({ number: '101', displayName: 'A', secret: 'secret-101' });
    const location = new MemoryLocation({ store, logger: silentLogger(), refreshWriteDelayMs: 60_000 });
    const t0 = Date.now();
    location.put(input('101', 'sip:101@192.0.2.10:5062', t0 + 60_000));
    await new Promise((r) => setImmediate(r));
    assert.equal(store.registrations.all()[0]?.expiresAt, t0 + 60_000);
    // Pure refresh: waits for the write-back.
    location.put(input('101', 'sip:101@192.0.2.10:5062', t0 + 120_000));
    await new Promise((r) => setImmediate(r));
    assert.equal(store.registrations.all()[0]?.expiresAt, t0 + 60_000);
    // The phone moved (new NAT port): written on the next tick, with the pending refresh.
    location.put(input('101', 'sip:101@192.0.2.10:5062', t0 + 180_000, 40000));
    await new Promise((r) => setImmediate(r));
    assert.equal(store.registrations.all()[0]?.sourcePort, 40000);
    assert.equal(store.registrations.all()[0]?.expiresAt, t0 + 180_000);
    location.put(input('101', 'sip:101@192.0.2.10:6000', t0 + 1));
    location.flush();

    const reloaded = new MemoryLocation({ store, logger: silentLogger() });
    assert.equal(reloaded.load(t0 + 2, (text) => sipUri(text)), 1, 'the expired one is not loaded');
    assert.equal(reloaded.byAor('101')[0]?.endpoint.port, 40000);
    assert.equal(reloaded.countFromAddress('192.0.2.10', t0 + 2), 1);
    assert.equal(reloaded.expire(t0 + 180_000).length, 1);
    assert.equal(store.registrations.all().length, 0);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
