/**
 * The bootloader protocol on the virtual board (docs/serial-protocol.md, "Bootloader"): enter, block
 * writes with their CRC, verify, leave into the new image. Virtual board only: on a real board this
 * would flash a test image (the firmware issue's flasher does that with a real one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialPort } from 'serialport';
import { crc32 } from '../../device/link/crc16.js';
import { encodeFrame } from '../../device/link/frame.js';
import { LinkEndpoint } from '../../device/link/endpoint.js';
import { T, type Message } from '../../device/link/messages.js';
import { hilSerial, startAnalogBench, waitFor } from '../support/analog-board.js';

test('enter, write, verify, leave: the board boots the new image and says so', { skip: hilSerial() !== null ? 'would flash a test image: virtual board only' : false }, async () => {
  const bench = await startAnalogBench();
  const port = new SerialPort({ path: bench.tty, baudRate: 921600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const got: Message[] = [];
  const ep = new LinkEndpoint((b) => port.write(b), (m) => {
    if (m.t !== 'audio') got.push(m);
  });
  port.on('data', (d: Buffer) => ep.push(d));
  const next = async <K extends Message['t']>(t: K, what: string = t): Promise<Extract<Message, { t: K }>> => {
    const m = await waitFor(what, () => {
      const i = got.findIndex((x) => x.t === t);
      return i >= 0 ? got.splice(i, 1)[0] : undefined;
    }, 3000);
    return m as Extract<Message, { t: K }>;
  };
  try {
    ep.send({ t: 'boot-write', address: 0, data: Buffer.from('x'), blockCrcOk: true });
    assert.equal((await next('boot-result')).status, 'not-in-bootloader');

    ep.send({ t: 'boot-enter' });
    const hello = await waitFor('the bootloader hello', () => {
      const h = got.find((m): m is Extract<Message, { t: 'hello' }> => m.t === 'hello' && m.mode === 'bootloader');
      return h;
    });
    assert.deepEqual(hello.ports, []);
    got.length = 0;

    const image = Buffer.concat([Buffer.from('FW:vboard-2.0.0\n'), Buffer.alloc(300, 0xa5)]);
    // A block damaged in transit (its own CRC wrong, the frame's right) is refused.
    const bad = encodeFrame(200, T.BOOT_WRITE, Buffer.concat([Buffer.from([0, 0, 0, 0, 0x12, 0x34]), image.subarray(0, 16)]));
    port.write(bad);
    assert.equal((await next('boot-result')).status, 'bad-crc');
    for (let off = 0; off < image.length; off += 128) {
      ep.send({ t: 'boot-write', address: off, data: image.subarray(off, off + 128), blockCrcOk: true });
      assert.equal((await next('boot-result', `block at ${off}`)).status, 'ok');
    }
    ep.send({ t: 'boot-leave' });
    assert.equal((await next('boot-result')).status, 'verify-mismatch', 'an unverified image does not boot');
    ep.send({ t: 'boot-verify', address: 0, length: image.length, crc32: 0 });
    const wrong = await next('boot-result');
    assert.equal(wrong.status, 'verify-mismatch');
    assert.equal(wrong.crc32, crc32(image), 'the board reports the CRC it computed');
    ep.send({ t: 'boot-verify', address: 0, length: image.length, crc32: crc32(image) });
    assert.equal((await next('boot-result')).status, 'ok');
    ep.send({ t: 'boot-leave' });
    assert.equal((await next('boot-result')).status, 'ok');
    const booted = await waitFor('the application hello', () => got.find((m): m is Extract<Message, { t: 'hello' }> => m.t === 'hello' && m.mode === 'application'));
    assert.equal(booted.unsolicited, true);
    assert.equal(booted.firmware, 'vboard-2.0.0');
    assert.ok(booted.ports.length > 0);
  } finally {
    await new Promise<void>((resolve) => port.close(() => resolve()));
    await bench.close();
  }
});
