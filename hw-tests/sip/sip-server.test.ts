/**
 * SIPp phones against a real SIP server over loopback: REGISTER with digest auth (good password;
 * wrong password and unknown user indistinguishable), calls from one SIPp UA to another through
 * the server over UDP and TCP, CANCEL before answer, busy.
 * The same tests run against Kamailio 5.6 (the reference, proving the scenarios) and against
 * ours (`dist/services/pbx/main.js`, skipped only while it is not built). The target is the only
 * difference: a SipServerUnderTest.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failIfMissing, skipUnlessCi } from '../support/environment.js';
import { makeUsers, pbxAvailable, startKamailio, startPbx, type SipServerUnderTest } from '../support/sip-servers.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { killAllSipp, parseMessageLog, runSipp, scenarioPath, writeUserCsv } from '../support/sipp.js';

const users = makeUsers(20);
const callees = { u1: { user: '3000', password: 'secret-3000' }, t1: { user: '3003', password: 'secret-3003' } };
const busyCallee = { user: '3001', password: 'secret-3001' };
const ringCallee = { user: '3002', password: 'secret-3002' };
const allUsers = [...users, callees.u1, callees.t1, busyCallee, ringCallee];

type Factory = (workDir: string) => Promise<SipServerUnderTest>;
const servers: { name: string; start: Factory; skip: string | false }[] = [
  { name: 'kamailio', start: (workDir) => startKamailio({ users: allUsers, workDir, children: 2 }), skip: false },
  {
    name: 'ours',
    start: (workDir) => startPbx({ users: allUsers, workDir }),
    skip: pbxAvailable() ? false : 'dist/services/pbx/main.js is not built',
  },
];

/** Status line and header names of a response, without the values that differ per request. */
function shape(response: string): string {
  const [status, ...headers] = response.split('\n\n')[0]?.split('\n') ?? [];
  const names = headers.map((h) => h.split(':')[0]?.trim().toLowerCase()).sort();
  return `${status}\n${names.join(',')}`;
}

function challengeParams(response: string): string {
  const h = /^(?:WWW|Proxy)-Authenticate:\s*(.*)$/im.exec(response)?.[1] ?? '';
  return h
    .replace(/nonce="[^"]*"/, 'nonce=*')
    .replace(/opaque="[^"]*"/, 'opaque=*');
}

after(() => killAllSipp());

for (const server of servers) {
  describe(`SIPp phones against ${server.name}`, { skip: skipUnlessCi(server.skip) }, () => {
    let sut: SipServerUnderTest;
    let workDir: string;
    let callersCsv: string;

    before(async () => {
      failIfMissing(server.skip);
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), `sip-server-${server.name}-`));
      sut = await server.start(workDir);
      callersCsv = writeUserCsv(path.join(workDir, 'callers.csv'), users);
    });
    after(async () => {
      await sut?.stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    });

    test('REGISTER with the right password succeeds for every user', async () => {
      const r = await runSipp({
        scenario: scenarioPath('uac-register-auth'),
        target: sut.target,
        injectCsv: callersCsv,
        calls: users.length,
        rate: 50,
        timeoutSec: 20,
        extraArgs: ['-nd'],
      });
      assert.equal(r.exitCode, 0, `${r.errors}\n${sut.output().slice(-2000)}`);
      assert.equal(r.successful, users.length);
    });

    test('a wrong password and an unknown user get the same challenge, twice', async () => {
      const run = async (user: string, password: string): Promise<string> => {
        const csv = writeUserCsv(path.join(workDir, `bad-${user}.csv`), [{ user, password }]);
        const r = await runSipp({
          scenario: scenarioPath('uac-register-expect-401-twice'),
          target: sut.target,
          injectCsv: csv,
          calls: 1,
          timeoutSec: 15,
          extraArgs: ['-nd'],
          traceMessages: true,
        });
        assert.equal(r.exitCode, 0, r.errors);
        assert.equal(r.successful, 1);
        const received = parseMessageLog(r.messages).filter((m) => m.direction === 'received');
        const second = received[received.length - 1]?.text ?? '';
        assert.match(second, /^SIP\/2\.0 401 /);
        return second;
      };
      const wrongPassword = await run(users[0]?.user ?? '1001', 'not-the-password');
      const unknownUser = await run('9999', 'whatever');
      assert.equal(shape(wrongPassword), shape(unknownUser));
      assert.equal(challengeParams(wrongPassword), challengeParams(unknownUser));
      assert.match(wrongPassword, /realm="pbx\.local"/);
    });

    for (const transport of ['u1', 't1'] as const) {
      test(`calls from a SIPp UA to a registered SIPp UA through the server (caller over ${transport})`, async () => {
        const callee = callees[transport];
        const uas = await startRegisteredUas({
          target: sut.target,
          ...callee,
          scenario: scenarioPath('uas-answer'),
          timeoutSec: 60,
          workDir,
        });
        const calls = 20;
        const uac = await runSipp({
          scenario: scenarioPath('uac-invite-auth-call'),
          target: sut.target,
          transport,
          injectCsv: callersCsv,
          service: callee.user,
          calls,
          rate: 20,
          timeoutSec: 30,
          extraArgs: ['-d', '300'],
        });
        await uas.waitForCalls(calls, 10_000);
        const answered = await uas.stop();
        assert.equal(uac.exitCode, 0, `${uac.errors}\n${sut.output().slice(-2000)}`);
        assert.equal(uac.successful, calls);
        // created may exceed calls: a registrar may probe the contact (OPTIONS keepalive)
        assert.ok(answered.created >= calls);
        assert.equal(answered.successful, calls, answered.errors);
      });
    }

    test('CANCEL before answer: the ringing callee gets the CANCEL, the caller its 487', async () => {
      const uas = await startRegisteredUas({
        target: sut.target,
        ...ringCallee,
        scenario: scenarioPath('uas-ring-no-answer'),
        timeoutSec: 60,
        workDir,
      });
      const calls = 5;
      const uac = await runSipp({
        scenario: scenarioPath('uac-cancel-before-answer'),
        target: sut.target,
        injectCsv: callersCsv,
        service: ringCallee.user,
        calls,
        rate: 10,
        timeoutSec: 30,
        extraArgs: ['-d', '500'],
      });
      await uas.waitForCalls(calls, 10_000);
      const callee = await uas.stop();
      assert.equal(uac.exitCode, 0, `${uac.errors}\n${sut.output().slice(-2000)}`);
      assert.equal(uac.successful, calls);
      assert.equal(callee.successful, calls, callee.errors);
    });

    test('a busy callee: the caller gets 486 and every call fails', async () => {
      const uas = await startRegisteredUas({
        target: sut.target,
        ...busyCallee,
        scenario: scenarioPath('uas-busy-486'),
        timeoutSec: 60,
        workDir,
      });
      const calls = 5;
      const uac = await runSipp({
        scenario: scenarioPath('uac-invite-auth-call'),
        target: sut.target,
        injectCsv: callersCsv,
        service: busyCallee.user,
        calls,
        rate: 10,
        timeoutSec: 20,
      });
      await uas.waitForCalls(calls, 10_000);
      const callee = await uas.stop();
      assert.equal(uac.exitCode, 1);
      assert.equal(uac.failed, calls);
      assert.match(uac.errors, /SIP\/2\.0 486/);
      assert.equal(callee.successful, calls, callee.errors);
    });
  });
}
