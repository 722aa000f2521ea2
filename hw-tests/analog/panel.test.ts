/**
 * The front panel process in simulation: it opens the simulated GPIO chip beside the virtual board's
 * tty, lights the power LED, shows the network LED blinking while no pbx answers, and lights the
 * voicemail LED while a box holds a new message (off again once it is heard). (The button's
 * actions restart pm2 apps: their state machine is tested in device/gpio/gpio.test.ts.) On the
 * appliance the panel runs inside the analog process: the second test starts that one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../services/store/index.js';
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
    assert.equal((await sim.call('sim.status', undefined)).panel.leds?.voicemail, false, 'no message: voicemail LED off');
    const store = openStore(bench.dataDir);
    try {
      store.extensions.add({ number: '101', displayName: 'Ana', secret: 'secret-101-ok' });
      const message = store.voicemail.add({ box: '101', caller: '102', callerName: 'Bo', receivedAt: Date.now(), durationMs: 2000, file: 'msg-1-aaaaaaaa.wav', bytes: 32044, reason: 'unavailable' });
      await waitFor('voicemail LED on with a new message', async () => (await sim.call('sim.status', undefined)).panel.leds?.voicemail === true, 8000);
      store.voicemail.setFolder(message.id, 'old');
      await waitFor('voicemail LED off once the message is heard', async () => (await sim.call('sim.status', undefined)).panel.leds?.voicemail === false, 8000);
    } finally {
      store.close();
    }
    assert.equal(panel.exitCode, null);
  } finally {
    panel.kill('SIGTERM');
    await new Promise((r) => panel.once('exit', r));
    await bench.close();
  }
});

test('the analog process runs the panel too (one Node process less on the appliance)', { skip: hilSerial() !== null ? 'simulated chip: virtual board only' : false }, async () => {
  const bench = await startAnalogBench();
  // A SIP port where no pbx listens (the gateway's registrations go unanswered): free, never 5060.
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const noPbx = probe.address().port;
  probe.close();
  const gateway = spawn(process.execPath, [path.join(ROOT, 'dist/device/gateway/main.js')], {
    env: { ...process.env, PBX_DATA_DIR: bench.dataDir, PBX_SIMULATION: '1', PBX_LOG_STDOUT: '0', PBX_SIP_PORT: String(noPbx), PBX_ANALOG_TRUNK_PORT: '0', PBX_PANEL: '' },
    stdio: 'ignore',
  });
  try {
    const sim = bench.sim as NonNullable<typeof bench.sim>;
    await waitFor('power LED on, lit by the analog process', async () => (await sim.call('sim.status', undefined)).panel.leds?.power === true, 15000);
    const network = new Set<boolean>();
    for (let i = 0; i < 30; i++) {
      network.add((await sim.call('sim.status', undefined)).panel.leds?.network === true);
      await sleep(50);
    }
    assert.deepEqual([...network].sort(), [false, true], 'network LED blinks without a pbx');
    assert.equal(gateway.exitCode, null);
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
    await bench.close();
  }
});
