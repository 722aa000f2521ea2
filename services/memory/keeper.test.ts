/**
 * The keeper compacts once RSS has regrown past its threshold, and only while the process says it
 * is quiet: real collections in this process, no stand-ins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../log.js';
import { compactAfterStart, keepMemoryCompact } from './keeper.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Grows the heap (and RSS) with garbage that only a collection gives back. */
function churn(): number {
  let n = 0;
  for (let i = 0; i < 400_000; i++) {
    const o = { a: `garbage-${i}`, b: [i, i + 1], c: Buffer.alloc(64) };
    n += o.b.length;
  }
  return n;
}

test('the keeper compacts a regrown heap while quiet, and never while busy', async () => {
  let quiet = false;
  const keeper = keepMemoryCompact({ quiet: () => quiet, logger: silentLogger(), checkMs: 20, regrowBytes: 1024 * 1024 });
  try {
    churn();
    await sleep(200);
    assert.equal(keeper.compactions, 0, 'busy: the heap grew, yet nothing was compacted');
    quiet = true;
    const deadline = Date.now() + 3000;
    while (keeper.compactions === 0 && Date.now() < deadline) await sleep(20);
    assert.equal(keeper.compactions, 1, 'quiet and regrown: one compaction');
    const heapAfter = process.memoryUsage().heapUsed;
    await sleep(200);
    assert.equal(keeper.compactions, 1, 'no regrowth since: no second compaction');
    churn();
    const deadline2 = Date.now() + 3000;
    while (keeper.compactions === 1 && Date.now() < deadline2) await sleep(20);
    assert.equal(keeper.compactions, 2, 'regrown again: compacted again');
    assert.ok(process.memoryUsage().heapUsed < heapAfter + 8 * 1024 * 1024, 'the garbage did not stay');
  } finally {
    keeper.stop();
  }
});

test('after start: one compaction after the delay, none while not quiet', async () => {
  const keepAlive = setTimeout(() => {}, 10_000); // the compaction's timer does not hold the process
  try {
    churn();
    const t0 = Date.now();
    const skipped = await compactAfterStart({ logger: silentLogger(), delayMs: 30, quiet: () => false });
    assert.equal(skipped, null, 'not quiet: no compaction');
    const done = await compactAfterStart({ logger: silentLogger(), delayMs: 60 });
    assert.ok(Date.now() - t0 >= 85, 'not before the delay');
    assert.ok(done?.collected, 'a full collection ran');
  } finally {
    clearTimeout(keepAlive);
  }
});
