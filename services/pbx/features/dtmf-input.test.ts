import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concat, frames, silence, sines } from '../../media/dsp/synth.js';
import { DtmfInput, type KeyPress } from './dtmf-input.js';

function digitPcm(low: number, high: number, ms: number): Int16Array {
  return sines([{ freq: low, dbm0: -8 }, { freq: high, dbm0: -6 }], ms * 8);
}

test('in-band, RFC 4733 and INFO digits merge into one stream; a press sent two ways counts once', () => {
  let now = 0;
  const got: KeyPress[] = [];
  const input = new DtmfInput((p) => got.push(p), { now: () => now });
  // '*' in-band (941 + 1209 Hz, 120 ms)
  for (const f of frames(concat(silence(40), digitPcm(941, 1209, 120), silence(100)))) {
    input.audio(f);
    now += 20;
  }
  // the same '5' as RFC 4733 and INFO 100 ms apart: one press
  input.rfc4733({ digit: '5', phase: 'begin', durationMs: 0 });
  input.rfc4733({ digit: '5', phase: 'end', durationMs: 120 });
  now += 100;
  assert.equal(input.info('application/dtmf-relay', Buffer.from('Signal=5\r\nDuration=120\r\n')), null);
  // a real second press of '5' on the same source counts
  now += 300;
  input.rfc4733({ digit: '5', phase: 'begin', durationMs: 0 });
  // '#' as application/dtmf
  now += 1000;
  input.info('application/dtmf', Buffer.from('#'));
  assert.deepEqual(got, [
    { digit: '*', source: 'inband' },
    { digit: '5', source: 'rfc4733' },
    { digit: '5', source: 'rfc4733' },
    { digit: '#', source: 'info' },
  ]);
});

test('an INFO body that is not DTMF is refused with a reason, never thrown', () => {
  const input = new DtmfInput(() => assert.fail('no digit'));
  assert.match(input.info('application/dtmf-relay', Buffer.from('garbage')) ?? '', /malformed|Signal/);
  assert.match(input.info(null, Buffer.from('5')) ?? '', /content type/);
  assert.equal(input.rejectedInfo, 2);
});
