/**
 * Call detail records with real phones through the real pbx process (issue 16 item 6): an answered
 * call between two sip.js phones (with each leg's RTP figures), a busy callee and a callee that
 * never answers (SIPp phones), an extension with no phone; read back with `pbxctl cdr list --json`,
 * `pbxctl cdr export --csv` and `pbxctl logs --call`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Inviter } from 'sip.js/lib/api/index.js';
import type { CallRecord } from '../../services/store/index.js';
import { pbxctl as runPbxctl, type PbxctlRun } from '../support/pbxctl.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { killAllSipp, scenarioPath } from '../support/sipp.js';
import { withTimeout, type SipPhone } from '../support/sip-phone.js';
import { openStore } from '../../services/store/index.js';
import { createRuntimePbx, type RuntimePbx } from './harness.js';

const A = { number: '3101', secret: 'alpha-secret-3101' };
const B = { number: '3102', secret: 'bravo-secret-3102' };
const BUSY = { number: '3103', secret: 'busy-secret-3103' };
const SLOW = { number: '3104', secret: 'slow-secret-3104' };
const NOBODY = { number: '3105', secret: 'nobody-secret-3105' };

let pbx: RuntimePbx;
let a: SipPhone;

function pbxctl(args: string[]): Promise<PbxctlRun> {
  return runPbxctl(['--data-dir', pbx.dir, ...args]);
}

async function records(): Promise<CallRecord[]> {
  const r = await pbxctl(['cdr', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as CallRecord[];
}

/** A call that is refused: the phone's call ends without being answered. */
async function refusedCall(target: string): Promise<string> {
  const attempt = a.call(target).then(
    () => assert.fail(`${target} must not answer`),
    () => undefined,
  );
  const call = a.calls.at(-1);
  assert.ok(call, 'the phone tracks its call');
  await withTimeout(call.ended, 10_000, `call to ${target} ends`);
  void attempt;
  assert.ok(call.session instanceof Inviter);
  return call.session.request.callId;
}

before(async () => {
  pbx = await createRuntimePbx([A, B, BUSY, SLOW, NOBODY], { calls: { noAnswerSeconds: 2 } });
  // These records are of calls nobody takes: with a voicemail box on, the box would take them.
  const store = openStore(pbx.dir);
  for (const e of [BUSY, SLOW, NOBODY]) store.voicemail.setBox(e.number, { enabled: false });
  store.close();
  a = await pbx.phone(A);
});

after(async () => {
  killAllSipp();
  await pbx.close();
});

test('an answered call: one record, disposition answered, both legs with their RTP figures', async () => {
  const b = await pbx.phone(B);
  const [callA, callB] = await a.callAnswered(b, B.number, [1000, 1500]);
  await new Promise((r) => setTimeout(r, 1500));
  await a.hangUp(callA);
  await callB.ended;
  await new Promise((r) => setTimeout(r, 200));

  const list = await records();
  const record = list.find((r) => r.callee === B.number);
  assert.ok(record, JSON.stringify(list));
  assert.equal(record.caller, A.number);
  assert.equal(record.disposition, 'answered');
  assert.equal(record.reason, 'caller hung up');
  assert.equal(record.dialled, null, 'routing fills the number later');
  assert.ok(record.answeredAt !== null && record.endedAt !== null && record.answeredAt >= record.startedAt && record.endedAt - record.answeredAt >= 1400);
  assert.deepEqual(record.legs.map((l) => l.side).sort(), ['callee', 'caller']);
  console.log(`legs: ${record.legs.map((l) => `${l.side} in ${l.quality?.packetsIn} out ${l.quality?.packetsOut} lost ${l.quality?.lost} jitter ${l.quality?.jitterMs} ms`).join('; ')}`);
  for (const leg of record.legs) {
    assert.ok(leg.quality, `${leg.side} leg has RTP figures`);
    assert.ok(leg.quality.packetsIn >= 50, `${leg.side}: ${leg.quality.packetsIn} packets in (1.5 s at 50/s)`);
    // Loopback loses nothing; a loaded CI box may delay, so the bounds are loose, the figures real.
    assert.ok(leg.quality.lost <= leg.quality.packetsIn / 20, `${leg.side}: ${leg.quality.lost} lost`);
    assert.ok(leg.quality.jitterMs >= 0 && leg.quality.jitterMs < 200, `${leg.side}: jitter ${leg.quality.jitterMs} ms`);
    assert.ok(leg.quality.packetsOut >= 50, `${leg.side}: ${leg.quality.packetsOut} packets relayed to the phone`);
    assert.match(leg.address ?? '', /^udp:127\.0\.0\.1:\d+$/);
  }
  assert.equal(record.legs.find((l) => l.side === 'caller')?.callId, record.callId);
  assert.notEqual(record.legs.find((l) => l.side === 'callee')?.callId, record.callId, 'the callee leg has its own Call-ID');

  // The technician follows this one call in the log, both legs.
  const logs = await pbxctl(['logs', '--call', record.callId, '--json']);
  assert.equal(logs.code, 0, logs.stderr);
  const lines = logs.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; callId: string });
  assert.ok(lines.some((l) => l.msg === 'call answered'), logs.stdout);
  assert.ok(lines.some((l) => l.msg === 'call ended'), logs.stdout);
  assert.ok(lines.every((l) => l.callId === record.callId || record.legs.some((leg) => leg.callId === l.callId)));
  const human = await pbxctl(['logs', '--call', record.callId]);
  assert.match(human.stdout, /^\S+Z INFO  pbx: call answered /m);
});

test('a busy callee: disposition busy, status 486', async () => {
  const busy = await startRegisteredUas({ target: `127.0.0.1:${pbx.port}`, user: BUSY.number, password: BUSY.secret, scenario: scenarioPath('uas-busy-486'), timeoutSec: 30, workDir: pbx.dir });
  const callId = await refusedCall(BUSY.number);
  await busy.stop();
  const record = (await records()).find((r) => r.callId === callId);
  assert.ok(record);
  assert.equal(record.disposition, 'busy');
  assert.equal(record.status, 486);
  assert.equal(record.answeredAt, null);
  assert.ok(record.endedAt !== null);
});

test('nobody answers within the no-answer time: disposition no-answer', async () => {
  const slow = await startRegisteredUas({ target: `127.0.0.1:${pbx.port}`, user: SLOW.number, password: SLOW.secret, scenario: scenarioPath('uas-ring-no-answer'), timeoutSec: 30, workDir: pbx.dir });
  const callId = await refusedCall(SLOW.number);
  await slow.stop();
  const record = (await records()).find((r) => r.callId === callId);
  assert.ok(record);
  assert.equal(record.disposition, 'no-answer');
  assert.equal(record.status, 480);
  assert.ok(record.endedAt !== null && record.endedAt - record.startedAt >= 1900, 'after the 2 s no-answer time');
});

test('an extension with no phone registered: disposition failed, 480, still one record', async () => {
  const callId = await refusedCall(NOBODY.number);
  const record = (await records()).find((r) => r.callId === callId);
  assert.ok(record);
  assert.equal(record.disposition, 'failed');
  assert.equal(record.status, 480);
  assert.equal(record.callee, NOBODY.number);
});

test('CSV export and --since', async () => {
  const file = path.join(pbx.dir, 'cdr.csv');
  const r = await pbxctl(['cdr', 'export', '--csv', file]);
  assert.equal(r.code, 0, r.stderr);
  const rows = fs.readFileSync(file, 'utf8').trim().split('\r\n');
  assert.match(rows[0] ?? '', /^id,call_id,caller,callee,dialled,trunk,started_at,answered_at,ended_at,ring_seconds,talk_seconds,disposition,sip_status/);
  const dispositions = rows.slice(1).map((row) => row.split(',')[11]);
  assert.deepEqual(dispositions, ['answered', 'busy', 'no-answer', 'failed']);
  const recent = await pbxctl(['cdr', 'list', '--since', '1h']);
  assert.match(recent.stdout, /^call records: 4$/m);
  const future = await pbxctl(['cdr', 'list', '--since', '2999-01-01', '--json']);
  assert.deepEqual(JSON.parse(future.stdout), []);
  const bad = await pbxctl(['cdr', 'list', '--since', 'yesterday']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--since\/--before must be an ISO date/);
  const kept = await pbxctl(['cdr', 'prune', '--before', '400d']);
  assert.match(kept.stdout, /^0 call record\(s\) that ended before/m);
  const pruned = await pbxctl(['cdr', 'prune', '--before', '2999-01-01', '--json']);
  assert.equal((JSON.parse(pruned.stdout) as { deleted: number }).deleted, 4);
  assert.deepEqual(await records(), []);
});
