import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMediaClock, FRAME_MS } from './media-clock.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('one timer for all subscribers; ticks follow the wall clock without drift', async () => {
  const clock = createMediaClock();
  const a: number[] = [];
  const b: number[] = [];
  const start = performance.now();
  const offA = clock.subscribe((n) => a.push(n));
  const offB = clock.subscribe((n) => b.push(n));
  await sleep(1000);
  const elapsed = performance.now() - start;
  offA();
  offB();
  const expected = Math.floor(elapsed / FRAME_MS);
  // Drift-corrected: the count matches elapsed time to within the catch-up bound, whatever each timeout's lateness.
  assert.ok(Math.abs(a.length - expected) <= 2, `ticks ${a.length} vs ${expected} expected in ${elapsed.toFixed(0)} ms`);
  assert.deepEqual(a, b, 'both subscribers run in the same ticks');
  assert.equal(clock.stats().subscribers, 0);
  clock.close();
});

test('a stall is caught up with at most 3 ticks, the rest skipped; a throwing listener does not stop the clock', async () => {
  let fake = 0;
  const clock = createMediaClock({ now: () => fake });
  const ticks: number[] = [];
  const off = clock.subscribe((n) => {
    ticks.push(n);
    if (n === 1) throw new Error('listener bug');
  });
  fake = 200; // 10 frames late when the (real 20 ms) timer fires
  await sleep(30);
  assert.equal(ticks.length, 3, 'at most 3 ticks at once');
  assert.equal(clock.stats().skipped, 7);
  off();
  clock.close();
});

test('the timer stops when nobody listens (the process can exit)', async () => {
  const clock = createMediaClock();
  let n = 0;
  const off = clock.subscribe(() => n++);
  await sleep(70);
  off();
  const after = n;
  await sleep(70);
  assert.equal(n, after);
  assert.ok(after >= 2);
});
