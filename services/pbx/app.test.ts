import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config.js';
import { CtlClient } from '../ctl/client.js';
import { silentLogger } from '../log.js';
import { startPbx } from './app.js';

test('startPbx: status shows live registrations and calls; stop closes everything', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-app-'));
  const printed: string[] = [];
  const app = await startPbx(loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' }), {
    log: silentLogger(),
    print: (text) => printed.push(text),
  });
  let stopSteps = 0;
  app.onStop(() => {
    stopSteps++;
  });
  try {
    assert.match(printed.join(''), /password: \S{16}/);
    app.store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse' });
    const now = Date.now();
    const binding = {
      aor: '101',
      instanceId: null,
      callId: 'c',
      cseq: 1,
      q: null,
      transport: 'UDP' as const,
      sourceAddress: '127.0.0.1',
      sourcePort: 5062,
      userAgent: 'phone',
      registeredAt: now,
    };
    app.store.registrations.upsert({ ...binding, contactUri: 'sip:101@127.0.0.1:5062', expiresAt: now + 60_000 });
    app.store.registrations.upsert({ ...binding, contactUri: 'sip:101@127.0.0.1:5064', expiresAt: now - 1 });
    app.setCallSource(() => [{ id: 'call-1', from: '101', to: '102', state: 'ringing', startedAt: now }]);

    const client = await CtlClient.connect(app.config.ctlSocket);
    const status = await client.request('status');
    client.close();
    assert.deepEqual(status.registrations.map((r) => r.contactUri), ['sip:101@127.0.0.1:5062'], 'expired bindings are not live');
    assert.deepEqual(status.calls.map((c) => c.id), ['call-1']);
    // Configured as port 0: status shows the port the SIP stack really bound.
    assert.ok(status.sip.udp > 0 && status.sip.tcp > 0, `bound SIP ports shown, got ${status.sip.udp}/${status.sip.tcp}`);
  } finally {
    await app.stop();
    await app.stop(); // idempotent
  }
  assert.equal(stopSteps, 1);
  assert.ok(!fs.existsSync(app.config.ctlSocket));
  assert.throws(() => app.store.extensions.list());
  fs.rmSync(dir, { recursive: true, force: true });
});
