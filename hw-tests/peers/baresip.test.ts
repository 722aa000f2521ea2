/**
 * A phone nobody here wrote: baresip 1.0 from Debian, headless (its own config dir, ctrl_tcp for
 * commands, aufile for its microphone, sndfile recording what it hears), registers with the
 * account a user would type and calls through the pbx with one of our test phones (sip.js for SIP,
 * our RTP phone for audio), both directions. Audio is judged by listening on both ends: a tone
 * each way (Goertzel level), and DTMF each way decoded by multimon-ng, not by the pbx's detector.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dtmfSegments, multimonDtmf, synthesize, wavToPcm8k, writeWav } from '../support/audio-tools.js';
import { Baresip } from '../support/baresip.js';
import { failIfMissing, skipUnlessCi } from '../support/environment.js';
import type { PhoneCall } from '../support/sip-phone.js';
import type { DtmfDigit } from '../../services/media/dtmf/digits.js';
import { describeLevels, levels, sleep, startTestPbx, type TestPbx } from '../media/harness.js';

const BARESIP = { number: '2101', secret: 'baresip-secret-2101' };
const PHONE = { number: '2102', secret: 'phone-secret-2102' };
/** What baresip plays: its tone, its digits in the middle, its tone again. Tones away from the DTMF frequencies. */
const BARESIP_TONE = 500;
const BARESIP_DIGITS = '159#';
/** What our phone sends: its tone, with in-band digits over it. */
const PHONE_TONE = 1800;
const PHONE_DIGITS: DtmfDigit[] = ['2', '4', '8', 'D'];

function missing(): string | false {
  const probe = spawnSync('baresip', ['-h'], { encoding: 'utf8' });
  if (probe.error) return `baresip is not installed (Debian package baresip): ${probe.error.message}`;
  for (const tool of ['multimon-ng', 'sox']) {
    if (spawnSync(tool, ['-h']).error) return `${tool} is not installed`;
  }
  return false;
}

const unavailable = missing();

describe('baresip 1.0 through the pbx', { skip: skipUnlessCi(unavailable) }, () => {
  let pbx: TestPbx;
  let dir: string;
  let sourceWav: string;

  before(async () => {
    failIfMissing(unavailable);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baresip-test-'));
    sourceWav = path.join(dir, 'baresip-mic.wav');
    writeWav(sourceWav, synthesize([[1500, [BARESIP_TONE]], [300, []], ...dtmfSegments(BARESIP_DIGITS), [8000, [BARESIP_TONE]]]));
    pbx = await startTestPbx([BARESIP, PHONE]);
  });

  after(async () => {
    await pbx?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Our phone's side of a call: its tone, then the digits in-band 300 ms apart, over ~2.6 s. */
  async function phoneTalks(call: PhoneCall): Promise<void> {
    call.media.setSignal({ kind: 'tones', freqs: [PHONE_TONE], dbm0: -12 });
    await sleep(1000);
    for (const digit of PHONE_DIGITS) {
      call.media.sendInbandDigit(digit, 160);
      await sleep(400);
    }
  }

  /** What baresip heard in its (ended) call: its recording, resampled to 8 kHz by sox. */
  function baresipHeard(bs: Baresip): Int16Array {
    const wavs = bs.heardWavs();
    assert.equal(wavs.length, 1, `one recording of what baresip heard: ${wavs.join(', ')}\n${bs.output().slice(-2000)}`);
    return wavToPcm8k(wavs[0] as string);
  }

  function judge(who: string, pcm: Int16Array, tone: number, other: number, digits: string): void {
    assert.ok(pcm.length >= 2 * 8000, `${who} heard at least 2 s of audio (${pcm.length} samples)`);
    const [own, heard] = levels(pcm, [other, tone]) as [number, number];
    console.log(`${who}: ${describeLevels([tone, other], [heard, own])}; multimon-ng DTMF: ${multimonDtmf(pcm)}`);
    assert.ok(heard > -25, `${who} hears ${tone} Hz (${heard.toFixed(1)} dBm0)`);
    assert.ok(own < heard - 25, `${who} does not hear its own ${other} Hz (${own.toFixed(1)} dBm0)`);
    assert.ok(multimonDtmf(pcm).includes(digits), `multimon-ng decodes ${digits} in what ${who} heard (got "${multimonDtmf(pcm)}")`);
  }

  test('baresip registers with its default settings and calls our phone: each hears the other (tone; DTMF by multimon-ng)', { timeout: 60_000 }, async () => {
    const bs = await Baresip.start({ user: BARESIP.number, password: BARESIP.secret, pbx: pbx.address, sourceWav });
    try {
      await bs.registered();
      const phone = await pbx.phone(PHONE.number);
      const incoming = phone.nextIncoming();
      const dialed = await bs.command('dial', `sip:${PHONE.number}@${pbx.address.address}:${pbx.address.port}`);
      assert.equal(dialed.ok, true, `dial: ${dialed.data}`);
      const call = await incoming;
      await call.established;
      await bs.event('CALL_ESTABLISHED');
      const from = performance.now();
      await phoneTalks(call);
      await sleep(1000);
      const to = performance.now();
      await bs.command('hangup');
      await bs.event('CALL_CLOSED');
      await call.ended;
      await sleep(300);
      assert.deepEqual(pbx.sip.calls(), [], 'no call left in the pbx');
      judge('our phone', call.media.pcmBetween(from, to), BARESIP_TONE, PHONE_TONE, BARESIP_DIGITS);
      judge('baresip', baresipHeard(bs), PHONE_TONE, BARESIP_TONE, PHONE_DIGITS.join(''));
    } finally {
      await bs.stop();
    }
  });

  test('our phone calls baresip (it answers by itself): each hears the other', { timeout: 60_000 }, async () => {
    const bs = await Baresip.start({ user: BARESIP.number, password: BARESIP.secret, pbx: pbx.address, sourceWav, autoAnswer: true });
    try {
      await bs.registered();
      const phone = await pbx.phone(PHONE.number);
      const call = await phone.call(BARESIP.number);
      await call.established;
      await bs.event('CALL_ESTABLISHED');
      const from = performance.now();
      await phoneTalks(call);
      await sleep(1000);
      const to = performance.now();
      await phone.hangUp(call);
      await bs.event('CALL_CLOSED');
      await sleep(300);
      assert.deepEqual(pbx.sip.calls(), [], 'no call left in the pbx');
      judge('our phone', call.media.pcmBetween(from, to), BARESIP_TONE, PHONE_TONE, BARESIP_DIGITS);
      judge('baresip', baresipHeard(bs), PHONE_TONE, BARESIP_TONE, PHONE_DIGITS.join(''));
    } finally {
      await bs.stop();
    }
  });
});
