/**
 * Serial fuzz, bounded in time (HIL_FUZZ_SECONDS, 20 by default, split between the two directions):
 *  - toward the host: random bytes, CRC-valid frames with random or mutated payloads, damaged frames
 *    from the virtual board into the driver, which keeps running and still carries real events;
 *  - toward the board: the same from the host's tty into the board (virtual or real), which must
 *    still answer the driver's handshake afterwards.
 * Nothing may crash: the board-sim process, the driver (it never throws), this test process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialPort } from 'serialport';
import { hilSerial, probeDriver, sleep, startAnalogBench, targetLine, waitFor, type AnalogBench, type DriverProbe, type SimControl } from '../support/analog-board.js';
import { SerialFuzzer } from '../support/serial-fuzz.js';

const SECONDS = Math.max(2, Math.min(600, Number(process.env.HIL_FUZZ_SECONDS ?? 20)));
const SEED = Number(process.env.HIL_FUZZ_SEED ?? Date.now() % 100000);

let bench: AnalogBench;

before(async () => {
  console.log(`${targetLine()}; fuzz ${SECONDS} s, seed ${SEED} (HIL_FUZZ_SEED replays it)`);
  bench = await startAnalogBench({ fxs: 'phone,phone' });
});

after(async () => {
  await bench?.close();
});

test('random and mutated frames into the driver crash nothing; real events still arrive', { skip: hilSerial() !== null ? 'the board side injects: virtual board only' : false }, async () => {
  const sim = bench.sim as SimControl;
  const drv: DriverProbe = probeDriver(bench.tty);
  try {
    await drv.up();
    const fuzz = new SerialFuzzer(SEED);
    const end = Date.now() + (SECONDS * 1000) / 2;
    let injected = 0;
    let pieces = 0;
    while (Date.now() < end) {
      const chunk: Buffer[] = [];
      let n = 0;
      while (n < 2048) {
        const p = fuzz.next();
        chunk.push(p);
        n += p.length;
        pieces++;
      }
      const bytes = Buffer.concat(chunk);
      injected += bytes.length;
      await sim.call('sim.board', { action: 'inject', base64: bytes.toString('base64') });
      await sleep(15);
    }
    const c = drv.board.counters();
    console.log(`toward the host: ${pieces} pieces, ${injected} bytes; driver counters ${JSON.stringify(c)}`);
    assert.ok(c.garbageBytes > 0 && c.checksumErrors > 0 && c.malformedFrames > 0, 'the fuzz reached every check');
    await drv.up(20_000);
    const from = drv.events.length;
    await sim.call('sim.fxs', { port: 1, action: 'offhook' });
    await waitFor('a real hook event after the fuzz', () => drv.events.slice(from).some((e) => e.kind === 'hook' && e.port.kind === 'fxs' && e.port.index === 1 && e.offHook), 20_000);
    await sim.call('sim.fxs', { port: 1, action: 'onhook' });
    assert.equal(bench.simProcess?.exitCode, null, `board-sim alive: ${bench.simStderr()}`);
  } finally {
    await drv.close();
  }
});

test('random and mutated frames into the board crash nothing; it answers the handshake afterwards', async () => {
  const port = new SerialPort({ path: bench.tty, baudRate: 921600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on('data', () => {}); // whatever the board answers (naks, pongs) is drained
  const fuzz = new SerialFuzzer(SEED + 1);
  const end = Date.now() + (SECONDS * 1000) / 2;
  let written = 0;
  try {
    while (Date.now() < end) {
      const chunk: Buffer[] = [];
      let n = 0;
      while (n < 1024) {
        const p = fuzz.next();
        chunk.push(p);
        n += p.length;
      }
      const bytes = Buffer.concat(chunk);
      written += bytes.length;
      await new Promise<void>((resolve) => port.write(bytes, () => port.drain(() => resolve())));
      await sleep(10);
    }
  } finally {
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
  console.log(`toward the board: ${written} bytes`);
  if (bench.sim !== null) {
    // The fuzz may have left the board in its bootloader (a valid boot-enter) or ringing: reset it as a
    // technician would; the point is that it is alive and answers.
    const st = await bench.sim.call('sim.status', undefined);
    console.log(`board link counters after the fuzz: ${JSON.stringify(st.board.link)}, mode ${st.board.mode}`);
    assert.ok(st.board.link.malformed + st.board.link.checksumErrors > 0);
    if (st.board.mode === 'bootloader' || !st.board.powered) await bench.sim.call('sim.board', { action: 'reset' });
    assert.equal(bench.simProcess?.exitCode, null, `board-sim alive: ${bench.simStderr()}`);
  }
  const drv = probeDriver(bench.tty);
  try {
    await drv.up(8000);
    assert.ok(drv.board.hello !== null && drv.board.hello.ports.length > 0);
  } finally {
    await drv.close();
  }
});
