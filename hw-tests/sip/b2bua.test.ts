/**
 * The B2BUA with SIPp phones on loopback: every registered contact of the callee rings in parallel
 * and the others are cancelled when one answers; nobody answering ends in 480; a hold re-INVITE
 * from the callee is relayed to the caller with its answer relayed back; BYE from the callee side
 * ends both legs; an extension with no phone registered gives 480.
 * (Register, basic calls over UDP and TCP, CANCEL and busy are in sip-server.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SipService } from '../../services/pbx/sip-service.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { killAllSipp, runSipp, scenarioPath, type SippUasHandle } from '../support/sipp.js';
import { startB2buaEnv, type B2buaEnv } from './b2bua-env.js';

/** A SIPp phone played its scenario through once, successfully; then it is stopped. */
async function finishedOneCall(phone: SippUasHandle, what: string): Promise<void> {
  const done = await phone.waitForCalls(1, 15_000);
  const progress = phone.progress();
  const result = await phone.stop();
  assert.ok(done, `${what}: no call completed (${result.errors || result.screen})`);
  assert.equal(progress.successful, 1, `${what}: ${result.errors || result.screen}`);
}

const CALLER = { user: '4001', password: 'caller-secret-4001' };
const FORKED = { user: '4002', password: 'forked-secret-4002' };
const LONELY = { user: '4003', password: 'lonely-secret-4003' };
const HOLDER = { user: '4004', password: 'holder-secret-4004' };
const NOBODY = { user: '4005', password: 'nobody-secret-4005' };

describe('B2BUA calls between SIPp phones', () => {
  let env: B2buaEnv;
  let dir: string;
  let sip: SipService;
  let target: string;
  let callerCsv: string;

  before(async () => {
    env = await startB2buaEnv({ name: 'b2bua', caller: CALLER, users: [FORKED, LONELY, HOLDER, NOBODY], config: { calls: { noAnswerSeconds: 2 } } });
    ({ dir, sip, target, callerCsv } = env);
  });

  after(async () => {
    killAllSipp();
    await env.close();
  });

  test('all contacts ring in parallel; the first to answer wins and the other is cancelled', async () => {
    const answering = await startRegisteredUas({ target, ...FORKED, scenario: scenarioPath('uas-ring-then-answer'), timeoutSec: 30, workDir: dir });
    const ringing = await startRegisteredUas({ target, ...FORKED, scenario: scenarioPath('uas-ring-no-answer'), timeoutSec: 30, workDir: dir });
    assert.equal(sip.registration.registrar.lookup(FORKED.user).length, 2, 'two contacts registered');

    const call = await runSipp({ scenario: scenarioPath('uac-invite-auth-call'), target, injectCsv: callerCsv, calls: 1, service: FORKED.user, timeoutSec: 20, extraArgs: ['-d', '500'] });
    assert.equal(call.exitCode, 0, `caller: ${call.errors || call.screen}`);
    await finishedOneCall(answering, 'answering phone (BYE relayed to it)');
    await finishedOneCall(ringing, 'ringing phone (must get CANCEL)');
    assert.deepEqual(sip.calls(), [], 'no call left behind');
  });

  test('nobody answers: the caller gets 480 after the no-answer time and the phone gets CANCEL', async () => {
    const ringing = await startRegisteredUas({ target, ...LONELY, scenario: scenarioPath('uas-ring-no-answer'), timeoutSec: 30, workDir: dir });
    const call = await runSipp({ scenario: scenarioPath('uac-invite-auth-expect-480'), target, injectCsv: callerCsv, calls: 1, service: LONELY.user, timeoutSec: 20 });
    assert.equal(call.exitCode, 0, `caller must get 480: ${call.errors || call.screen}`);
    assert.ok(call.wallMs >= 1900, `480 only after the 2 s no-answer timer (took ${call.wallMs} ms)`);
    await finishedOneCall(ringing, 'ringing phone (must get CANCEL)');
  });

  test('a hold re-INVITE from the callee reaches the caller, the answer comes back, and the callee hangs up', async () => {
    const callee = await startRegisteredUas({ target, ...HOLDER, scenario: scenarioPath('uas-answer-hold-then-bye'), timeoutSec: 30, workDir: dir });
    const call = await runSipp({ scenario: scenarioPath('uac-call-accept-hold-expect-bye'), target, injectCsv: callerCsv, calls: 1, service: HOLDER.user, timeoutSec: 20 });
    assert.equal(call.exitCode, 0, `caller: ${call.errors || call.screen}`);
    await finishedOneCall(callee, 'callee (hold answered, BYE answered)');
    assert.deepEqual(sip.calls(), []);
  });

  test('an extension with no registered phone gives 480 at once', async () => {
    const call = await runSipp({ scenario: scenarioPath('uac-invite-auth-expect-480'), target, injectCsv: callerCsv, calls: 1, service: NOBODY.user, timeoutSec: 20 });
    assert.equal(call.exitCode, 0, `caller must get 480: ${call.errors || call.screen}`);
  });
});
