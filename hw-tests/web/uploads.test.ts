/**
 * Firmware upload and configuration restore through the web API, against a real HTTPS server and
 * real files: the image kept with its SHA-256 and listed; an oversized, truncated, empty or
 * corrupted upload refused cleanly with nothing left on disk; a restore file checked (SQLite,
 * integrity, this appliance, schema version), staged, and applied by the pbx's start step without
 * replacing the file the web process has open.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from '../../services/config.js';
import { silentLogger } from '../../services/log.js';
import { startPbx } from '../../services/pbx/app.js';
import { openStore } from '../../services/store/index.js';
import { LATEST_VERSION } from '../../services/store/migrations.js';
import { applyStagedRestore } from '../../services/store/restore.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

type Err = { error: { code: string } };
const LIMIT = 256 * 1024;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function leftovers(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('.upload-')) : [];
}

describe('web API: firmware upload and configuration restore', () => {
  let web: WebUnderTest;
  let admin: WebClient;
  const incoming = (): string => path.join(web.dataDir, 'firmware', 'incoming');

  before(async () => {
    web = await startWebUi({ uploadLimits: { firmwareBytes: LIMIT, restoreBytes: 4 * 1024 * 1024 } });
    seedAdmin(web.store);
    web.store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    admin = new WebClient(web);
    await admin.login('admin', 'first-start-pw');
    await admin.request('POST', '/api/session/password', { current: 'first-start-pw', next: 'admin-chosen-pw' });
  });
  after(() => web.close());

  it('keeps an uploaded firmware image with its SHA-256 and lists it', async () => {
    const image = Buffer.alloc(200 * 1024, 0x5a);
    image.write('PBXFW', 0);
    const sha = createHash('sha256').update(image).digest('hex');
    const res = await admin.upload<{ image: { sha256: string; bytes: number; name: string } }>('/api/firmware', image, { name: '../../etc/pbx firmware 2.1.img', sha256: sha });
    assert.ok(res.status !== 'reset');
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.image.sha256, sha);
    assert.equal(res.body.image.name, 'pbx_firmware_2.1.img', 'the name is reduced to a safe base name');
    assert.deepEqual(fs.readFileSync(path.join(incoming(), `${sha}.bin`)), image);
    const list = await admin.request<{ images: Array<{ sha256: string; bytes: number; uploadedBy: string }> }>('GET', '/api/firmware');
    assert.deepEqual(list.body.images.map((i) => [i.sha256, i.bytes, i.uploadedBy]), [[sha, image.length, 'admin']]);
  });

  it('refuses an oversized, truncated, empty or altered upload, or one without the CSRF token, cleanly, with nothing kept', async () => {
    const before = fs.readdirSync(incoming()).sort();
    const big = Buffer.alloc(LIMIT + 1, 1);
    const declared = await admin.upload<Err>('/api/firmware', big, { headersOnly: true });
    assert.ok(declared.status !== 'reset', 'answered before the body was sent');
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error.code, 'too-large');
    const chunked = await admin.upload<Err>('/api/firmware', big, { chunked: true });
    assert.ok(chunked.status !== 'reset', `answered: ${JSON.stringify(chunked)}`);
    assert.equal(chunked.status, 413);
    // The connection ends after 1000 of the 5000 bytes announced: nothing answers a closed socket, nothing is kept.
    const cut = await admin.upload('/api/firmware', Buffer.alloc(5000, 2), { cut: 1000 });
    assert.equal(cut.status, 'reset');
    const empty = await admin.upload<Err>('/api/firmware', Buffer.alloc(0));
    assert.ok(empty.status !== 'reset');
    assert.equal(empty.body.error.code, 'empty-file');
    const altered = await admin.upload<Err>('/api/firmware', Buffer.alloc(1000, 3), { sha256: createHash('sha256').update(Buffer.alloc(1000, 4)).digest('hex') });
    assert.ok(altered.status !== 'reset');
    assert.equal(altered.status, 400);
    assert.equal(altered.body.error.code, 'checksum');
    const token = admin.csrfToken;
    admin.csrfToken = null;
    const noCsrf = await admin.upload<Err>('/api/firmware', Buffer.alloc(1000, 5));
    admin.csrfToken = token;
    assert.ok(noCsrf.status !== 'reset');
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'csrf');
    // The server is still answering, and the directory holds exactly what it held.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(fs.readdirSync(incoming()).sort(), before);
    assert.deepEqual(leftovers(incoming()), []);
    assert.equal((await admin.request<{ images: unknown[] }>('GET', '/api/firmware')).body.images.length, 1);
  });

  it('refuses a restore file that is not a sound backup of this appliance, with the reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-restore-'));
    const good = path.join(dir, 'good.sqlite');
    await web.store.backup(good);
    const bytes = fs.readFileSync(good);
    const cases: Array<[string, Buffer, string]> = [];
    cases.push(['text', Buffer.from('hello, this is not a database'), 'backup-not-sqlite']);
    cases.push(['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), 'backup-corrupt']);
    const foreign = path.join(dir, 'foreign.sqlite');
    const f = new Database(foreign);
    f.exec('CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES (1)');
    f.close();
    cases.push(['foreign', fs.readFileSync(foreign), 'backup-not-appliance']);
    const newer = path.join(dir, 'newer.sqlite');
    fs.copyFileSync(good, newer);
    const n = new Database(newer);
    n.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_VERSION + 1, 'from the future', new Date().toISOString());
    n.pragma('journal_mode = DELETE');
    n.close();
    cases.push(['newer', fs.readFileSync(newer), 'backup-newer-schema']);
    for (const [what, body, code] of cases) {
      const res = await admin.upload<Err>('/api/restore', body, { name: `${what}.sqlite` });
      assert.ok(res.status !== 'reset', what);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(res.body.error.code, code, what);
    }
    assert.equal((await admin.request<{ staged: unknown }>('GET', '/api/restore')).body.staged, null);
    assert.deepEqual(leftovers(path.join(web.dataDir, 'restore')), []);
  });

  it('stages a good backup, and the pbx start step restores it into the live file under the open store', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-restore-'));
    const file = path.join(dir, 'backup.sqlite');
    await web.store.backup(file);
    // Changed after the backup: the restore takes it back.
    web.store.extensions.add({ number: '102', displayName: 'Bob', secret: 'bob-secret-22' });
    const res = await admin.upload<{ staged: { schemaVersion: number; extensions: number } }>('/api/restore', fs.readFileSync(file), { name: 'backup.sqlite' });
    assert.ok(res.status !== 'reset');
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.staged.schemaVersion, LATEST_VERSION);
    assert.equal(res.body.staged.extensions, 1);
    assert.notEqual(web.store.extensions.get('102'), null, 'staging changes nothing live');
    const status = await admin.request<{ staged: { name: string } | null }>('GET', '/api/restore');
    assert.equal(status.body.staged?.name, 'backup.sqlite');

    const inode = fs.statSync(web.store.path).ino;
    const restored = await applyStagedRestore(web.dataDir, quiet);
    assert.equal(restored?.extensions, 1);
    assert.equal(fs.statSync(web.store.path).ino, inode, 'the live file was written through SQLite, not replaced');
    assert.equal(web.store.isSameFile(), true);
    assert.equal(web.store.extensions.get('102'), null, "the web process's open store sees the restored data");
    assert.notEqual(web.store.extensions.get('101'), null);
    const again = openStore(web.dataDir);
    assert.equal(again.extensions.get('102'), null);
    again.close();
    const kept = fs.readdirSync(path.join(web.dataDir, 'restore'));
    assert.ok(kept.some((f) => /^before-restore-.*\.sqlite$/.test(f)), `the previous database is kept: ${kept.join(', ')}`);
    assert.ok(!kept.includes('staged.sqlite'));
    assert.equal(await applyStagedRestore(web.dataDir, quiet), null, 'nothing staged any more');
    // The session table came back from the backup too: log in again.
    const fresh = new WebClient(web);
    assert.equal((await fresh.login('admin', 'admin-chosen-pw')).status, 200);
  });

  it('a real pbx start applies the staged restore before it opens the store', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-restore-')), 'b.sqlite');
    await web.store.backup(file);
    web.store.extensions.add({ number: '103', displayName: 'Carol', secret: 'carol-secret-3' });
    const client = new WebClient(web);
    await client.login('admin', 'admin-chosen-pw');
    assert.equal((await client.upload('/api/restore', fs.readFileSync(file))).status, 201);
    const app = await startPbx(loadConfig({ PBX_DATA_DIR: web.dataDir, PBX_SIP_PORT: '0' }), { log: silentLogger(), print: () => undefined });
    try {
      assert.equal(app.store.extensions.get('103'), null, 'the pbx runs on the restored configuration');
      assert.equal(web.store.extensions.get('103'), null, 'and the web process sees it');
      assert.equal(fs.existsSync(path.join(web.dataDir, 'restore', 'staged.sqlite')), false, 'applied once');
    } finally {
      await app.stop();
    }
  });

  it('lets an admin cancel a staged restore; an end user cannot upload', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-restore-')), 'b.sqlite');
    await web.store.backup(file);
    const admin2 = new WebClient(web);
    await admin2.login('admin', 'admin-chosen-pw');
    assert.equal((await admin2.upload('/api/restore', fs.readFileSync(file))).status, 201);
    assert.equal((await admin2.request('DELETE', '/api/restore')).status, 200);
    assert.equal((await admin2.request<{ staged: unknown }>('GET', '/api/restore')).body.staged, null);
    web.store.users.add({ username: 'eve', displayName: 'Eve', role: 'user', extension: '101', password: 'eve-first-pw' });
    const eve = new WebClient(web);
    await eve.login('eve', 'eve-first-pw');
    const fw = await eve.upload('/api/firmware', Buffer.alloc(100, 1));
    const rs = await eve.upload('/api/restore', fs.readFileSync(file));
    assert.equal(fw.status, 403);
    assert.equal(rs.status, 403);
    assert.equal((await admin2.request<{ staged: unknown }>('GET', '/api/restore')).body.staged, null);
  });
});
