import assert from 'node:assert/strict';
import test from 'node:test';
import { landlineDigits } from './landline-number.js';
import { callerIdWindow, RING_CADENCE } from './signals.js';

test('caller ID window: ≥ 500 ms after the first ring, over 200 ms before the second (GB: after the double ring)', () => {
  assert.deepEqual(callerIdWindow(RING_CADENCE.US), { startMs: 2500, endMs: 5800 });
  assert.deepEqual(callerIdWindow(RING_CADENCE.FR), { startMs: 2000, endMs: 4800 });
  assert.deepEqual(callerIdWindow(RING_CADENCE.GB), { startMs: 1500, endMs: 2800 });
  for (const cadence of Object.values(RING_CADENCE)) {
    const w = callerIdWindow(cadence);
    // An on-hook MDMF with a 20-character number and 15-character name lasts ≤ 900 ms at 1200 baud.
    assert.ok(w.endMs - w.startMs >= 900, `room for caller ID in ${cadence.join('/')}`);
  }
});

test('what the FXO dials: national form at home, the international prefix abroad, emergency as is', () => {
  assert.equal(landlineDigits('+12125550199', 'US'), '2125550199');
  assert.equal(landlineDigits('+525512345678', 'MX'), '5512345678');
  assert.equal(landlineDigits('+33142345678', 'FR'), '0142345678');
  assert.equal(landlineDigits('+4687654321', 'SE'), '087654321');
  assert.equal(landlineDigits('+442079460000', 'GB'), '02079460000');
  assert.equal(landlineDigits('+442079460000', 'US'), '011442079460000');
  assert.equal(landlineDigits('+12125550199', 'FR'), '0012125550199');
  assert.equal(landlineDigits('911', 'US'), '911');
  assert.equal(landlineDigits('15', 'FR'), '15');
  assert.equal(landlineDigits('sip-junk', 'US'), null);
  assert.equal(landlineDigits('+1', 'US'), null);
});
