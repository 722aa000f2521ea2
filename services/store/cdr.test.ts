/** Call records and persisted dialogs on a real SQLite file (services/store/cdr.ts). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore, StoreError, type PersistedDialog } from './index.js';
import { dispositionOf } from '../pbx/call-records.js';

const dialog = (callId: string, seq: number): PersistedDialog => ({
  callId,
  localTag: 'ours',
  remoteTag: 'theirs',
  localUri: '<sip:101@pbx.local>',
  remoteUri: '<sip:102@pbx.local>',
  localSeq: seq,
  remoteSeq: 1,
  remoteTarget: 'sip:102@127.0.0.1:5070',
  routeSet: ['<sip:proxy.example;lr>'],
  destination: { transport: 'UDP', address: '127.0.0.1', port: 5070 },
  contact: '<sip:101@127.0.0.1:5060>',
});

function withStore(fn: (store: ReturnType<typeof openStore>, dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdr-'));
  const store = openStore(dir);
  try {
    fn(store, dir);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('an answered call: open with its dialogs, update a dialog, close with the legs\' figures', () => {
  withStore((store) => {
    const legs = [
      { side: 'caller' as const, party: '101', callId: 'c1', address: 'udp:127.0.0.1:5062', quality: null },
      { side: 'callee' as const, party: '102', callId: 'c1-b', address: 'udp:127.0.0.1:5070', quality: null },
    ];
    const id = store.cdr.open({ callId: 'c1', caller: '101', callee: '102', startedAt: 1000, answeredAt: 2000, legs }, [
      { side: 'caller', dialog: dialog('c1', 0) },
      { side: 'callee', dialog: dialog('c1-b', 1) },
    ]);
    store.cdr.updateDialog(id, 'callee', dialog('c1-b', 3));
    const left = store.cdr.leftovers();
    assert.equal(left.length, 1);
    assert.equal(left[0]?.dialogs.find((d) => d.side === 'callee')?.dialog.localSeq, 3);
    assert.equal(left[0]?.record.disposition, null);

    const quality = { packetsIn: 500, packetsOut: 498, lost: 2, jitterMs: 1.5 };
    assert.equal(store.cdr.close(id, { endedAt: 9000, disposition: 'answered', reason: 'caller hung up', legs: legs.map((l) => ({ ...l, quality })) }), true);
    assert.equal(store.cdr.close(id, { endedAt: 9999, disposition: 'failed', reason: 'again' }), false, 'closed once');
    assert.deepEqual(store.cdr.leftovers(), []);
    const record = store.cdr.get(id);
    assert.equal(record?.endedAt, 9000);
    assert.deepEqual(record?.legs.map((l) => [l.side, l.quality?.lost, l.quality?.jitterMs]), [['callee', 2, 1.5], ['caller', 2, 1.5]]);
    assert.deepEqual(store.cdr.findByCallId('c1-b').map((r) => r.id), [id], 'found by the other leg\'s Call-ID');
  });
});

test('unanswered calls are written once; list --since and prune', () => {
  withStore((store) => {
    store.cdr.add({ callId: 'x1', caller: '101', callee: '103', startedAt: 1000, legs: [], endedAt: 3000, disposition: 'busy', status: 486, reason: 'failed 486' });
    store.cdr.add({ callId: 'x2', caller: '101', callee: '104', dialled: '+15551234567', trunk: 'carrier', startedAt: 5000, legs: [], endedAt: 8000, disposition: 'no-answer', status: 480, reason: 'no answer' });
    assert.deepEqual(store.cdr.list().map((r) => r.callId), ['x1', 'x2']);
    assert.deepEqual(store.cdr.list({ since: 4000 }).map((r) => [r.callId, r.dialled, r.trunk]), [['x2', '+15551234567', 'carrier']]);
    assert.deepEqual(store.cdr.list({ limit: 1 }).map((r) => r.callId), ['x1']);
    assert.equal(store.cdr.prune(5000), 1);
    assert.deepEqual(store.cdr.list().map((r) => r.callId), ['x2']);
    assert.throws(() => store.cdr.add({ callId: '', caller: '1', callee: '2', startedAt: 0, legs: [], endedAt: 0, disposition: 'failed', reason: 'x' }), StoreError);
  });
});

test('a stored dialog that no longer parses is counted, not thrown', () => {
  withStore((store) => {
    const id = store.cdr.open({ callId: 'c9', caller: '101', callee: '102', startedAt: 1, answeredAt: 2, legs: [] }, [{ side: 'caller', dialog: dialog('c9', 0) }]);
    // Damaged the way a bug or a bad disk would: a port out of range.
    store.cdr.updateDialog(id, 'callee', { ...dialog('c9', 0), destination: { transport: 'UDP', address: '127.0.0.1', port: 99999 } });
    const left = store.cdr.leftovers();
    assert.equal(left[0]?.dialogs.length, 1);
    assert.equal(left[0]?.unreadable, 1);
  });
});

test('dispositions follow Asterisk\'s mapping of the final status', () => {
  assert.equal(dispositionOf({ answered: true, status: null, reason: 'caller hung up' }), 'answered');
  assert.equal(dispositionOf({ answered: false, status: 486, reason: 'failed 486' }), 'busy');
  assert.equal(dispositionOf({ answered: false, status: 603, reason: 'failed 603' }), 'busy');
  assert.equal(dispositionOf({ answered: false, status: 480, reason: 'no answer' }), 'no-answer');
  assert.equal(dispositionOf({ answered: false, status: 408, reason: 'failed 480' }), 'no-answer');
  assert.equal(dispositionOf({ answered: false, status: 480, reason: 'rejected by dial plan' }), 'failed');
  assert.equal(dispositionOf({ answered: false, status: 487, reason: 'cancelled by caller' }), 'cancelled');
  assert.equal(dispositionOf({ answered: false, status: 404, reason: 'rejected by dial plan' }), 'failed');
  assert.equal(dispositionOf({ answered: false, status: 503, reason: 'call could not be set up' }), 'failed');
});
