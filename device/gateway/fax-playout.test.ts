import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FaxPlayout } from './fax-playout.js';

const frame = (n: number): Uint8Array => new Uint8Array(160).fill(n & 0xff);
const id = (f: Uint8Array | null): number | null => (f === null ? null : (f[0] as number));

test('fills to its depth, then plays in sequence order across wrap-around', () => {
  const p = new FaxPlayout(3, 10);
  p.push(0xfffe, frame(1));
  p.push(0xffff, frame(2));
  assert.equal(p.pop(), null, 'filling');
  p.push(0x0000, frame(3));
  p.push(0x0001, frame(4));
  assert.deepEqual([p.pop(), p.pop(), p.pop(), p.pop()].map(id), [1, 2, 3, 4]);
  assert.equal(p.stats.played, 4);
});

test('a missing frame is silence in its turn; a late one is dropped; reordering within the depth is fixed', () => {
  const p = new FaxPlayout(3, 10);
  p.push(10, frame(10));
  p.push(12, frame(12));
  p.push(11, frame(11)); // reordered
  p.push(14, frame(14)); // 13 lost
  assert.deepEqual([p.pop(), p.pop(), p.pop(), p.pop(), p.pop()].map(id), [10, 11, 12, null, 14]);
  p.push(13, frame(13)); // too late
  assert.equal(p.stats.late, 1);
  assert.equal(p.stats.missing, 1);
});

test('an underrun refills to the depth; a buffer grown past max trims back to the depth', () => {
  const p = new FaxPlayout(2, 4);
  p.push(1, frame(1));
  p.push(2, frame(2));
  assert.deepEqual([p.pop(), p.pop(), p.pop()].map(id), [1, 2, null]);
  assert.equal(p.stats.underruns, 1);
  p.push(3, frame(3));
  assert.equal(p.pop(), null, 'refilling');
  for (let s = 4; s <= 9; s++) p.push(s, frame(s));
  assert.equal(p.size, 7);
  // 7 > max 4: trimmed to 2 before playing (the oldest go).
  assert.deepEqual([p.pop(), p.pop()].map(id), [8, 9]);
  assert.equal(p.stats.trimmed, 5);
});
