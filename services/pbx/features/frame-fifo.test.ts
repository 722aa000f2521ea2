import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameFifo } from './frame-fifo.js';

const frame = (v: number): Int16Array => new Int16Array(160).fill(v);

test('primes, plays in order, conceals a short gap, then falls silent and re-primes', () => {
  const fifo = new FrameFifo({ primeFrames: 2, maxFrames: 4, maxConcealFrames: 2 });
  const out = new Int16Array(160);
  fifo.push(frame(100));
  assert.equal(fifo.pull(out), 'silent', 'not primed yet');
  fifo.push(frame(200));
  assert.equal(fifo.pull(out), 'audio');
  assert.equal(out[0], 100);
  assert.equal(fifo.pull(out), 'audio');
  assert.equal(out[0], 200);
  assert.equal(fifo.pull(out), 'concealed');
  assert.equal(fifo.pull(out), 'concealed');
  assert.equal(fifo.pull(out), 'silent');
  fifo.push(frame(300));
  assert.equal(fifo.pull(out), 'silent', 're-primes after an underrun');
});

test('a burst beyond maxFrames drops the oldest (bounded delay)', () => {
  const fifo = new FrameFifo({ primeFrames: 2, maxFrames: 3 });
  for (let i = 1; i <= 6; i++) fifo.push(frame(i));
  assert.equal(fifo.depth, 3);
  assert.equal(fifo.stats.dropped, 3);
  const out = new Int16Array(160);
  fifo.pull(out);
  assert.equal(out[0], 4);
});
