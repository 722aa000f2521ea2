/**
 * Listening test of the echo test (*43): a sip.js phone calls it, and what it sends comes back to
 * it over RTP: a tone, then silence (the echo is not a generator), then an in-band DTMF digit that
 * must still be detectable after the round trip.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { detectDtmfDigits } from '../../services/media/dtmf/detector.js';
import { describeLevels, levels, sleep, startTestPbx, type TestPbx } from './harness.js';

const A = { number: '3001', secret: 'echo-secret-3001' };
let pbx: TestPbx;

before(async () => {
  pbx = await startTestPbx([A]);
});

after(async () => {
  await pbx.close();
});

test('*43: a tone comes back, silence stays silent, an in-band digit comes back detectable', async () => {
  const phone = await pbx.phone(A.number);
  const call = await phone.call('*43');
  assert.deepEqual(pbx.sip.calls().map((c) => c.callee), ['echo']);
  const freqs = [700, 1300];

  call.media.setSignal({ kind: 'tones', freqs: [700] });
  await sleep(400);
  let from = performance.now();
  await sleep(1000);
  const toneBack = levels(call.media.pcmBetween(from, performance.now()), freqs);
  console.log(`echo of 700 Hz: ${describeLevels(freqs, toneBack)}`);
  assert.ok((toneBack[0] as number) > -16, `700 Hz comes back (${(toneBack[0] as number).toFixed(1)} dBm0)`);
  assert.ok((toneBack[1] as number) < -50, `no 1300 Hz in the echo (${(toneBack[1] as number).toFixed(1)} dBm0)`);

  call.media.setSignal({ kind: 'silence' });
  await sleep(400);
  from = performance.now();
  await sleep(600);
  const quiet = levels(call.media.pcmBetween(from, performance.now()), freqs);
  console.log(`echo of silence: ${describeLevels(freqs, quiet)}`);
  assert.ok((quiet[0] as number) < -60, `silence sent, silence back (700 Hz at ${(quiet[0] as number).toFixed(1)} dBm0)`);

  from = performance.now();
  call.media.sendInbandDigit('7', 160);
  await sleep(700);
  const back = call.media.pcmBetween(from, performance.now());
  const digits = detectDtmfDigits(back);
  console.log(`digits heard back: ${JSON.stringify(digits)}`);
  assert.deepEqual(digits.map((d) => d.digit), ['7'], 'the in-band 7 comes back once');
  assert.ok((digits[0]?.durationMs ?? 0) >= 120, `digit duration kept (${digits[0]?.durationMs} ms)`);

  await phone.hangUp(call);
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), []);
  assert.equal(pbx.engine.sessions.size, 0, 'echo media session released');
  assert.equal(pbx.applications.clock.stats().subscribers, 0, 'echo left the media clock');
});
