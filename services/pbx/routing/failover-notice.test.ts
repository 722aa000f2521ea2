import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { openStore } from '../../store/index.js';
import { failoverNotifier } from './failover-notice.js';

test('failover mail: each admin with an address, in their language, at most once an hour per trunk and state', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'failover-notice-'));
  const store = openStore(dir);
  try {
    store.users.add({ username: 'ana', displayName: 'Ana', role: 'admin', password: 'password-ana-1', email: 'ana@office.test', language: 'es' });
    store.users.add({ username: 'noaddr', displayName: 'No Mail', role: 'admin', password: 'password-nomail' });
    store.users.add({ username: 'bo', displayName: 'Bo', role: 'user', password: 'password-bo-11', email: 'bo@office.test' });
    let clock = 1_000_000;
    const notify = failoverNotifier({ users: store.users, mail: { enqueue: (m) => store.mail.enqueue(m) }, logger: silentLogger(), now: () => clock });
    notify({ trunk: 'carrier', state: 'down', reason: 'no answer to OPTIONS' });
    notify({ trunk: 'carrier', state: 'down', reason: 'no answer to OPTIONS' });
    clock += 60_000;
    notify({ trunk: 'carrier', state: 'up', reason: 'answers OPTIONS again' });
    const mails = store.mail.list().map((m) => [m.to, m.subject]);
    assert.deepEqual(mails.map(([to]) => to), ['ana@office.test', 'ana@office.test'], 'only the admin with an address; the repeat within the hour is not sent');
    assert.deepEqual(mails.map(([, s]) => s).sort(), ['La troncal carrier está caída: las llamadas salen por la línea fija', 'La troncal carrier se recuperó']);
    clock += 3600_000;
    notify({ trunk: 'carrier', state: 'down', reason: 'failed a call with 503' });
    assert.equal(store.mail.list().length, 3, 'an hour later a new failure is told again');
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
