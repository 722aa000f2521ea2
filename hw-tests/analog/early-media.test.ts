/**
 * Early media on the landline: an outside call leaving through the FXO port gets 183 Session
 * Progress with SDP once the number is dialled, and the SIP caller hears the exchange's own ringback
 * in its RTP before the 200 (as chan_dahdi with progress, or an ATA, gives it), then the far end once
 * it answers. Listened to on a US line (440+480 Hz, 2 s / 4 s) and a Swedish one (425 Hz, 1 s / 5 s).
 * No carrier trunk: the landline is the only way out.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Country } from '../../services/media/tones/table.js';
import { toneShare } from '../../device/dsp/tone-detect.js';
import { withTimeout } from '../support/sip-phone.js';
import { BOARD_KIND, frameShare, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'needs the virtual board\'s scripted central office on FXO 1' : false;

let rig: AnalogRig | null = null;
after(async () => {
  await rig?.close();
});

const CASES: { country: Country; dial: string; ringback: number[]; line: string }[] = [
  { country: 'US', dial: '2125550199', ringback: [440, 480], line: '+12125550100' },
  { country: 'SE', dial: '0812345678', ringback: [425], line: '+46812345600' },
];

for (const c of CASES.filter((x) => process.env.EARLY_ONLY === undefined || x.country === process.env.EARLY_ONLY)) {
  test(`${c.country}: the SIP caller hears the exchange's ringback (${c.ringback.join('+')} Hz) in early media before the 200, then the far end`, { skip }, async () => {
    rig = await startAnalogRig({
      country: c.country,
      extensions: [{ number: '101', secret: 'secret-101-ok', name: 'Sales Desk' }],
      fxs: ['phone'],
      setup(store) {
        store.analog.setNumber('fxo1', c.line);
      },
    });
    const current = rig;
    try {
      await waitFor(() => current.pbx.sip.trunks.status().map((t) => t.name), (names) => names.includes('fxo1'), 3000, 'trunk fxo1 at the pbx');
      const co = current.board.co;
      // A whole ring burst of either country before the exchange answers, within the pbx's 10 s no-answer time.
      co.interDigitMs = 1000;
      co.ringbackMs = 5000;
      co.tone(900);
      const desk = await current.pbx.phone('101');
      const pending = desk.call(c.dial, 30_000);
      pending.catch(() => undefined);
      const call = desk.calls[desk.calls.length - 1];
      assert.ok(call !== undefined);
      let answeredAt = 0;
      void call.established.then(() => (answeredAt = Date.now()));
      await waitFor(() => co.status(), (s) => s.state === 'ringback', 15_000, 'the exchange ringing the far end');
      assert.equal(co.status().dialled, c.dial.replace(/^\+/, ''), 'the number dialled on the line');
      await withTimeout(pending, 12_000, 'the far end answering');
      assert.ok(answeredAt > 0);
      // Everything 101 received before the 200: the exchange's ringback, frame after frame.
      const early = call.media.received.filter((r) => r.at < answeredAt && r.pcm !== null && r.pcm.length === 160);
      const ringbackFrames = early.filter((r) => toneShare(r.pcm as Int16Array, [c.ringback]) > 0.6).length;
      process.stdout.write(`# ${c.country}: ${ringbackFrames * 20} ms of ${c.ringback.join('+')} Hz in ${early.length} packets before the 200\n`);
      assert.ok(ringbackFrames * 20 >= 600, `${ringbackFrames * 20} ms of ${c.ringback.join('+')} Hz heard before the answer (${early.length} early packets)`);
      // Answered (polarity reversal): the far end's 900 Hz, no more ringback.
      await new Promise((r) => setTimeout(r, 400));
      const from = call.media.received.length;
      await new Promise((r) => setTimeout(r, 600));
      const talk = call.media.heardPcm(from);
      assert.ok(frameShare(talk, 900) > 0.5, `101 hears the landline party after the answer (900 Hz share ${frameShare(talk, 900).toFixed(2)})`);
      await desk.hangUp(call);
      await waitFor(() => co.status().seized, (s) => !s, 3000, 'the landline released');
    } finally {
      rig = null;
      await current.close();
    }
  });
}
