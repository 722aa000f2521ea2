import { test } from 'node:test';
import assert from 'node:assert/strict';
import { muLawEncode } from '../../services/media/codec/g711.js';
import { mix, whiteNoise } from '../../services/media/dsp/synth.js';
import { callerIdFsk } from '../sim/fsk-sender.js';
import { CallerIdDecoder, type CallerId, type FskStandard } from './callerid-decode.js';

function decodeAll(pcm: Int16Array, viaMuLaw = true): CallerId[] {
  const out: CallerId[] = [];
  const dec = new CallerIdDecoder((c) => out.push(c));
  // Silence first (the first ring's gap), then the burst, in 20 ms µ-law frames as the line carries it.
  const padded = new Int16Array(pcm.length + 4000);
  padded.set(pcm, 1600);
  for (let i = 0; i < padded.length; i += 160) {
    const frame = padded.subarray(i, i + 160);
    if (viaMuLaw) dec.pushMuLaw(muLawEncode(frame));
    else dec.pushPcm(frame);
  }
  return out;
}

for (const standard of ['bell202', 'v23'] as FskStandard[]) {
  test(`${standard}: number, name and date decode from µ-law frames`, () => {
    const got = decodeAll(callerIdFsk(standard, { number: '5551234567', name: 'ACME CORP', dateTime: '12061030' }));
    assert.equal(got.length, 1, 'one message, reported by the receiver of its standard only');
    const cid = got[0];
    assert.deepEqual(cid, { standard, format: 'mdmf', dateTime: '12061030', number: '5551234567', name: 'ACME CORP', numberAbsent: null });
  });

  test(`${standard}: decodes at −30 dBm0 with noise 20 dB below`, () => {
    const burst = callerIdFsk(standard, { number: '+46812345678', dateTime: '01010000' }, -30);
    const noisy = mix(burst.length, burst, whiteNoise(burst.length, -50, 3));
    const got = decodeAll(noisy);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.standard, standard);
    assert.equal(got[0]?.number, '+46812345678');
  });
}

test('a private number is reported as absent; a corrupted burst decodes to nothing', () => {
  const priv = decodeAll(callerIdFsk('bell202', { number: null, dateTime: '12061030' }));
  assert.equal(priv[0]?.numberAbsent, 'private');
  assert.equal(priv[0]?.number, null);
  const burst = callerIdFsk('bell202', { number: '5551234567', dateTime: '12061030' });
  // Destroy the message part (after seizure + mark = 480 bits ≈ 3200 samples).
  for (let i = 3400; i < 3600; i++) burst[i] = 0;
  assert.deepEqual(decodeAll(burst), []);
});
