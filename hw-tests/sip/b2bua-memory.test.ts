/**
 * Ended calls let go of their memory at once (issue 21). A fork's INVITE client transaction stays
 * 32 s after its 2xx (RFC 6026 Timer M) to absorb retransmissions; it used to keep the whole call
 * alive that long through its handlers. Now it keeps a compact record, and a 2xx that arrives after
 * the call ended is still handled as RFC 3261 §13.2.2.4 asks: ACKed, and hung up when it opens a
 * dialog nobody wants. Live B2BUA call objects are counted with a FinalizationRegistry
 * (`callObjectsInMemory`, also in `pbxctl status --json`); the test forces collections and checks
 * that they fall to zero while the fork transactions are still there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { SipService } from '../../services/pbx/sip-service.js';
import { callObjectsInMemory } from '../../services/sip/b2bua/call.js';
import type { SipRequest } from '../../services/sip/message.js';
import { register, responseText, sleep, UdpPeer, type Received } from '../support/sip-peer.js';
import { startRegisteredUas } from '../support/sipp-callee.js';
import { killAllSipp, runSipp, scenarioPath } from '../support/sipp.js';
import { startB2buaEnv, type B2buaEnv } from './b2bua-env.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Collects until at most `count` call objects are left (FinalizationRegistry callbacks run after a GC, as tasks). */
async function collectedDownTo(count: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    gc();
    await sleep(20);
    const live = callObjectsInMemory();
    if (live <= count || performance.now() > deadline) return live;
  }
}

const CALLER = { user: '4101', password: 'caller-secret-4101' };
const BULK = { user: '4102', password: 'bulk-secret-4102' };
const RAW = { user: '4103', password: 'raw-secret-4103' };

function requestOf(r: Received): SipRequest | null {
  return r.message?.kind === 'request' ? r.message : null;
}

describe('B2BUA call objects after the call ends', () => {
  let env: B2buaEnv;
  let dir: string;
  let sip: SipService;
  let target: string;
  let pbx: number;
  let callerCsv: string;

  before(async () => {
    env = await startB2buaEnv({ name: 'b2bua-memory', caller: CALLER, users: [BULK, RAW] });
    ({ dir, sip, target, callerCsv, port: pbx } = env);
  });

  after(async () => {
    killAllSipp();
    await env.close();
  });

  test('20 answered and ended calls: their call objects are collected while their INVITE transactions still linger', async () => {
    const callee = await startRegisteredUas({ target, ...BULK, scenario: scenarioPath('uas-answer'), timeoutSec: 60, workDir: dir });
    try {
      const before = await collectedDownTo(0, 2000);
      const calls = await runSipp({ scenario: scenarioPath('uac-invite-auth-call'), target, injectCsv: callerCsv, service: BULK.user, calls: 20, rate: 20, timeoutSec: 30, extraArgs: ['-d', '100'] });
      assert.equal(calls.successful, 20, `caller: ${calls.errors || calls.screen}`);
      assert.deepEqual(sip.calls(), [], 'no call in progress');
      const lingering = sip.stack.stats().clientTransactions;
      assert.ok(lingering >= 20, `the fork INVITEs are still in Timer M (32 s): ${lingering} client transactions`);
      const left = await collectedDownTo(before, 5000);
      assert.equal(left, before, `call objects still in memory after the calls ended (${left - before} of 20)`);
      assert.ok(sip.stack.stats().clientTransactions >= 20, 'the transactions were still there: they no longer hold the calls');
    } finally {
      await callee.stop(3000);
    }
  });

  test('after the call ended, a retransmitted 2xx is ACKed again and another branch’s 2xx is ACKed and hung up (RFC 3261 §13.2.2.4)', async () => {
    const phone = await UdpPeer.open();
    try {
      const reg = await register(phone, { port: pbx }, { user: RAW.user, contacts: [`<sip:${RAW.user}@127.0.0.1:${phone.port}>`], expires: 300 }, { password: RAW.password });
      assert.equal(reg.final?.message.status, 200);
      const before = await collectedDownTo(0, 2000);
      const caller = runSipp({ scenario: scenarioPath('uac-invite-auth-call'), target, injectCsv: callerCsv, service: RAW.user, calls: 1, timeoutSec: 20, extraArgs: ['-d', '200'] });

      const isRequest = (method: string, tag?: string) => (r: Received) => {
        const m = requestOf(r);
        return m !== null && m.method === method && (tag === undefined || m.to.params.get('tag') === tag);
      };
      const [invite] = await phone.waitFor(isRequest('INVITE'), 1, 10_000);
      const inviteMessage = invite?.message;
      assert.ok(inviteMessage !== null && inviteMessage !== undefined);
      await phone.send(responseText(inviteMessage, 200, 'OK', 'branch-a'), pbx);
      await phone.waitFor(isRequest('ACK', 'branch-a'), 1, 5000);
      // The caller hangs up after 200 ms: the BYE reaches this phone, which answers it.
      const [bye] = await phone.waitFor(isRequest('BYE', 'branch-a'), 1, 10_000);
      assert.ok(bye?.message);
      await phone.send(responseText(bye.message, 200, 'OK', 'branch-a'), pbx);
      const result = await caller;
      assert.equal(result.successful, 1, `caller: ${result.errors || result.screen}`);
      assert.deepEqual(sip.calls(), [], 'the call has ended');

      // The call object goes at once, although the INVITE transaction lingers (Timer M).
      assert.equal(await collectedDownTo(before, 5000), before, 'the ended call is no longer in memory');
      assert.ok(sip.stack.stats().clientTransactions >= 1, 'the INVITE transaction is still there');

      // Our 2xx was lost, says the phone: sent again, it is ACKed again, and not hung up twice.
      await phone.send(responseText(inviteMessage, 200, 'OK', 'branch-a'), pbx);
      await phone.waitFor(isRequest('ACK', 'branch-a'), 2, 5000);
      // A second branch answers late: ACK, then BYE, on that branch's dialog.
      await phone.send(responseText(inviteMessage, 200, 'OK', 'branch-b'), pbx);
      await phone.waitFor(isRequest('ACK', 'branch-b'), 1, 5000);
      const [byeB] = await phone.waitFor(isRequest('BYE', 'branch-b'), 1, 5000);
      assert.ok(byeB?.message);
      await phone.send(responseText(byeB.message, 200, 'OK', 'branch-b'), pbx);
      await sleep(300);
      assert.equal(phone.received.filter(isRequest('BYE', 'branch-a')).length, 1, 'the ended dialog is not hung up a second time');
      const ackB = requestOf(phone.received.find(isRequest('ACK', 'branch-b')) as Received);
      assert.equal(ackB?.cseq.seq, inviteMessage.kind === 'request' ? inviteMessage.cseq.seq : -1, 'the ACK carries the INVITE’s CSeq number (§13.2.2.4)');
    } finally {
      await phone.close();
    }
  });
});
