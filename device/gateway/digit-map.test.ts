import assert from 'node:assert/strict';
import test from 'node:test';
import { dialVerdict } from './digit-map.js';

const INTERNAL = ['101', '102', '1010', '201', '8000'];

test('the digit map: #, emergency at once, internal numbers, full national numbers', () => {
  const v = (d: string, c: 'US' | 'MX' | 'FR' | 'SE' | 'GB' = 'US'): string => {
    const r = dialVerdict(d, c, INTERNAL);
    return r.kind === 'complete' ? r.number : 'more';
  };
  assert.equal(v('911'), '911');
  assert.equal(v('11'), 'more', '11 may become 112');
  assert.equal(v('112'), '112');
  assert.equal(v('15', 'FR'), '15');
  assert.equal(v('999', 'GB'), '999');
  assert.equal(v('201'), '201', 'extension 201 has no longer sibling');
  assert.equal(v('101'), 'more', '101 may be 1010');
  assert.equal(v('101#'), '101');
  assert.equal(v('1010'), '1010');
  assert.equal(v('2125550199'), '2125550199', 'a full US number');
  assert.equal(v('212555019'), 'more');
  assert.equal(v('5512345678', 'MX'), '5512345678');
  assert.equal(v('0142345678', 'FR'), '0142345678');
  assert.equal(v('*43#'), '*43');
  assert.equal(v('#'), 'more');
});
