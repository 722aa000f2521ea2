/**
 * The front panel process in simulation: it opens the simulated GPIO chip beside the virtual board's
 * tty, lights the power LED, and shows the network LED blinking while no pbx answers. (The button's
 * actions restart pm2 apps: their state machine is tested in device/gpio/gpio.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hilSerial, sleep, startAnalogBench, waitFor } from '../support/analog-board.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('the panel process drives the LEDs of the simulated chip', { skip: hilSerial() !== null ? 'simulated chip: virtual board only' : false }, async () => {
  const bench = await startAnalogBench();
  const panel = spawn(process.execPath, [path.join(ROOT, 'dist/device/gpio/main.js')], {
    env: { ...process.env, PBX_DATA_DIR: bench.dataDir, PBX_SIMULATION: '1', PBX_LOG_STDOUT: '0' },
    stdio: 'ignore',
  });
  try {
    const sim = bench.sim as NonNullable<typeof bench.sim>;
    const leds = await waitFor('the panel on the simulated chip', async () => (await sim.call('sim.status', undefined)).panel.leds ?? undefined, 8000);
    await waitFor('power LED on', async () => (await sim.call('sim.status', undefined)).panel.leds?.power === true);
    const network = new Set<boolean>();
    for (let i = 0; i < 30; i++) {
      network.add((await sim.call('sim.status', undefined)).panel.leds?.network === true);
      await sleep(50);
    }
    assert.deepEqual([...network].sort(), [false, true], `network LED blinks without a pbx (${JSON.stringify(leds)})`);
    assert.equal(panel.exitCode, null);
  } finally {
    panel.kill('SIGTERM');
    await new Promise((r) => panel.once('exit', r));
    await bench.close();
  }
});
