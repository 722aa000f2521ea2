import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUdptl, UdptlSession } from './udptl.js';

const ifp = (n: number, len = 5): Buffer => Buffer.alloc(len, n);

test('encode: sequence number, primary, then the previous packets newest first (T.38 §9.1 redundancy)', () => {
  const tx = new UdptlSession(2);
  tx.encode(ifp(1));
  tx.encode(ifp(2));
  const third = tx.encode(ifp(3));
  assert.deepEqual([...third.subarray(0, 4)], [0, 2, 5, 3]);
  const parsed = parseUdptl(third);
  assert.ok(parsed);
  assert.equal(parsed.seq, 2);
  assert.deepEqual(parsed.primary, ifp(3));
  assert.deepEqual(parsed.secondary, [ifp(2), ifp(1)]);
});

test('decode: in order, duplicates dropped, a lost packet recovered from the next one', () => {
  const tx = new UdptlSession(3);
  const rx = new UdptlSession(3);
  const d = [0, 1, 2, 3, 4].map((n) => tx.encode(ifp(n, 3 + n)));
  assert.deepEqual(rx.decode(d[0] as Buffer).map((p) => p.seq), [0]);
  assert.deepEqual(rx.decode(d[0] as Buffer), [], 'a duplicate gives nothing');
  // 1 and 2 lost: 3 carries them
  const got = rx.decode(d[3] as Buffer);
  assert.deepEqual(got.map((p) => p.seq), [1, 2, 3]);
  assert.deepEqual(got.map((p) => p.ifp), [ifp(1, 4), ifp(2, 5), ifp(3, 6)]);
  assert.equal(rx.recovered, 2);
  assert.deepEqual(rx.decode(d[2] as Buffer), [], 'a late packet already recovered gives nothing');
  assert.deepEqual(rx.decode(d[4] as Buffer).map((p) => p.seq), [4]);
});

test('two-byte length determinants and sequence wrap-around', () => {
  const tx = new UdptlSession(1);
  const rx = new UdptlSession(1);
  let last: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 65537; i++) last = tx.encode(i === 65536 ? ifp(9, 300) : ifp(1, 1));
  const parsed = parseUdptl(last);
  assert.equal(parsed?.seq, 0, 'wraps to 0 after 65535');
  assert.equal(parsed?.primary.length, 300);
  assert.equal(rx.decode(last).length, 1);
});

test('malformed datagrams are dropped whole, never thrown', () => {
  const rx = new UdptlSession();
  const bad = [Buffer.alloc(0), Buffer.from([0, 1]), Buffer.from([0, 1, 9, 1]), Buffer.from([0, 1, 0xc0, 1, 2]), Buffer.from([0, 1, 1, 7, 0, 20]), Buffer.from([0, 1, 1, 7, 0, 1, 30, 1])];
  for (const b of bad) assert.deepEqual(rx.decode(b), []);
  assert.equal(rx.malformed, bad.length);
  // FEC error recovery: the primary still counts.
  assert.deepEqual(rx.decode(Buffer.from([0, 5, 1, 7, 0x80, 1, 1, 0])).map((p) => p.seq), [5]);
});

test("redundancy never makes a datagram larger than the far end's T38FaxMaxDatagram", () => {
  const tx = new UdptlSession(3, 200);
  for (let i = 0; i < 5; i++) {
    const d = tx.encode(ifp(i, 90));
    assert.ok(d.length <= 200, `datagram of ${d.length} bytes`);
  }
  const parsed = parseUdptl(tx.encode(ifp(9, 90)));
  assert.equal(parsed?.secondary.length, 1, 'one previous packet fits beside a 90-byte primary');
});
