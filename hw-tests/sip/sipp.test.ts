/**
 * The SIPp harness proven on its own: SIPp UAC against SIPp UAS, directly over loopback, with
 * the builtin and our scenarios, so a failure of a server test later is the server's, not the
 * harness's. Each test asserts on SIPp's own accounting (stat CSV, exit code) and on the
 * messages it logged.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  freePort,
  freePortBoth,
  killAllSipp,
  parseMessageLog,
  parseStatCsv,
  portIsFree,
  runSipp,
  scenarioPath,
  startSippUas,
  statNumber,
  writeUserCsv,
} from '../support/sipp.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-harness-'));
after(() => {
  killAllSipp();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const callers = writeUserCsv(path.join(tmp, 'callers.csv'), [
  { user: '1001', password: 'pw-1001' },
  { user: '1002', password: 'pw-1002' },
]);

describe('ports', () => {
  test('freePort gives ports that can be bound, for UDP and TCP', async () => {
    const udp = await freePort('udp');
    const tcp = await freePort('tcp');
    assert.ok(udp > 0 && tcp > 0);
    assert.equal(await portIsFree('udp', udp), true);
    assert.equal(await portIsFree('tcp', tcp), true);
  });

  test('portIsFree sees a bound port as taken', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const { port } = sock.address();
    assert.equal(await portIsFree('udp', port), false);
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    assert.equal(await portIsFree('udp', port), true);
    const both = await freePortBoth();
    assert.equal(await portIsFree('tcp', both), true);
  });
});

describe('stat CSV', () => {
  test('parses SIPp rows by column name', () => {
    const rows = parseStatCsv('StartTime;SuccessfulCall(C);FailedCall(C);\nx;12;3;\ny;20;4;\n');
    assert.equal(rows.length, 2);
    assert.equal(statNumber(rows[1], 'SuccessfulCall(C)'), 20);
    assert.equal(statNumber(rows[1], 'FailedCall(C)'), 4);
    assert.equal(statNumber(rows[1], 'NoSuchColumn'), 0);
  });
});

test('builtin uac calls builtin uas over UDP', async () => {
  const uas = await startSippUas({ scenario: 'uas', timeoutSec: 40 });
  const uac = await runSipp({
    scenario: 'uac',
    target: `127.0.0.1:${uas.port}`,
    calls: 30,
    rate: 30,
    timeoutSec: 30,
    extraArgs: ['-d', '100'],
  });
  await uas.waitForCalls(30, 8000);
  const server = await uas.stop();
  assert.equal(uac.exitCode, 0, uac.errors || uac.stderr);
  assert.equal(uac.successful, 30);
  assert.equal(uac.failed, 0);
  assert.equal(uac.created, 30);
  assert.equal(server.successful, 30, `${server.errors}\n${server.screen}`);
  assert.equal(server.created, 30);
  assert.ok(uac.stats.length >= 1);
  assert.ok(uac.cpuSeconds >= 0);
  assert.match(uac.screen, /INVITE/);
});

for (const transport of ['u1', 't1'] as const) {
test(`uac-invite-auth-call completes against uas-answer over ${transport} (no challenge: straight to 200)`, async () => {
  const uas = await startSippUas({ scenario: scenarioPath('uas-answer'), transport, timeoutSec: 40 });
  const uac = await runSipp({
    scenario: scenarioPath('uac-invite-auth-call'),
    target: `127.0.0.1:${uas.port}`,
    transport,
    injectCsv: callers,
    service: '2000',
    calls: 20,
    rate: 40,
    timeoutSec: 30,
    extraArgs: ['-d', '200'],
    traceMessages: true,
  });
  await uas.waitForCalls(20, 5000);
  const server = await uas.stop();
  assert.equal(uac.exitCode, 0, uac.errors);
  assert.equal(uac.successful, 20);
  assert.equal(server.created, 20);
  // Over TCP the UAC closes its connection as soon as its last call ends; SIPp then aborts the
  // UAS's last call, still in its timewait (absorbing BYE retransmissions): at most one.
  assert.ok(server.successful >= (transport === 'u1' ? 20 : 19), server.errors);
  const sent = parseMessageLog(uac.messages).filter((m) => m.direction === 'sent');
  const first = sent.find((m) => m.text.startsWith('INVITE '));
  assert.ok(first, 'an INVITE was sent');
  assert.match(first.text, /^INVITE sip:2000@127\.0\.0\.1:\d+ SIP\/2\.0/);
  assert.match(first.text, /^From: <sip:100[12]@127\.0\.0\.1>;tag=/m);
  // ACK and BYE go to the Contact of the 200 (the UAS's address) with the 200's To tag
  const bye = sent.find((m) => m.text.startsWith('BYE '));
  assert.ok(bye);
  const proto = transport === 'u1' ? 'UDP' : 'TCP';
  assert.match(bye.text, new RegExp(`^BYE sip:127\\.0\\.0\\.1:${uas.port};transport=${proto} SIP/2\\.0`));
  assert.match(bye.text, /^To: <sip:2000@127\.0\.0\.1>;tag=\d+A\d+/m);
});
}

test('a busy callee makes every uac-invite-auth-call fail, and the harness reports it', async () => {
  const uas = await startSippUas({ scenario: scenarioPath('uas-busy-486'), timeoutSec: 30 });
  const uac = await runSipp({
    scenario: scenarioPath('uac-invite-auth-call'),
    target: `127.0.0.1:${uas.port}`,
    injectCsv: callers,
    service: '2000',
    calls: 5,
    rate: 20,
    timeoutSec: 20,
  });
  await uas.waitForCalls(5, 5000);
  const server = await uas.stop();
  assert.equal(uac.exitCode, 1);
  assert.equal(uac.successful, 0);
  assert.equal(uac.failed, 5);
  assert.match(uac.errors, /486/);
  // the UAS saw its 486 acknowledged each time
  assert.equal(server.successful, 5, server.errors);
});

test('uac-cancel-before-answer against uas-ring-no-answer: CANCEL, 200, 487, ACK', async () => {
  const uas = await startSippUas({ scenario: scenarioPath('uas-ring-no-answer'), timeoutSec: 40 });
  const uac = await runSipp({
    scenario: scenarioPath('uac-cancel-before-answer'),
    target: `127.0.0.1:${uas.port}`,
    injectCsv: callers,
    service: '2000',
    calls: 10,
    rate: 20,
    timeoutSec: 30,
    extraArgs: ['-d', '300'],
    traceMessages: true,
  });
  await uas.waitForCalls(10, 5000);
  const server = await uas.stop();
  assert.equal(uac.exitCode, 0, uac.errors);
  assert.equal(uac.successful, 10);
  assert.equal(server.successful, 10, server.errors);
  const sent = parseMessageLog(uac.messages).filter((m) => m.direction === 'sent');
  const invite = sent.find((m) => m.text.startsWith('INVITE '));
  const cancel = sent.find((m) => m.text.startsWith('CANCEL '));
  assert.ok(invite && cancel);
  const branch = (t: string): string | undefined => /^Via:.*;branch=([^;\s]+)/m.exec(t)?.[1];
  // RFC 3261 9.1: the CANCEL has the INVITE's branch and CSeq number, and a To without tag
  assert.equal(branch(cancel.text), branch(invite.text));
  assert.match(cancel.text, /^CSeq: 1 CANCEL$/m);
  assert.match(cancel.text, /^To: <sip:2000@127\.0\.0\.1>$/m);
  const received = parseMessageLog(uac.messages).filter((m) => m.direction === 'received');
  assert.ok(received.some((m) => m.text.startsWith('SIP/2.0 487')));
});

test('a UAC with nobody answering fails within its timeout and leaves no process', async () => {
  const port = await freePort('udp');
  const started = Date.now();
  const uac = await runSipp({
    scenario: scenarioPath('uac-invite-auth-call'),
    target: `127.0.0.1:${port}`,
    injectCsv: callers,
    service: '2000',
    calls: 2,
    rate: 10,
    timeoutSec: 3,
  });
  assert.notEqual(uac.exitCode, 0);
  assert.equal(uac.successful, 0);
  assert.equal(uac.killed, false);
  assert.ok(Date.now() - started < 15_000);
});

test('runSipp refuses a UAC scenario without a target', async () => {
  await assert.rejects(runSipp({ scenario: 'uac', calls: 1, timeoutSec: 1 }), /target/);
});

test('writeUserCsv puts the credentials in the SIPp authentication keyword', () => {
  const text = fs.readFileSync(callers, 'utf8').split('\n');
  assert.equal(text[0], 'SEQUENTIAL');
  assert.equal(text[1], '1001;[authentication username=1001 password=pw-1001]');
  assert.throws(() => writeUserCsv(path.join(tmp, 'bad.csv'), [{ user: 'a;b', password: 'x' }]));
});
