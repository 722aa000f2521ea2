/**
 * What the carrier sees of a user's features (issue 17 items 5 and 6), with an IP-authenticated
 * carrier (SIPp on 127.0.0.2, echoing RTP) and the office in France:
 *   - 101 forwards its calls to a mobile: a call from 102 reaches the carrier with 102's number in
 *     From and a Diversion header naming 101's number (RFC 5806); 102 hears its tone echoed back;
 *     a call from the carrier to 101's number goes back out with the carrier's caller kept;
 *   - a forward to an international number without the permission is not followed (101 rings);
 *   - `*67` before the number: an anonymous From, `Privacy: id` and the real number in
 *     P-Asserted-Identity (RFC 3323/3325); a user hiding by default, `*82` shows it for one call;
 *     an emergency call always carries the number.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { levels, sleep } from '../media/harness.js';
import { freePort, killAllSipp } from '../support/sipp.js';
import type { SipPhone } from '../support/sip-phone.js';
import { startTrunkTestPbx, type TrunkTestPbx } from '../trunk/harness.js';
import { carrierAnswersOnce, carrierCallsIn, firstInvite } from '../trunk/sipp-carrier.js';

const CARRIER_IP = '127.0.0.2';
const USERS = ['101', '102'].map((number) => ({ number, secret: `carrier-test-${number}` }));
const DID_101 = '+33142345601';
const DID_102 = '+33142345602';
const MOBILE = '0612345678';

describe('what the carrier sees: forwarded calls and hidden caller IDs', () => {
  let pbx: TrunkTestPbx;
  let carrierPort: number;
  let phone101: SipPhone;
  let phone102: SipPhone;

  before(async () => {
    carrierPort = await freePort('udp', CARRIER_IP);
    pbx = await startTrunkTestPbx({
      country: 'FR',
      extensions: USERS,
      setup(store) {
        store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: carrierPort });
        store.numbers.add(DID_101, { kind: 'extension', number: '101' });
        store.extensionRouting.set('101', { directNumber: DID_101 });
        store.numbers.add(DID_102, { kind: 'extension', number: '102' });
        store.extensionRouting.set('102', { directNumber: DID_102 });
      },
    });
    phone101 = await pbx.phone('101');
    phone102 = await pbx.phone('102');
  });

  after(async () => {
    killAllSipp();
    await pbx.close();
  });

  test('101 forwards to a mobile: 102 calls 101, the carrier gets 102\'s number in From and a Diversion naming 101; 102 hears its tone echoed', async () => {
    pbx.store.userFeatures.set('101', { forward: { always: MOBILE } });
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: true });
    const call = await phone102.call('101');
    call.media.setSignal({ kind: 'tones', freqs: [1200] });
    await sleep(600);
    const from = performance.now();
    await sleep(1200);
    const [l1200] = levels(call.media.pcmBetween(from, performance.now()), [1200]) as [number];
    console.log(`102 → 101 ⇒ carrier: 102 hears its 1200 Hz echoed at ${l1200.toFixed(1)} dBm0`);
    assert.ok(l1200 > -20, `the forwarded call reached the carrier and audio flows (${l1200.toFixed(1)} dBm0)`);
    await phone102.hangUp(call);
    const invite = firstInvite((await carrier.done()).messages);
    console.log(invite.split(/\r?\n/).filter((l) => /^(INVITE|From|Diversion|Privacy|P-Asserted)/.test(l)).join(' | '));
    assert.match(invite, /^INVITE sip:\+33612345678@127\.0\.0\.2/, 'the mobile in E.164');
    assert.match(invite, /^From: .*<sip:\+33142345602@127\.0\.0\.2>/m, "the original caller's number (102's direct number)");
    assert.match(invite, /^Diversion: <sip:\+33142345601@127\.0\.0\.2>;reason=unconditional;counter=1;privacy=off$/m, 'Diversion names 101 (RFC 5806)');
  });

  test('the carrier calls 101\'s number from +33155550123; 101 forwards to the mobile: the call goes back out with the carrier\'s caller kept', async () => {
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: true });
    const run = carrierCallsIn(CARRIER_IP, pbx.address.port, { dialled: '0142345601', caller: '+33155550123', holdMs: 1000 });
    const result = await run;
    assert.equal(result.exitCode, 0, `the carrier's call was answered through the forward: ${result.errors || result.screen}`);
    const invite = firstInvite((await carrier.done()).messages);
    assert.match(invite, /^INVITE sip:\+33612345678@/);
    assert.match(invite, /^From: .*<sip:\+33155550123@127\.0\.0\.2>/m, "the carrier's caller is kept");
    assert.match(invite, /^Diversion: <sip:\+33142345601@127\.0\.0\.2>;reason=unconditional;counter=1/m);
    pbx.store.userFeatures.set('101', { forward: { always: null } });
  });

  test('101\'s phone answers busy (486): the busy forward goes to the mobile through the carrier, Diversion reason=user-busy, counted on the trunk', async () => {
    pbx.store.userFeatures.set('101', { forward: { busy: MOBILE } });
    const delegate = phone101.ua.delegate;
    phone101.ua.delegate = { onInvite: (invitation) => void invitation.reject({ statusCode: 486 }).catch(() => undefined) };
    const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: true });
    const call = await phone102.call('101');
    assert.equal(pbx.sip.calls()[0]?.trunk, 'carrier', 'the forwarded call counts on the trunk (--max-calls)');
    await phone102.hangUp(call);
    phone101.ua.delegate = delegate;
    const invite = firstInvite((await carrier.done()).messages);
    assert.match(invite, /^INVITE sip:\+33612345678@/);
    assert.match(invite, /^From: .*<sip:\+33142345602@/m);
    assert.match(invite, /^Diversion: <sip:\+33142345601@127\.0\.0\.2>;reason=user-busy;counter=1;privacy=off$/m);
    pbx.store.userFeatures.set('101', { forward: { busy: null } });
  });

  test('a forward to an international number without the permission is not followed: 101\'s own phone rings', async () => {
    // pbxctl and the feature code refuse it; the permission may also be taken away after the forward was set.
    pbx.store.userFeatures.set('101', { forward: { always: '00442079460000' } });
    const [call, at101] = await phone102.callAnswered(phone101, '101');
    await phone102.hangUp(call);
    pbx.store.userFeatures.set('101', { forward: { always: null } });
  });

  test('*67 hides 101\'s number: anonymous From, Privacy: id, the real number in P-Asserted-Identity; hidden by default, *82 shows it; 112 always shows it', async () => {
    const calls: Array<[string, string]> = [];
    const place = async (dialled: string): Promise<string> => {
      const carrier = await carrierAnswersOnce(CARRIER_IP, carrierPort, { echo: true });
      const call = await phone101.call(dialled);
      await sleep(200);
      await phone101.hangUp(call);
      const invite = firstInvite((await carrier.done()).messages);
      calls.push([dialled, invite.split(/\r?\n/).filter((l) => /^(From|Privacy|P-Asserted)/.test(l)).join(' | ')]);
      return invite;
    };
    const hidden = await place(`*67${MOBILE}`);
    assert.match(hidden, /^INVITE sip:\+33612345678@/, '*67 is not sent to the carrier');
    assert.match(hidden, /^From: "Anonymous" <sip:anonymous@anonymous\.invalid>;tag=/m, 'anonymous From (RFC 3323 §4.1.1.3)');
    assert.match(hidden, /^Privacy: id$/m);
    assert.match(hidden, /^P-Asserted-Identity: "Phone 101" <sip:\+33142345601@127\.0\.0\.2>$/m, 'the real identity for the carrier (RFC 3325)');

    const shown = await place(MOBILE);
    assert.match(shown, /^From: .*<sip:\+33142345601@/m);
    assert.doesNotMatch(shown, /^Privacy:/m);

    pbx.store.userFeatures.set('101', { hideCallerId: true });
    assert.match(await place(MOBILE), /^From: "Anonymous" <sip:anonymous@anonymous\.invalid>/m, 'hidden by default');
    const once = await place(`*82${MOBILE}`);
    assert.match(once, /^From: .*<sip:\+33142345601@/m, '*82 shows the number for this call');
    assert.doesNotMatch(once, /^Privacy:/m);
    const emergency = await place('*67112');
    assert.match(emergency, /^INVITE sip:112@/);
    assert.match(emergency, /^From: .*<sip:\+33142345601@/m, 'an emergency call carries the number even with *67 and the default');
    assert.doesNotMatch(emergency, /^Privacy:/m);
    pbx.store.userFeatures.set('101', { hideCallerId: false });
    for (const [dialled, headers] of calls) console.log(`${dialled}: ${headers}`);
  });
});
