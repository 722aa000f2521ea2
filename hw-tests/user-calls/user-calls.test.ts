/**
 * Calls to a user with the user's own features (issue 17 items 3, 5, 7, 8), with real sip.js
 * phones on loopback and the PBX in process (the trunk harness, country FR): feature codes set the
 * store and are answered with their prompt (heard and matched), call waiting offers the second call
 * (answered after the first is put on hold, both conversations heard), call waiting off and do not
 * disturb make the user busy, forwards (always, busy, no answer after the ring time, unreachable)
 * ring the target with the caller's ID kept, and a forwarding loop ends at the last user reached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invitation } from 'sip.js/lib/api/index.js';
import { loadPrompt } from '../../services/media/prompts/prompts.js';
import type { PromptId } from '../../services/media/prompts/catalog.js';
import { describeLevels, findInAudio, levels, sleep } from '../media/harness.js';
import type { RtpPhone } from '../support/rtp-phone.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';
import { placeRefusedCall } from '../trunk/refused-call.js';
import { startTrunkTestPbx, type TrunkTestPbx } from '../trunk/harness.js';

const USERS = ['101', '102', '103', '104', '105', '106'].map((number) => ({ number, secret: `user-secret-${number}` }));

/** Who the phone sees calling: the user part of the From URI of its incoming call. */
function callerOf(call: PhoneCall): string {
  return call.session.remoteIdentity.uri.user ?? '?';
}

/** Two phones in a call hear each other: each sends its tone, each hears the other's. */
async function hearEachOther(label: string, a: RtpPhone, b: RtpPhone, toneA: number, toneB: number): Promise<void> {
  a.setSignal({ kind: 'tones', freqs: [toneA] });
  b.setSignal({ kind: 'tones', freqs: [toneB] });
  await sleep(500);
  const from = performance.now();
  await sleep(1000);
  const to = performance.now();
  const aHears = levels(a.pcmBetween(from, to), [toneA, toneB]);
  const bHears = levels(b.pcmBetween(from, to), [toneA, toneB]);
  console.log(`${label}: A hears ${describeLevels([toneA, toneB], aHears)}; B hears ${describeLevels([toneA, toneB], bHears)}`);
  assert.ok((aHears[1] as number) > -25, `${label}: A hears B (${(aHears[1] as number).toFixed(1)} dBm0)`);
  assert.ok((bHears[0] as number) > -25, `${label}: B hears A (${(bHears[0] as number).toFixed(1)} dBm0)`);
}

describe('calls to a user: feature codes, call waiting, do not disturb, forwarding', () => {
  let pbx: TrunkTestPbx;
  const phones = new Map<string, SipPhone>();
  const phone = (n: string): SipPhone => phones.get(n) as SipPhone;

  before(async () => {
    pbx = await startTrunkTestPbx({ country: 'FR', extensions: USERS });
    // 105 never registers (unreachable); 106 rings and never answers.
    for (const n of ['101', '102', '103', '104', '106']) phones.set(n, await pbx.phone(n));
    phone('106').ua.delegate = { onInvite: (invitation) => void invitation.progress().catch(() => undefined) };
  });

  after(async () => {
    await pbx.close();
  });

  /** Dials a feature code; the PBX answers, says the prompt and hangs up. Checks the prompt was heard. */
  async function featureCode(user: string, code: string, prompt: PromptId): Promise<void> {
    const call = await phone(user).call(code);
    await call.ended;
    const heard = call.media.pcmBetween(0, performance.now());
    const reference = loadPrompt(prompt, 'en');
    const match = findInAudio(heard, reference.subarray(0, Math.min(reference.length, 12000)));
    console.log(`${user} dialled ${code}: "${prompt}" found at correlation ${match.correlation.toFixed(2)} (${heard.length} samples heard)`);
    assert.ok(match.correlation > 0.6, `${user} heard the ${prompt} confirmation after ${code} (correlation ${match.correlation.toFixed(2)})`);
  }

  test('feature codes set the store and are answered with their prompt: *78/*79 DND (busy meanwhile), *71/*70 call waiting, *72N/*73, *31/*32', async () => {
    await featureCode('101', '*78', 'feature.dnd_on');
    assert.equal(pbx.store.userFeatures.get('101')?.doNotDisturb, true, '*78 turned DND on');
    const refused = await placeRefusedCall(phone('102'), '101', pbx.address);
    assert.equal(refused.status, 486, `a call to 101 in DND is busy (no voicemail yet): ${refused.status} ${refused.reason}`);
    await featureCode('101', '*79', 'feature.dnd_off');
    assert.equal(pbx.store.userFeatures.get('101')?.doNotDisturb, false, '*79 turned DND off');

    await featureCode('101', '*71', 'feature.call_waiting_off');
    assert.equal(pbx.store.userFeatures.get('101')?.callWaiting, false);
    await featureCode('101', '*70', 'feature.call_waiting_on');
    assert.equal(pbx.store.userFeatures.get('101')?.callWaiting, true);

    await featureCode('101', '*72102', 'feature.forward_always_on');
    assert.equal(pbx.store.userFeatures.get('101')?.forward.always, '102');
    await featureCode('101', '*73', 'feature.forward_off');
    assert.equal(pbx.store.userFeatures.get('101')?.forward.always, null);
    // Oneself, an unknown short number, an emergency number, an international number without the permission.
    for (const bad of ['*72101', '*72999', '*92112', '*9000442079460000']) {
      await featureCode('101', bad, 'feature.forward_invalid');
    }
    assert.deepEqual(pbx.store.userFeatures.get('101')?.forward, { always: null, busy: null, 'no-answer': null, unreachable: null }, 'refused targets are not stored');

    await featureCode('101', '*31', 'feature.caller_id_hidden');
    assert.equal(pbx.store.userFeatures.get('101')?.hideCallerId, true);
    await featureCode('101', '*32', 'feature.caller_id_shown');
    assert.equal(pbx.store.userFeatures.get('101')?.hideCallerId, false);
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  });

  test('call waiting: a second call to 101 in a call rings its phone; 101 holds the first, answers the waiting call, both conversations are heard', async () => {
    const a = phone('101');
    const firstIncoming = a.nextIncoming();
    const first = await phone('102').call('101');
    const firstAtA = await firstIncoming;
    await firstAtA.established;
    await hearEachOther('first call 102 ↔ 101', first.media, firstAtA.media, 1100, 1500);

    // The next call is not answered by itself: 101's phone shows it as a second line.
    let waiting: Invitation | null = null;
    const delegate = a.ua.delegate;
    const offered = new Promise<Invitation>((resolve) => {
      a.ua.delegate = {
        onInvite: (invitation) => {
          waiting = invitation;
          void invitation.progress().catch(() => undefined);
          resolve(invitation);
        },
      };
    });
    const secondCall = phone('103').call('101');
    const invitation = await Promise.race([offered, sleep(5000).then(() => null)]);
    assert.ok(invitation !== null && waiting !== null, 'the second call was offered to 101 while it talks to 102');
    assert.equal(invitation.remoteIdentity.uri.user, '103', 'the waiting call shows its caller');
    a.ua.delegate = delegate;

    // 101 puts 102 on hold (re-INVITE a=sendonly), then picks up the waiting call.
    firstAtA.media.direction = 'sendonly';
    await firstAtA.session.invite();
    await sleep(300);
    assert.ok(first.remoteSdps.some((sdp) => /a=recvonly|a=inactive/.test(sdp)) || first.remoteSdps.some((sdp) => /a=sendonly/.test(sdp)), '102 was told it is on hold');
    await invitation.accept();
    const second = await secondCall;
    const waitingMedia = (invitation.sessionDescriptionHandler as unknown as { media: RtpPhone }).media;
    await hearEachOther('waiting call 103 ↔ 101', second.media, waitingMedia, 1300, 1700);
    // The held party does not hear the new conversation.
    const from = performance.now();
    await sleep(600);
    const held = levels(first.media.pcmBetween(from, performance.now()), [1300]);
    assert.ok((held[0] as number) < -40, `102, on hold, does not hear 103 (${(held[0] as number).toFixed(1)} dBm0)`);
    assert.equal(pbx.sip.calls().filter((c) => c.phase === 'answered').length, 2, 'two answered calls for 101');

    await phone('103').hangUp(second);
    // Back to the first call: resume.
    firstAtA.media.direction = 'sendrecv';
    await firstAtA.session.invite();
    await hearEachOther('102 ↔ 101 after resume', first.media, firstAtA.media, 900, 1900);
    await phone('102').hangUp(first);
    await firstAtA.ended;
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  });

  /** `*3` as SIP INFO, or as RFC 4733 telephone-events in the RTP the native relay forwards to 103 (most desk phones). */
  type KeyWay = 'SIP INFO' | 'RFC 4733';
  for (const way of ['SIP INFO', 'RFC 4733'] as KeyWay[]) {
    test(`three-way (*3 as ${way}): 101 holds 102, calls 103, presses *3: the PBX resumes 102 and mixes the three (each hears the two others); 101 hangs up 102, 101 and 103 talk on`, async () => {
      await threeWayCall(way);
    });
  }

  async function threeWayCall(way: KeyWay): Promise<void> {
    const u = phone('101');
    const incoming = u.nextIncoming();
    const a = await phone('102').call('101');
    const uA = await incoming;
    await uA.established;
    // sip.js sends no re-INVITE before the ACK of its 200 has come back.
    await sleep(500);
    // 101 puts 102 on hold; 102's phone answers the hold as a desk phone does (recvonly: it stops sending).
    a.media.direction = 'recvonly';
    uA.media.direction = 'sendonly';
    await uA.session.invite();
    await sleep(300);
    const at103 = phone('103').nextIncoming();
    const b = await u.call('103');
    const y = await at103;
    await y.established;
    a.media.direction = 'sendrecv';
    const sdpsBefore = a.remoteSdps.length;
    const eventsAt103 = y.media.received.length;
    if (way === 'SIP INFO') {
      await u.sendInfo(b, '*');
      await u.sendInfo(b, '3');
    } else {
      assert.ok(b.media.sendRfc4733('*', 100), '101 and the PBX negotiated telephone-event');
      await sleep(300);
      assert.ok(b.media.sendRfc4733('3', 100));
    }
    const deadline = Date.now() + 5000;
    while (pbx.threeWay.active() === 0 && Date.now() < deadline) await sleep(50);
    assert.equal(pbx.threeWay.active(), 1, 'the three-way call started');
    if (way === 'RFC 4733') {
      // The relay still forwarded the key presses to 103's phone, as 101 sent them (one event per key).
      const events = y.media.received.slice(eventsAt103).filter((r) => r.event !== undefined && r.pt !== 0 && r.pt !== 8);
      const keys = [...new Set(events.map((r) => `${r.ts}:${r.event?.event}`))].map((k) => Number(k.split(':')[1]));
      assert.deepEqual(keys, [10, 3], `103 got the *3 events relayed (${events.length} packets)`);
      assert.ok(events.filter((r) => r.event?.end).length >= 6, 'the end packets of both keys reached 103');
    }
    assert.ok(a.remoteSdps.slice(sdpsBefore).some((sdp) => /a=sendrecv/.test(sdp)), '102 was resumed by the PBX (re-INVITE a=sendrecv)');

    const [T101, T102, T103] = [1000, 1400, 1800];
    b.media.setSignal({ kind: 'tones', freqs: [T101] });
    a.media.setSignal({ kind: 'tones', freqs: [T102] });
    y.media.setSignal({ kind: 'tones', freqs: [T103] });
    await sleep(600);
    const from = performance.now();
    await sleep(1200);
    const to = performance.now();
    const tones = [T101, T102, T103];
    const heard = { '101': levels(b.media.pcmBetween(from, to), tones), '102': levels(a.media.pcmBetween(from, to), tones), '103': levels(y.media.pcmBetween(from, to), tones) };
    for (const [who, l] of Object.entries(heard)) console.log(`three-way: ${who} hears ${describeLevels(tones, l)}`);
    const [h101, h102, h103] = [heard['101'], heard['102'], heard['103']] as [number[], number[], number[]];
    assert.ok((h101[1] as number) > -30 && (h101[2] as number) > -30, '101 hears 102 and 103');
    assert.ok((h102[0] as number) > -30 && (h102[2] as number) > -30, '102 hears 101 and 103');
    assert.ok((h103[0] as number) > -30 && (h103[1] as number) > -30, '103 hears 101 and 102');
    assert.ok((h101[0] as number) < -40 && (h102[1] as number) < -40 && (h103[2] as number) < -40, 'nobody hears themself (mix-minus)');

    // 101 drops 102 by hanging up that line: back to an ordinary call with 103.
    await u.hangUp(uA);
    await a.ended;
    while (pbx.threeWay.active() !== 0 && Date.now() < deadline + 5000) await sleep(50);
    assert.equal(pbx.threeWay.active(), 0, 'the mix ended with the call');
    await hearEachOther('101 ↔ 103 after 102 was dropped', b.media, y.media, 1100, 1700);
    await u.hangUp(b);
    await y.ended;
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  }

  test('call waiting off: 101 in a call is busy (486); with a busy forward to 104 the caller reaches 104, with its own caller ID', async () => {
    pbx.store.userFeatures.set('101', { callWaiting: false });
    const incoming = phone('101').nextIncoming();
    const first = await phone('102').call('101');
    const atA = await incoming;
    await atA.established;
    const refused = await placeRefusedCall(phone('103'), '101', pbx.address);
    assert.equal(refused.status, 486, `busy: ${refused.status} ${refused.reason}`);

    pbx.store.userFeatures.set('101', { forward: { busy: '104' } });
    const at104 = phone('104').nextIncoming();
    const forwarded = await phone('103').call('101');
    const d = await at104;
    await d.established;
    assert.equal(callerOf(d), '103', "104 sees the original caller's ID");
    await hearEachOther('103 → 101 busy → 104', forwarded.media, d.media, 1200, 1600);
    await phone('103').hangUp(forwarded);
    await phone('102').hangUp(first);
    await atA.ended;
    pbx.store.userFeatures.set('101', { callWaiting: true, forward: { busy: null } });
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  });

  test('forward always (101 → 102) and a loop (102 → 101): the caller reaches 102, the loop is not followed', async () => {
    pbx.store.userFeatures.set('101', { forward: { always: '102' } });
    pbx.store.userFeatures.set('102', { forward: { always: '101' } });
    const at102 = phone('102').nextIncoming();
    let rang101 = false;
    const delegate = phone('101').ua.delegate;
    phone('101').ua.delegate = { onInvite: (invitation) => ((rang101 = true), void invitation.reject({ statusCode: 603 }).catch(() => undefined)) };
    const call = await phone('103').call('101');
    const b = await at102;
    await b.established;
    assert.equal(callerOf(b), '103', "102 sees the original caller's ID");
    assert.equal(rang101, false, "101's phone does not ring (forward always)");
    await hearEachOther('103 → 101 ⇒ 102 (loop 102 ⇒ 101 not followed)', call.media, b.media, 1000, 1400);
    await phone('103').hangUp(call);
    phone('101').ua.delegate = delegate;
    pbx.store.userFeatures.set('101', { forward: { always: null } });
    pbx.store.userFeatures.set('102', { forward: { always: null } });
  });

  test('forward on no answer after the ring time (106 rings 5 s, then 104), and when unreachable (105 has no phone → 102)', async () => {
    pbx.store.userFeatures.set('106', { forward: { 'no-answer': '104' }, noAnswerSeconds: 5 });
    const at104 = phone('104').nextIncoming();
    const t0 = performance.now();
    const call = await phone('103').call('106').catch((e: unknown) => {
      throw e;
    });
    const answeredAfter = performance.now() - t0;
    const d = await at104;
    console.log(`103 → 106 (no answer) ⇒ 104 answered after ${Math.round(answeredAfter)} ms`);
    assert.ok(answeredAfter >= 4500, `106 rang its 5 s first (${Math.round(answeredAfter)} ms)`);
    assert.equal(callerOf(d), '103');
    await hearEachOther('103 → 106 no answer ⇒ 104', call.media, d.media, 1000, 1700);
    await phone('103').hangUp(call);

    // Unreachable: 105 has no registered phone. Without a forward: 480; with one: 102 rings.
    const refused = await placeRefusedCall(phone('103'), '105', pbx.address);
    assert.equal(refused.status, 480, 'no phone, no forward: 480');
    pbx.store.userFeatures.set('105', { forward: { unreachable: '102' } });
    const at102 = phone('102').nextIncoming();
    const second = await phone('103').call('105');
    const b = await at102;
    assert.equal(callerOf(b), '103');
    await phone('103').hangUp(second);
    await sleep(100);
    assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  });
});
