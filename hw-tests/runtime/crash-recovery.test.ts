/**
 * Issue 21 item 3, for real: two sip.js phones in an answered call through the pbx process; the
 * process is killed with SIGKILL (no chance to say goodbye); a new pbx starts on the same data dir
 * and port. Both phones must get a BYE they accept (their calls end) within 5 s of the restart, and
 * the call's record must be closed as `ended-by-restart`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStore } from '../../services/store/index.js';
import { withTimeout } from '../support/sip-phone.js';
import { createRuntimePbx, type RuntimePbx } from './harness.js';

const A = { number: '3001', secret: 'alpha-secret-3001' };
const B = { number: '3002', secret: 'bravo-secret-3002' };

let pbx: RuntimePbx;

before(async () => {
  pbx = await createRuntimePbx([A, B]);
});

after(async () => {
  await pbx.close();
});

test('SIGKILL during an answered call: after the restart both phones get a BYE within 5 s, and the CDR says ended-by-restart', async () => {
  const a = await pbx.phone(A);
  const b = await pbx.phone(B);
  const [callA, callB] = await a.callAnswered(b, B.number, [1000, 1500]);
  await new Promise((r) => setTimeout(r, 300));

  // The answered call is on disk before anything goes wrong.
  let store = openStore(pbx.dir);
  const open = store.cdr.leftovers();
  store.close();
  assert.equal(open.length, 1, 'one open call record');
  assert.deepEqual(open[0]?.dialogs.map((d) => d.side).sort(), ['callee', 'caller']);

  let endedA = false;
  let endedB = false;
  void callA.ended.then(() => (endedA = true));
  void callB.ended.then(() => (endedB = true));

  assert.equal(await pbx.child.stop('SIGKILL'), null);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!endedA && !endedB, 'nobody told the phones yet: the pbx died without a word');

  // The 5 s run from the moment the new process is spawned, its start-up included.
  const restartedAt = Date.now();
  const bothEnded = withTimeout(Promise.all([callA.ended, callB.ended]), 5000, 'both phones receive a BYE within 5 s of the restart');
  await pbx.start();
  await bothEnded;
  console.log(`both calls ended ${Date.now() - restartedAt} ms after the new pbx process was spawned`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((pbx.child.output().match(/"status":200,"msg":"BYE after restart answered"/g) ?? []).length, 2, 'both phones answered our BYE with 200');
  assert.match(pbx.child.output(), /"level":40[^\n]*"msg":"call lost in a pbx restart: phones sent BYE"/);

  store = openStore(pbx.dir);
  try {
    const records = store.cdr.list();
    assert.equal(records.length, 1);
    const record = records[0];
    assert.equal(record?.disposition, 'ended-by-restart');
    assert.equal(record?.caller, A.number);
    assert.equal(record?.callee, B.number);
    assert.ok(record?.answeredAt !== null && record?.endedAt !== null);
    assert.deepEqual(store.cdr.leftovers(), [], 'nothing left open');
  } finally {
    store.close();
  }

  // A second restart finds nothing to do: no BYE twice.
  await pbx.child.stop('SIGTERM');
  await pbx.start();
  assert.doesNotMatch(pbx.child.output(), /BYE after restart/);
});

test('SIGKILL while a phone is in a conference room (a call the pbx answers itself): the phone gets its BYE after the restart', async () => {
  const a = await pbx.phone(A);
  const call = await a.call('8000');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await pbx.child.stop('SIGKILL'), null);
  const restartedAt = Date.now();
  const ended = withTimeout(call.ended, 5000, 'the conference caller receives a BYE within 5 s of the restart');
  await pbx.start();
  await ended;
  console.log(`conference call ended ${Date.now() - restartedAt} ms after the new pbx process was spawned`);
  const store = openStore(pbx.dir);
  try {
    const record = store.cdr.list().find((r) => r.callee !== B.number);
    assert.equal(record?.disposition, 'ended-by-restart');
    assert.equal(record?.caller, A.number);
  } finally {
    store.close();
  }
});
