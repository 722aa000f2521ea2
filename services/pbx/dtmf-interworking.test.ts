/**
 * The JS bridge of a pair whose legs disagree on telephone-event, with real sockets: it takes both
 * legs, relays audio, gives a leg to a feature that attaches and takes it back when the feature
 * detaches; stop() hands the legs back to the native relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../log.js';
import { createMediaEngine } from '../media/engine.js';
import { RtpPhone, toneShare, until } from '../../hw-tests/support/rtp-phone.js';
import { DtmfInterworking, needsDtmfInterworking } from './dtmf-interworking.js';
import { createMediaClock } from './features/media-clock.js';

test('interworking bridge: relays audio, yields a leg to a feature and takes it back, stops cleanly', async () => {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  const e = await createMediaEngine({ bind: '127.0.0.1', portMin: base, portMax: base + 19, logger: silentLogger() });
  const clock = createMediaClock();
  const pa = await RtpPhone.open();
  const pc = await RtpPhone.open();
  try {
    const s = e.createSession({ callId: 'iw-1' });
    const a = s.createLeg('caller');
    const c = s.createLeg('callee');
    c.anchorOffer(pa.sdp({ codecs: '0 101' }), a);
    a.anchorAnswer(pc.sdp({ codecs: '0' }), c);
    assert.equal(needsDtmfInterworking(a, c), true, 'only A has telephone-event');
    s.bridge(a, c);
    const iw = new DtmfInterworking(a, c, clock, silentLogger());
    iw.start();
    assert.ok(a.attached && c.attached, 'both legs taken');

    await pc.sendTone(1200, 25, c.localPort);
    await until(() => pa.heardPcm().length >= 160 * 20, 3000, 'C → A audio');
    assert.ok(toneShare(pa.heardPcm(), 1200) > 0.8, 'A hears C\'s 1200 Hz');

    // A feature takes C's leg, then gives it back: the bridge takes it again.
    let featureFrames = 0;
    c.attach({ onAudio: () => featureFrames++ });
    await pc.sendTone(1200, 5, c.localPort);
    await until(() => featureFrames >= 4, 3000, 'the feature hears C');
    c.detach();
    assert.ok(c.attached, 'the bridge took the leg back');
    const before = pa.received.length;
    await pc.sendTone(1200, 10, c.localPort);
    await until(() => pa.received.length >= before + 8, 3000, 'C → A audio after the feature');

    iw.stop();
    assert.ok(!a.attached && !c.attached, 'legs back on the native relay');
    const n = pa.received.length;
    await pc.sendTone(1200, 5, c.localPort);
    await until(() => pa.received.length >= n + 5, 3000, 'native relay after stop');
    assert.equal(clock.stats().subscribers, 0, 'clock released');
  } finally {
    pa.close();
    pc.close();
    clock.close();
    e.close();
  }
});
