/**
 * The overload guard hands memory back when the box goes quiet after a busy spell, and again while
 * the quiet lasts if the process grew by more than `idleRegrowthBytes` since (issue 21: an idle box
 * still works, and V8 keeps the pages that work grows). Never more than that: no growth, no
 * compaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOverloadGuard } from './overload.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('compacts after a busy spell, again while quiet only if the process grew, never otherwise', async () => {
  let compactions = 0;
  const guard = createOverloadGuard({ sampleIntervalMs: 10, idleGcAfterMs: 150, idleRegrowthBytes: 8 * 1024 * 1024, onCompacted: () => compactions++ }, () => 0);
  try {
    // A busy spell: the event loop mostly working for ~600 ms.
    const end = performance.now() + 600;
    while (performance.now() < end) {
      const chunk = performance.now() + 30;
      while (performance.now() < chunk) {
        // busy
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(compactions, 0, 'nothing while busy');
    await until('the compaction after the busy spell', () => compactions === 1, 10_000);
    // Quiet, no growth: several re-check periods pass without a compaction.
    await sleep(800);
    assert.equal(compactions, 1, 'quiet without growth: no further compaction');
    // Quiet, but the process grows by 24 MB (kept): compacted once more, then not again.
    const kept = Buffer.alloc(24 * 1024 * 1024, 1);
    await until('the compaction after growth while quiet', () => compactions === 2, 10_000);
    await sleep(800);
    assert.equal(compactions, 2, 'what it kept is the new base: no compaction loop');
    assert.equal(kept[kept.length - 1], 1);
  } finally {
    guard.close();
  }
});
