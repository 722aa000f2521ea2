import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiryQueues, TimerSet } from './timers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('expiry queues: never early, in order, many per wakeup, cancelled ones never fire', async () => {
  const queues = new ExpiryQueues(60);
  const fired: Array<{ id: number; late: number }> = [];
  const started: number[] = [];
  const cancelled = new Set<number>();
  for (let id = 0; id < 20; id++) {
    started[id] = performance.now();
    const expiry = queues.schedule(200, () => fired.push({ id, late: performance.now() - (started[id] ?? 0) - 200 }));
    if (id % 5 === 0) {
      expiry.cancel();
      cancelled.add(id);
    }
    await sleep(2);
  }
  for (let i = 0; i < 300 && fired.length < 16; i++) await sleep(10);
  assert.deepEqual(fired.map((f) => f.id), [...Array(20).keys()].filter((id) => !cancelled.has(id)));
  for (const f of fired) assert.ok(f.late >= -1, `entry ${f.id} fired ${-f.late} ms early`);
  queues.clear();
});

test('expiry queues: one duration is one FIFO; different durations do not wait for each other', async () => {
  const queues = new ExpiryQueues(20);
  const order: string[] = [];
  queues.schedule(300, () => order.push('long'));
  queues.schedule(50, () => order.push('short'));
  for (let i = 0; i < 100 && order.length < 2; i++) await sleep(10);
  assert.deepEqual(order, ['short', 'long']);
  queues.clear();
});

test('expiry queues: clear() forgets pending entries without firing them', async () => {
  const queues = new ExpiryQueues(10);
  let fired = 0;
  queues.schedule(30, () => fired++);
  queues.clear();
  await sleep(80);
  assert.equal(fired, 0);
});

test('a TimerSet mixes precise timers and end timers; stop and clear reach both', async () => {
  const queues = new ExpiryQueues(10);
  const timers = new TimerSet();
  const fired: string[] = [];
  timers.start('A', 20, () => fired.push('A'));
  timers.expire('K', queues, 40, () => fired.push('K'));
  timers.expire('L', queues, 40, () => fired.push('L'));
  timers.stop('L');
  for (let i = 0; i < 50 && fired.length < 2; i++) await sleep(10);
  assert.deepEqual(fired, ['A', 'K']);
  timers.expire('D', queues, 30, () => fired.push('D'));
  timers.start('B', 30, () => fired.push('B'));
  timers.clear();
  await sleep(80);
  assert.deepEqual(fired, ['A', 'K']);
  queues.clear();
});
