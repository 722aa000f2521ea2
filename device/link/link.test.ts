import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc16, crc32 } from './crc16.js';
import { FrameDecoder, encodeFrame, type RawFrame } from './frame.js';
import { LinkEndpoint } from './endpoint.js';
import { decodeMessage, encodeMessage, type Message } from './messages.js';
import { prng } from '../../services/media/dsp/synth.js';

test('CRC-16/CCITT-FALSE and CRC-32 check values', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x29b1);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('COBS round-trips every length around its 254-byte block boundary, with and without zeros', () => {
  const rnd = prng(1);
  for (const n of [0, 1, 2, 253, 254, 255, 256, 300, 508, 509]) {
    for (const zeros of [0, 0.1, 1]) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = rnd() < zeros ? 0 : 1 + Math.floor(rnd() * 255);
      const enc = cobsEncode(data);
      assert.ok(!enc.includes(0), `no zero in the encoding (n=${n})`);
      assert.deepEqual(cobsDecode(enc), data, `n=${n} zeros=${zeros}`);
    }
  }
  assert.equal(cobsDecode(Buffer.from([5, 1, 2])), null, 'a code past the end is invalid');
});

const samples: Message[] = [
  { t: 'hello-request', protocol: 1 },
  { t: 'hello', protocol: 1, mode: 'application', unsolicited: true, capabilities: ['pulse-detect', 'bootloader'], ports: [{ kind: 'fxs', index: 1 }, { kind: 'fxo', index: 1 }], firmware: 'fw-2.1' },
  { t: 'ping', token: 0xdeadbeef },
  { t: 'pong', token: 7, relayEngaged: true, states: [{ port: { kind: 'fxs', index: 2 }, offHook: true, ringing: false, polarityReversed: true, loopCurrent: true }] },
  { t: 'event', event: { kind: 'hook', port: { kind: 'fxs', index: 1 }, offHook: true } },
  { t: 'event', event: { kind: 'flash', port: { kind: 'fxs', index: 2 } } },
  { t: 'event', event: { kind: 'pulse-digit', port: { kind: 'fxs', index: 1 }, digit: '0' } },
  { t: 'event', event: { kind: 'ring', port: { kind: 'fxo', index: 1 }, on: true } },
  { t: 'event', event: { kind: 'polarity', port: { kind: 'fxo', index: 1 }, reversed: true } },
  { t: 'event', event: { kind: 'loop-current', port: { kind: 'fxo', index: 1 }, present: false } },
  { t: 'command', command: { kind: 'ring', port: { kind: 'fxs', index: 1 }, cadenceMs: [400, 200, 400, 2000] } },
  { t: 'command', command: { kind: 'ring-stop', port: { kind: 'fxs', index: 1 } } },
  { t: 'command', command: { kind: 'polarity', port: { kind: 'fxs', index: 2 }, reversed: true } },
  { t: 'command', command: { kind: 'seize', port: { kind: 'fxo', index: 1 } } },
  { t: 'command', command: { kind: 'release', port: { kind: 'fxo', index: 1 } } },
  { t: 'command', command: { kind: 'bypass-relay', engaged: true } },
  { t: 'audio', port: { kind: 'fxo', index: 1 }, frame: Buffer.alloc(160, 0x55) },
  { t: 'boot-enter' },
  { t: 'boot-write', address: 4096, data: Buffer.from('firmware block'), blockCrcOk: true },
  { t: 'boot-verify', address: 0, length: 65536, crc32: 0x12345678 },
  { t: 'boot-leave' },
  { t: 'boot-result', op: 0x32, status: 'verify-mismatch', crc32: 99 },
  { t: 'nak', refType: 0x10, reason: 'bad-port' },
];

test('every message type survives encode → frame → decode unchanged', () => {
  const got: Message[] = [];
  const dec = new FrameDecoder((f) => {
    const d = decodeMessage(f);
    assert.ok(d.ok, `decodes type 0x${f.type.toString(16)}`);
    got.push(d.message);
  });
  samples.forEach((m, i) => {
    const { type, payload } = encodeMessage(m);
    dec.push(encodeFrame(i, type, payload));
  });
  assert.deepEqual(got, samples);
  assert.deepEqual(dec.stats, { frames: samples.length, checksumErrors: 0, garbageBytes: 0 });
});

test('garbage, bit flips and truncation are counted and dropped; the next frame is intact', () => {
  const frames: RawFrame[] = [];
  const dec = new FrameDecoder((f) => frames.push(f));
  const good = (seq: number): Buffer => encodeFrame(seq, 0x02, Buffer.from([0, 0, 0, seq]));
  const flipped = Buffer.from(good(1));
  flipped[2] = (flipped[2] as number) ^ 0x10; // the sequence byte (a data byte of the COBS block)
  const truncated = good(2).subarray(0, 5);
  dec.push(Buffer.concat([Buffer.from('garbage without zeros'), good(0), flipped, truncated, Buffer.alloc(1000, 0x41), good(3)]));
  assert.deepEqual(frames.map((f) => f.seq), [0, 3]);
  assert.equal(dec.stats.checksumErrors, 1);
  assert.ok(dec.stats.garbageBytes >= 1000, `garbage ${dec.stats.garbageBytes}`);
});

test('a bad block CRC, a bad port, a bad length and an unknown type are reported, not thrown', () => {
  const bad = (type: number, payload: number[]) => decodeMessage({ seq: 0, type, payload: Buffer.from(payload) });
  assert.deepEqual(bad(0x90, [0x00, 1]), { ok: false, reason: 'bad-port' });
  assert.deepEqual(bad(0x90, [0x01]), { ok: false, reason: 'bad-length' });
  assert.deepEqual(bad(0x7f, []), { ok: false, reason: 'unknown-type' });
  assert.deepEqual(bad(0x92, [0x01, 11]), { ok: false, reason: 'bad-length' });
  const w = bad(0x31, [0, 0, 0, 0, 0xab, 0xcd, 1, 2, 3]);
  assert.ok(w.ok && w.message.t === 'boot-write' && !w.message.blockCrcOk);
});

test('endpoints count sequence gaps and survive random bytes', () => {
  const received: Message[] = [];
  let wire: Buffer[] = [];
  const a = new LinkEndpoint((b) => wire.push(b), () => {});
  const b = new LinkEndpoint(() => {}, (m) => received.push(m));
  for (let i = 0; i < 10; i++) a.send({ t: 'ping', token: i });
  wire.splice(3, 2); // two frames lost on the line
  for (const w of wire) b.push(w);
  assert.equal(received.length, 8);
  assert.equal(b.stats().sequenceGaps, 1);
  const rnd = prng(42);
  wire = [];
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.alloc(1 + Math.floor(rnd() * 400));
    for (let k = 0; k < junk.length; k++) junk[k] = Math.floor(rnd() * 256);
    b.push(junk);
  }
  a.send({ t: 'ping', token: 77 });
  for (const w of wire) b.push(w);
  assert.deepEqual(received[received.length - 1], { t: 'ping', token: 77 });
});
