/**
 * The `web` process as pm2 runs it: `node dist/services/web/main.js` on its own, over HTTPS with the
 * box's certificate, on a port the kernel picks; it answers with the pbx down (it holds no call),
 * logs where it listens, and stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../services/store/index.js';
import { seedAdmin, WebClient } from '../support/web.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../services/web/main.js');

test('web process: serves the UI and the API over HTTPS, exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-web-proc-'));
  const store = openStore(dataDir);
  seedAdmin(store, 'printed-first-pw');
  store.close();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PBX_DATA_DIR: dataDir, PBX_HTTP_PORT: '0', PBX_BIND: '127.0.0.1', PBX_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`web did not start:\n${output}`)), 20_000);
      const check = (): void => {
        const m = /"url":"https:\/\/127\.0\.0\.1:(\d+)\/"/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', check);
      child.on('exit', (code) => reject(new Error(`web exited ${code}:\n${output}`)));
    });
    const ca = fs.readFileSync(path.join(dataDir, 'tls', 'sip.crt'), 'utf8');
    const client = new WebClient({ port, ca });
    const page = await client.request('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /app\/main\.js/);
    const login = await client.login('admin', 'printed-first-pw');
    assert.equal(login.status, 200, login.text);
    // The pbx is not running: the dashboard says so instead of failing.
    assert.equal((await client.request('POST', '/api/session/password', { current: 'printed-first-pw', next: 'admin-own-pw' })).status, 200);
    const dashboard = await client.request<{ pbx: { up: boolean } }>('GET', '/api/dashboard');
    assert.equal(dashboard.status, 200, dashboard.text);
    assert.equal(dashboard.body.pbx.up, false);
    assert.ok(fs.statSync(path.join(dataDir, 'pbx.sqlite')).size > 0);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
