/**
 * The takeover path with a jitter buffer. The decoder is driven on a virtual clock, so the test
 * says what the buffer does with a given arrival pattern, whatever the load on the machine: packets
 * out of order come out in RTP order, a lost one is replaced by a concealed frame. Then the real
 * engine: an endpoint attached with `playout` receives the phone's tone as steady frames.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { g711Encode } from '../codec/g711.js';
import { detectTones } from '../dsp/goertzel.js';
import { powerToDbm0 } from '../dsp/levels.js';
import { createMediaEngine } from '../engine.js';
import { InboundDecoder } from './endpoint.js';
import { RtpPhone, sleep, until } from '../../../hw-tests/support/rtp-phone.js';

const LEVEL_STEP = 400;
/** Frame i carries the constant level (i + 1) · 400: its mean tells which packet it came from. */
function levelFrame(i: number): Uint8Array {
  return g711Encode('PCMU', new Int16Array(160).fill((i + 1) * LEVEL_STEP));
}

function packetIndexOf(frame: Int16Array): number | null {
  let sum = 0;
  for (const s of frame) sum += s;
  const mean = sum / frame.length;
  const index = Math.round(mean / LEVEL_STEP) - 1;
  // A constant frame decodes within μ-law's quantisation (< 3 %); anything else is concealment.
  const exact = index >= 0 && Math.abs(mean - (index + 1) * LEVEL_STEP) < 0.03 * (index + 1) * LEVEL_STEP && frame.every((s) => Math.abs(s - mean) < 64);
  return exact ? index : null;
}

test('playout on a virtual clock (fixed delay): reordered packets come out in order, a lost one is concealed', async () => {
  const phone = await RtpPhone.open();
  try {
    const packets = Array.from({ length: 14 }, (_, i) => phone.packet(0, levelFrame(i), 160, i === 0));
    const frames: Int16Array[] = [];
    // Fixed mode, so the delay does not move during the test (the adaptive policy has its own
    // tests in services/media/jitter/); the reordering and concealment path is the same.
    const decoder = new InboundDecoder({ onAudio: (frame) => frames.push(frame) }, { law: 'PCMU', audioPt: 0, dtmfPt: 101 }, 'fixed');
    // One packet every 20 ms, 4 and 5 swapped, 9 lost on the way (its slot stays empty); the
    // decoder ticks every 20 ms, 5 ms after the arrivals.
    const arrivals: Array<number | null> = [0, 1, 2, 3, 5, 4, 6, 7, 8, null, 10, 11, 12, 13];
    const order = arrivals.filter((i): i is number => i !== null);
    for (let t = 0; t < 30; t++) {
      const index = arrivals[t];
      if (index !== undefined && index !== null) decoder.push(packets[index]!, t * 20);
      decoder.tick(t * 20 + 5);
    }
    const indices = frames.map(packetIndexOf);
    const heard = indices.filter((i): i is number => i !== null);
    // The first good frame after a loss is cross-faded with the concealment (G.711 Appendix I), so
    // packet 10 is recognised by its level, not by an exact match.
    const expected = [...order].sort((a, b) => a - b).filter((i) => i !== 10);
    assert.deepEqual(heard, expected, `every packet played once, in RTP order: ${indices.join(',')}`);
    const at8 = indices.indexOf(8);
    assert.equal(indices[at8 + 1], null, `a concealed frame stands in for the lost packet 9: ${indices.join(',')}`);
    const after = frames[at8 + 2]!;
    const meanAfter = after.reduce((a, b) => a + b, 0) / after.length;
    assert.ok(Math.abs(meanAfter - 11 * LEVEL_STEP) < 0.25 * 11 * LEVEL_STEP, `then packet 10 (mean ${meanAfter.toFixed(0)})`);
    assert.ok(frames[at8 + 1]!.some((s) => s !== 0), 'concealment repeats the signal (PLC), it is not silence');
    assert.ok((decoder.playoutStats?.lost ?? 0) >= 1, 'the jitter buffer counts the loss');
  } finally {
    phone.close();
  }
});

test('an endpoint attached with adaptive playout hears the phone as steady 20 ms frames', async () => {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  const engine = await createMediaEngine({ bind: '127.0.0.1', portMin: base, portMax: base + 19, logger: silentLogger() });
  const phone = await RtpPhone.open();
  const session = engine.createSession({ callId: 'playout' });
  try {
    const leg = session.createLeg('caller');
    leg.answerOffer(phone.sdp({ codecs: '0 101' }));
    const frames: Int16Array[] = [];
    leg.attach({ onAudio: (frame) => frames.push(frame) }, { playout: 'adaptive' });
    await phone.sendTone(1000, 40, leg.localPort);
    await until(() => frames.length >= 30, 3000, 'frames played out');
    await sleep(100);
    assert.ok(frames.every((f) => f.length === 160), 'whole 20 ms frames');
    const pcm = new Int16Array(frames.length * 160);
    frames.forEach((f, i) => pcm.set(f, i * 160));
    const [level] = [...detectTones(pcm, [1000])].map((p) => powerToDbm0(p));
    assert.ok((level ?? -Infinity) > -20, `the phone's 1 kHz tone is heard (${level?.toFixed(1)} dBm0)`);
  } finally {
    session.close();
    phone.close();
    engine.close();
  }
});
