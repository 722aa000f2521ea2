/**
 * A phone nobody here wrote: Linphone 5.1 from Debian (linphone-cli), headless as linphone-daemon,
 * registers with the identity, proxy and password a user would type, and calls through the pbx
 * with one of our test phones, both directions. What Linphone plays into the call (a tone, then
 * DTMF in the audio) is heard by our phone: the tone by its level, the digits by multimon-ng.
 * Linphone has no recorder: that it receives our phone's audio is read from its RTP statistics.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dtmfSegments, multimonDtmf, synthesize, writeWav } from '../support/audio-tools.js';
import { failIfMissing, skipUnlessCi } from '../support/environment.js';
import { Linphone } from '../support/linphone.js';
import type { PhoneCall } from '../support/sip-phone.js';
import { describeLevels, levels, sleep, startTestPbx, type TestPbx } from '../media/harness.js';

const LINPHONE = { number: '2201', secret: 'linphone-secret-2201' };
const PHONE = { number: '2202', secret: 'phone-secret-2202' };
const LINPHONE_TONE = 500;
const LINPHONE_DIGITS = '3690';
const PHONE_TONE = 1800;

function missing(): string | false {
  if (spawnSync('linphone-daemon', ['--help']).error) return 'linphone-daemon is not installed (Debian package linphone-cli)';
  for (const tool of ['multimon-ng', 'sox']) if (spawnSync(tool, ['-h']).error) return `${tool} is not installed`;
  return false;
}

const unavailable = missing();

describe('Linphone 5.1 through the pbx', { skip: skipUnlessCi(unavailable) }, () => {
  let pbx: TestPbx;
  let dir: string;
  let wav: string;

  before(async () => {
    failIfMissing(unavailable);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linphone-test-'));
    wav = path.join(dir, 'linphone-plays.wav');
    writeWav(wav, synthesize([[1500, [LINPHONE_TONE]], [300, []], ...dtmfSegments(LINPHONE_DIGITS), [6000, [LINPHONE_TONE]]]));
    pbx = await startTestPbx([LINPHONE, PHONE]);
  });

  after(async () => {
    await pbx?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Linphone plays its WAV; our phone sends its tone; ~4 s later, what our phone heard is judged. */
  async function talk(lp: Linphone, call: PhoneCall): Promise<void> {
    await lp.waitEvent('LinphoneCallStreamsRunning');
    call.media.setSignal({ kind: 'tones', freqs: [PHONE_TONE], dbm0: -12 });
    const from = performance.now();
    await lp.command(`incall-player-start ${wav}`);
    await sleep(4500);
    const heard = call.media.pcmBetween(from, performance.now());
    assert.ok(heard.length >= 3 * 8000, `our phone heard at least 3 s (${heard.length} samples)`);
    const [tone, own] = levels(heard, [LINPHONE_TONE, PHONE_TONE]) as [number, number];
    const digits = multimonDtmf(heard);
    console.log(`our phone heard: ${describeLevels([LINPHONE_TONE, PHONE_TONE], [tone, own])}; multimon-ng DTMF: ${digits}`);
    assert.ok(tone > -25, `our phone hears Linphone's ${LINPHONE_TONE} Hz (${tone.toFixed(1)} dBm0)`);
    assert.ok(own < tone - 25, `our phone does not hear its own ${PHONE_TONE} Hz (${own.toFixed(1)} dBm0)`);
    assert.ok(digits.includes(LINPHONE_DIGITS), `multimon-ng decodes ${LINPHONE_DIGITS} in what our phone heard (got "${digits}")`);
  }

  function linphoneReceived(lp: Linphone): void {
    // G.711 at 50 packets/s is ~80 kbit/s of RTP; Linphone logs its rates every few seconds.
    const down = lp.rtpDownloadKbps();
    assert.ok(down.some((kbps) => kbps > 40), `Linphone receives our phone's RTP (download kbit/s: ${down.join(', ')})`);
  }

  test('Linphone registers with its default settings and calls our phone; our phone hears it (tone; DTMF by multimon-ng)', { timeout: 60_000 }, async () => {
    const lp = await Linphone.start();
    try {
      await lp.register(LINPHONE.number, LINPHONE.secret, pbx.address);
      const phone = await pbx.phone(PHONE.number);
      const incoming = phone.nextIncoming();
      await lp.command(`call sip:${PHONE.number}@${pbx.address.address}:${pbx.address.port}`);
      const call = await incoming;
      await call.established;
      await talk(lp, call);
      await lp.command('terminate');
      await call.ended;
      await sleep(300);
      assert.deepEqual(pbx.sip.calls(), [], 'no call left in the pbx');
      linphoneReceived(lp);
    } finally {
      await lp.stop();
    }
  });

  test('our phone calls Linphone (it answers by itself); our phone hears it', { timeout: 60_000 }, async () => {
    const lp = await Linphone.start({ autoAnswer: true });
    try {
      await lp.register(LINPHONE.number, LINPHONE.secret, pbx.address);
      const phone = await pbx.phone(PHONE.number);
      const call = await phone.call(LINPHONE.number);
      await call.established;
      await talk(lp, call);
      await phone.hangUp(call);
      await lp.waitEvent('LinphoneCallReleased');
      await sleep(300);
      assert.deepEqual(pbx.sip.calls(), [], 'no call left in the pbx');
      linphoneReceived(lp);
    } finally {
      await lp.stop();
    }
  });
});
