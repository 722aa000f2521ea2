/** `pbxctl sim` as a technician uses it: the real CLI process against the running virtual board. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hilSerial, startAnalogBench, waitFor, type AnalogBench } from '../support/analog-board.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const skip = hilSerial() !== null ? 'pbxctl sim drives the virtual board only' : false;
let bench: AnalogBench;

function pbxctl(dataDir: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bin/pbxctl.js'), ...args], { env: { ...process.env, PBX_DATA_DIR: dataDir, PBX_SIM_SOCKET: '' }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(async () => {
  if (!skip) bench = await startAnalogBench({ fxs: 'phone,fax' });
});
after(async () => {
  await bench?.close();
});

test('status, fxs and fxo commands; refusals are usage errors with the reason', { skip }, async () => {
  const d = bench.dataDir;
  const st = pbxctl(d, 'sim', 'status', '--json');
  assert.equal(st.code, 0, st.err);
  const json = JSON.parse(st.out) as { ports: { port: string; device: string }[] };
  assert.deepEqual(json.ports.map((p) => `${p.port}:${p.device}`), ['fxs1:phone', 'fxs2:fax', 'fxo1:central-office']);

  const refused = pbxctl(d, 'sim', 'fxs', '1', 'dial', '12');
  assert.equal(refused.code, 1);
  assert.match(refused.err, /off-hook/);
  assert.equal(pbxctl(d, 'sim', 'fxs', '1', 'offhook').code, 0);
  const dial = pbxctl(d, 'sim', 'fxs', '1', 'dial', '12', '--pulse', '--json');
  assert.equal(dial.code, 0, dial.err);
  assert.equal((JSON.parse(dial.out) as { hook: string }).hook, 'off');
  assert.equal(pbxctl(d, 'sim', 'fxs', '9', 'offhook').code, 1, 'no such port');
  assert.equal(pbxctl(d, 'sim', 'fxs', '1', 'tone', '5000').code, 1);
  // Caller ID on call waiting: the phone's acknowledgement, or none.
  const ackOff = pbxctl(d, 'sim', 'fxs', '1', 'cidcw', 'off', '--json');
  assert.equal(ackOff.code, 0, ackOff.err);
  assert.equal((JSON.parse(ackOff.out) as { callWaiting?: { ack: string | null } }).callWaiting?.ack, null);
  assert.equal((JSON.parse(pbxctl(d, 'sim', 'fxs', '1', 'cidcw', 'D', '--json').out) as { callWaiting?: { ack: string | null } }).callWaiting?.ack, 'D');
  assert.equal(pbxctl(d, 'sim', 'fxs', '1', 'cidcw', 'B').code, 1);
  const faxAck = pbxctl(d, 'sim', 'fxs', '2', 'cidcw', 'D');
  assert.equal(faxAck.code, 1);
  assert.match(faxAck.err, /not a phone/);
  assert.equal(pbxctl(d, 'sim', 'fxo', 'ring', '--caller-id', 'abc').code, 1);
  const ring = pbxctl(d, 'sim', 'fxo', 'ring', '--caller-id', '5551234', '--name', 'ACME');
  assert.equal(ring.code, 0, ring.err);
  await waitFor('the exchange ringing', () => /fxo1\s+central-office\s+ringing/.test(pbxctl(d, 'sim', 'status').out));
  assert.equal(pbxctl(d, 'sim', 'fxo', 'hangup').code, 0);
  const text = pbxctl(d, 'sim', 'status').out;
  assert.match(text, /virtual board vboard-1\.0\.0 \(US\)/);
  assert.match(text, /fxs1\s+phone\s+off-hook/);
  assert.equal(pbxctl(d, 'sim', 'fxs', '1', 'onhook').code, 0);
});

test('no virtual board listening: failure (exit 2) that says so', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nosim-'));
  try {
    const r = pbxctl(dir, 'sim', 'status');
    assert.equal(r.code, 2);
    assert.match(r.err, /no virtual board listens/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
