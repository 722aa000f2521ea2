/**
 * The compaction the pbx runs after a busy spell and once after start: without --expose-gc (this
 * test process has none) the native low-memory collection still runs, and it gives back the young
 * generation a burst of garbage grew, which a full collection alone keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactMemory } from './compact.js';

test('compactMemory collects without --expose-gc and shrinks the heap a burst of garbage grew', () => {
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'this test runs without --expose-gc');
  const keep: unknown[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 300_000; i++) {
      const o = { a: `garbage-${i}-${round}`, b: [i, i + 1], c: Buffer.alloc(64) };
      if (i % 1000 === 0) keep.push(o);
    }
  }
  const before = process.memoryUsage().heapTotal;
  const result = compactMemory();
  const after = process.memoryUsage().heapTotal;
  console.log(`heap pages ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MB; RSS ${(result.rssBefore / 1048576).toFixed(1)} -> ${(result.rssAfter / 1048576).toFixed(1)} MB; trimmed ${result.trimmed}`);
  assert.equal(result.collected, true, 'the native low-memory collection ran');
  assert.ok(after < before, `V8 gave pages back (${before} -> ${after})`);
  assert.ok(keep.length === 900);
});
