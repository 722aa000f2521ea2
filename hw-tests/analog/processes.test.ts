/**
 * The analog gateway is its own process (pm2 app `analog`): killing it (a crash) drops no call
 * between desk phones, and once restarted its port registers again. Real processes: the pbx
 * (dist/services/pbx/main.js), the virtual board (dist/device/sim/main.js) and the gateway
 * (dist/device/gateway/main.js), on one data dir, as pm2 runs them in simulation.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { openStore } from '../../services/store/index.js';
import { createRuntimePbx, type RuntimePbx } from '../runtime/harness.js';
import { BOARD_KIND, frameShare, HIL_SERIAL, waitFor } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? 'starts its own virtual board process' : false;

const SIM = fileURLToPath(new URL('../../device/sim/main.js', import.meta.url));
const GATEWAY = fileURLToPath(new URL('../../device/gateway/main.js', import.meta.url));

let pbx: RuntimePbx;
let sim: ChildProcess | null = null;
let gateway: ChildProcess | null = null;

function start(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env, PBX_LOG_STDOUT: '0' }, stdio: 'ignore' });
  child.on('error', () => undefined);
  return child;
}

function registered(extension: string): boolean {
  const store = openStore(pbx.dir);
  try {
    return store.registrations.all().some((r) => r.aor === extension && r.expiresAt > Date.now());
  } finally {
    store.close();
  }
}

before(async () => {
  if (skip !== false) return;
  pbx = await createRuntimePbx([
    { number: '101', secret: 'secret-101-ok' },
    { number: '102', secret: 'secret-102-ok' },
    { number: '201', secret: 'secret-201-ok' },
  ]);
  const store = openStore(pbx.dir);
  store.analog.assign('fxs1', '201');
  store.close();
  sim = start(SIM, pbx.env);
  gateway = start(GATEWAY, { ...pbx.env, PBX_ANALOG_TRUNK_PORT: '0' });
});
after(async () => {
  for (const child of [gateway, sim]) child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  await pbx?.close();
});

test('killing the analog process drops no desk-phone call; restarted, its port registers again', { skip }, async () => {
  await waitFor(() => registered('201'), (r) => r, 15_000, 'fxs1 registered as 201 by the analog process');
  const alice = await pbx.phone({ number: '101', secret: 'secret-101-ok' });
  const bob = await pbx.phone({ number: '102', secret: 'secret-102-ok' });
  const incoming = bob.nextIncoming();
  const call = await alice.call('102');
  const answered = await incoming;
  await answered.established;
  call.media.setSignal({ kind: 'tones', freqs: [800], dbm0: -12 });

  gateway?.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  const from = answered.media.received.length;
  await new Promise((r) => setTimeout(r, 800));
  const pcm = answered.media.heardPcm(from);
  assert.ok(pcm.length >= 160 * 20, `102 still receives audio after the crash (${pcm.length} samples)`);
  assert.ok(frameShare(pcm, 800) > 0.5, `102 still hears 101 (800 Hz share ${frameShare(pcm, 800).toFixed(2)})`);
  assert.equal(call.session.state, 'Established');

  // pm2 restarts it: the port registers again (a new binding, the old one replaced).
  const before = Date.now();
  gateway = start(GATEWAY, { ...pbx.env, PBX_ANALOG_TRUNK_PORT: '0' });
  await waitFor(() => {
    const store = openStore(pbx.dir);
    try {
      return store.registrations.all().filter((r) => r.aor === '201').map((r) => r.registeredAt);
    } finally {
      store.close();
    }
  }, (times) => times.some((t) => t >= before), 15_000, 'fxs1 registered again after the restart');
  await alice.hangUp(call);
});
