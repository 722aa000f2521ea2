/**
 * Per-leg telephone-event negotiation (docs/media-engine.md, DTMF interworking) and RFC 4733
 * packets sent on a taken-over leg's stream (same SSRC, continuing sequence numbers, §2.5), with
 * real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../log.js';
import { TelephoneEventSender } from '../dtmf/rfc4733.js';
import { createMediaEngine, type MediaEngine } from '../engine.js';
import { parseSdp } from '../sdp/parse.js';
import { RtpPhone, until } from '../../../hw-tests/support/rtp-phone.js';

async function engine(): Promise<MediaEngine> {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  return createMediaEngine({ bind: '127.0.0.1', portMin: base, portMax: base + 19, logger: silentLogger() });
}

function formats(sdp: string): string[] {
  return parseSdp(sdp).media[0]?.formats ?? [];
}

test('caller with telephone-event, callee without: the caller keeps it in its answer; only its leg negotiates DTMF', async () => {
  const e = await engine();
  const pa = await RtpPhone.open();
  const pc = await RtpPhone.open();
  try {
    const s = e.createSession({ callId: 'te-1' });
    const a = s.createLeg('caller');
    const c = s.createLeg('callee');
    const offer = c.anchorOffer(pa.sdp({ codecs: '0 8 101' }), a);
    assert.deepEqual(formats(offer), ['0', '8', '101']);
    const answer = a.anchorAnswer(pc.sdp({ codecs: '0' }), c);
    assert.deepEqual(formats(answer), ['0', '101'], 'A keeps its telephone-event');
    assert.equal(a.negotiatedCodec?.dtmf?.payloadType, 101);
    assert.equal(c.negotiatedCodec?.dtmf, undefined);
  } finally {
    pa.close();
    pc.close();
    e.close();
  }
});

test('caller without telephone-event: the callee is offered one (PT 101, or a free dynamic PT), the caller gets none back', async () => {
  const e = await engine();
  const pc = await RtpPhone.open();
  const pa = await RtpPhone.open();
  try {
    const s = e.createSession({ callId: 'te-2' });
    const c = s.createLeg('caller');
    const a = s.createLeg('callee');
    const offer = a.anchorOffer(pc.sdp({ codecs: '0 8' }), c);
    assert.deepEqual(formats(offer), ['0', '8', '101']);
    assert.match(offer, /a=rtpmap:101 telephone-event\/8000/);
    const answer = c.anchorAnswer(pa.sdp({ codecs: '0 101' }), a);
    assert.deepEqual(formats(answer), ['0'], 'C did not offer it, so its answer has none (RFC 3264 §6.1)');
    assert.equal(a.negotiatedCodec?.dtmf?.payloadType, 101);
    assert.equal(c.negotiatedCodec?.dtmf, undefined);

    // 101 taken by another codec in the offer → a free dynamic payload type instead.
    const busy = pc.sdp({ codecs: '0 101' }).replace('a=rtpmap:101 telephone-event/8000', 'a=rtpmap:101 PCMU/8000').replace('a=fmtp:101 0-16\r\n', '');
    const offer2 = a.anchorOffer(busy, c);
    const te = parseSdp(offer2).media[0]?.rtpmaps.find((r) => r.encoding === 'telephone-event');
    assert.ok(te && te.payloadType !== 101 && te.payloadType >= 96 && te.payloadType <= 127, `free dynamic PT (${te?.payloadType})`);

    // G.722 only: nothing to convert with, no telephone-event added.
    assert.deepEqual(formats(a.anchorOffer(pc.sdp({ codecs: '9' }), c)), ['9']);
  } finally {
    pa.close();
    pc.close();
    e.close();
  }
});

test('sendEvent: RFC 4733 packets continue the leg stream (same SSRC, next seq, event timestamp), audio resumes with the marker', async () => {
  const e = await engine();
  const phone = await RtpPhone.open();
  try {
    const s = e.createSession({ callId: 'te-3' });
    const leg = s.createLeg('caller');
    leg.answerOffer(phone.sdp({ codecs: '0 101' }));
    const out = leg.attach({});
    assert.equal(out.telephoneEvent, true);
    const silence = new Int16Array(160);
    for (let i = 0; i < 3; i++) assert.ok(out.sendAudio(silence), `audio frame ${i} sent at once (the answer is in effect when it returns)`);
    const sender = new TelephoneEventSender();
    const start = out.timestamp();
    assert.ok(out.sendEvent(sender.start(7, start)));
    const upd = sender.update((start + 400) >>> 0);
    assert.ok(upd && out.sendEvent(upd));
    for (const p of sender.stop((start + 800) >>> 0)) assert.ok(out.sendEvent(p));
    await new Promise((r) => setTimeout(r, 100));
    out.sendAudio(silence);
    await until(() => phone.received.length >= 9, 3000, 'packets at the phone');
    const got = phone.received.slice(0, 9);
    assert.equal(new Set(got.map((p) => p.ssrc)).size, 1, 'one SSRC');
    for (let i = 1; i < got.length; i++) {
      assert.equal(got[i]?.seq, ((got[i - 1]?.seq ?? 0) + 1) & 0xffff, `sequence continues at packet ${i}`);
    }
    const events = got.slice(3, 8);
    assert.ok(events.every((p) => p.pt === 101 && p.ts === start), 'events carry PT 101 and the start timestamp');
    assert.equal(events[0]?.marker, true, 'marker on the first event packet');
    assert.deepEqual(events.slice(2).map((p) => (p.payload[1] ?? 0) & 0x80), [0x80, 0x80, 0x80], 'three end packets');
    const resumed = got[8];
    assert.ok(resumed && resumed.pt === 0 && resumed.marker, 'audio resumes with the marker bit');
    assert.ok(((resumed.ts - start) | 0) >= 160, 'and a timestamp past the event start');
  } finally {
    phone.close();
    e.close();
  }
});
