/**
 * The takeover path with a jitter buffer: packets sent out of order, one lost, reach the feature as
 * frames in RTP order, the lost one concealed (G.711 PLC) instead of skipped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { g711Encode } from '../codec/g711.js';
import { createMediaEngine } from '../engine.js';
import { TestPhone, sleep, until } from './test-phone.js';

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
  return index >= 0 && Math.abs(mean - (index + 1) * LEVEL_STEP) < 0.03 * (index + 1) * LEVEL_STEP && frame.every((s) => Math.abs(s - mean) < 64) ? index : null;
}

test('adaptive playout: reordered packets come out in order and a lost one is concealed', async () => {
  const base = 20000 + 2 * Math.floor(Math.random() * 20000);
  const engine = await createMediaEngine({ bind: '127.0.0.1', portMin: base, portMax: base + 19, logger: silentLogger() });
  const phone = await TestPhone.open();
  const session = engine.createSession({ callId: 'playout' });
  try {
    const leg = session.createLeg('caller');
    leg.answerOffer(phone.sdp({ codecs: '0 101' }));
    const frames: Int16Array[] = [];
    leg.attach({ onAudio: (frame) => frames.push(frame) }, { playout: 'adaptive' });

    const packets = Array.from({ length: 14 }, (_, i) => phone.packet(0, levelFrame(i), 160, i === 0));
    // 4 and 5 swapped, 9 lost on the way.
    const order = [0, 1, 2, 3, 5, 4, 6, 7, 8, 10, 11, 12, 13];
    for (const i of order) {
      await phone.send(packets[i]!, leg.localPort);
      await sleep(20);
    }
    await until(() => frames.length >= 15, 3000, 'frames played out');
    const indices = frames.map(packetIndexOf);
    const heard = indices.filter((i): i is number => i !== null);
    assert.deepEqual(heard, [...new Set(heard)].sort((a, b) => a - b), `frames in RTP order: ${indices.join(',')}`);
    // The swapped pair is put back in order; a packet later than the buffer's delay may be
    // dropped (that is the jitter buffer's job), but most of them play.
    for (const i of [3, 4, 5, 6]) assert.ok(heard.includes(i), `packet ${i} played (${indices.join(',')})`);
    assert.ok(heard.length >= 10, `most packets played (${indices.join(',')})`);
    assert.ok(!heard.includes(9), 'the lost packet is not invented');
    const at8 = indices.indexOf(8);
    assert.ok(at8 >= 0, `packet 8 played (${indices.join(',')})`);
    assert.equal(indices[at8 + 1], null, `a concealed frame stands in for the lost packet 9 (${indices.join(',')})`);
    const concealed = frames[at8 + 1]!;
    assert.ok(concealed.some((s) => s !== 0), 'concealment repeats the signal (PLC), it is not silence');
  } finally {
    session.close();
    phone.close();
    engine.close();
  }
});
