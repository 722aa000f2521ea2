/**
 * Heap pressure sheds before V8 aborts the process: a real node process with a small heap
 * (--max-old-space-size=48, small semi-spaces as the pbx's) keeps data alive until the guard sees 60%
 * of the limit live after a full collection. Then new INVITEs get 'heap' while in-dialog requests
 * still pass (they yield only at 80%); once the data is let go, new INVITEs pass again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OVERLOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'overload.js');

const CHILD = `
import { createOverloadGuard } from ${JSON.stringify(OVERLOAD)};
const guard = createOverloadGuard({ sampleIntervalMs: 10, idleGcAfterMs: 0 }, () => 0);
const source = { transport: 'UDP', address: '127.0.0.1', port: 5060 };
const uri = { kind: 'sip', secure: false, user: '101', password: null, host: 'pbx', port: null, params: new Map(), headers: new Map() };
const request = (tag) => ({ kind: 'request', method: 'INVITE', uri, to: { displayName: null, uri, params: tag ? new Map([['tag', tag]]) : new Map() } });
const settle = async () => { globalThis.gc(); await new Promise((r) => setTimeout(r, 40)); };
const out = { before: guard.check(request(null), source) };
const kept = [];
for (let i = 0; i < 400 && guard.heapFraction() < 0.62; i++) {
  kept.push(new Array(131072).fill(i + 0.5));
  await settle();
}
out.fraction = guard.heapFraction();
out.newCall = guard.check(request(null), source);
out.inDialog = guard.check(request('abc'), source);
kept.length = 0;
await settle();
await settle();
out.fractionAfter = guard.heapFraction();
out.after = guard.check(request(null), source);
guard.close();
console.log(JSON.stringify(out));
`;

test('live heap above 60% of the limit: new INVITEs shed with "heap", in-dialog ones pass; released: served again', async () => {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--max-old-space-size=48', '--max-semi-space-size=1', '--expose-gc', '--input-type=module', '-e', CHILD], { timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
  );
  const r = JSON.parse(stdout.trim()) as { before: string | null; fraction: number; newCall: string | null; inDialog: string | null; fractionAfter: number; after: string | null };
  assert.equal(r.before, null, 'an empty heap sheds nothing');
  assert.ok(r.fraction >= 0.6 && r.fraction < 0.8, `live share reached ${r.fraction.toFixed(2)}`);
  assert.equal(r.newCall, 'heap');
  assert.equal(r.inDialog, null, 'an in-dialog request is kept below 80%');
  assert.ok(r.fractionAfter < 0.5, `released: ${r.fractionAfter.toFixed(2)}`);
  assert.equal(r.after, null);
});
