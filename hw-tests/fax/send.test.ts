/**
 * The virtual fax line, sending: `pbxctl fax send 101 01 55 55 01 99 document.pdf` (the real CLI on
 * the pbx's data dir) queues a 3-page PDF; the pbx places the call through the carrier trunk as
 * extension 101 with its fax number as caller ID, and a spandsp fax machine on the carrier side
 * (127.0.0.2) receives 3 pages (tiffinfo counts them). `pbxctl fax list --json` shows it sent.
 * The international permission applies: refused by pbxctl, and by the pbx for a row queued by
 * another way (final failure, no call to the carrier).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { FaxPeer } from '../support/fax-peer.js';
import { until } from '../support/rtp-phone.js';
import { startTrunkTestPbx, type TrunkTestPbx } from '../trunk/harness.js';
import { makePdf, tiffPageCount } from './documents.js';

const PBXCTL = fileURLToPath(new URL('../../bin/pbxctl.js', import.meta.url));
const CARRIER_IP = '127.0.0.2';
const ANA = { number: '101', secret: 'ana-secret-0101' };
const FAX_NUMBER = '+33142345609';
const REMOTE_CSI = '+33 1 55 55 01 99';

function pbxctl(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dataDir, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('virtual fax line: sending with pbxctl fax send through the carrier trunk', () => {
  let pbx: TrunkTestPbx;
  let machine: FaxPeer;
  let work: string;
  let pdf: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-tx-'));
    pdf = makePdf(work, 3);
    machine = await FaxPeer.open(CARRIER_IP);
    pbx = await startTrunkTestPbx({
      country: 'FR',
      extensions: [ANA],
      setup(store) {
        store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: machine.port });
        store.numbers.add(FAX_NUMBER, { kind: 'fax', extension: '101' });
      },
    });
  });

  after(async () => {
    await machine.close();
    await pbx.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a 3-page PDF is sent and the carrier-side fax machine receives 3 pages', async () => {
    const received = path.join(work, 'received.tif');
    const reception = machine.receive({ tiff: received, ident: REMOTE_CSI, timeoutMs: 120_000 });
    const queued = await pbxctl(pbx.dir, ['fax', 'send', '101', '01 55 55 01 99', pdf, '--json']);
    assert.equal(queued.code, 0, queued.stderr);
    const job = JSON.parse(queued.stdout) as { id: number; status: string; pages: number };
    assert.equal(job.status, 'queued');
    assert.equal(job.pages, 3);
    const result = await reception;
    assert.equal(result.requestUser, '+33155550199', 'the carrier gets the number in E.164');
    assert.equal(result.caller, FAX_NUMBER, 'the fax number is the caller ID');
    assert.equal(result.status.resultText, 'OK', `the receiving machine's T.30 result: ${result.status.resultText}`);
    assert.equal(result.status.pagesRx, 3);
    assert.equal(result.status.remoteIdent, '+33142345609', 'our TSI is the fax number');
    assert.equal(tiffPageCount(received), 3, 'tiffinfo counts 3 pages');
    await until(() => pbx.store.faxes.get(job.id)?.status === 'sent', 10_000, 'the fax marked sent');
    const listed = await pbxctl(pbx.dir, ['fax', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const [fax] = (JSON.parse(listed.stdout) as { faxes: Array<{ id: number; status: string; pages: number; faxId: string; direction: string; transport: string }> }).faxes;
    assert.ok(fax);
    assert.deepEqual({ id: fax.id, status: fax.status, pages: fax.pages, faxId: fax.faxId, direction: fax.direction, transport: fax.transport }, { id: job.id, status: 'sent', pages: 3, faxId: REMOTE_CSI, direction: 'out', transport: 'audio' });
    // The fax call has its call record, like any outside call (toll audits read them).
    const record = pbx.store.cdr.list().find((r) => r.caller === '101' && r.dialled === '+33155550199');
    assert.ok(record, 'a call record for the fax call');
    assert.equal(record.trunk, 'carrier');
    assert.ok(record.answeredAt !== null && record.endedAt !== null);
    const table = await pbxctl(pbx.dir, ['fax', 'list']);
    assert.match(table.stdout, new RegExp(`^${job.id}\\s+out\\s+101\\s+sent\\s+0155550199`, 'm'));
  });

  test('the carrier-side machine switches the call to T.38 (its re-INVITE): the pages go over UDPTL', async () => {
    const received = path.join(work, 'received-t38.tif');
    const reception = machine.receive({ tiff: received, ident: REMOTE_CSI, t38: 'initiate', timeoutMs: 120_000 });
    const queued = await pbxctl(pbx.dir, ['fax', 'send', '101', '+33155550199', pdf, '--json']);
    assert.equal(queued.code, 0, queued.stderr);
    const job = JSON.parse(queued.stdout) as { id: number };
    const result = await reception;
    assert.equal(result.t38Reinvite, 200, 'the pbx accepted T.38');
    assert.equal(result.transport, 't38');
    assert.equal(result.status.resultText, 'OK', `the receiving machine's T.30 result: ${result.status.resultText}`);
    assert.equal(result.status.pagesRx, 3);
    assert.equal(tiffPageCount(received), 3);
    await until(() => pbx.store.faxes.get(job.id)?.status === 'sent', 10_000, 'the fax marked sent');
    assert.equal(pbx.store.faxes.get(job.id)?.transport, 't38');
  });

  test('a file that is not a PDF is refused and nothing is queued', async () => {
    const text = path.join(work, 'not-a.pdf');
    fs.writeFileSync(text, 'hello, this is not a PDF\n');
    const before = pbx.store.faxes.list().length;
    const r = await pbxctl(pbx.dir, ['fax', 'send', '101', '0155550199', text]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a readable PDF/);
    assert.equal(pbx.store.faxes.list().length, before);
    assert.deepEqual(fs.readdirSync(path.join(pbx.dir, 'fax', 'tmp')), [], 'no temp file left');
  });

  test('international numbers need the permission: refused by pbxctl, and by the pbx when queued anyway', async () => {
    const refused = await pbxctl(pbx.dir, ['fax', 'send', '101', '+12025550123', pdf]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /international/);
    const invites = machine.sip.received.filter((r) => r.message?.kind === 'request' && r.message.method === 'INVITE').length;
    // Queued straight into the store (another tool, an older row): the pbx's dial plan refuses it.
    const documentDir = path.join(pbx.dir, 'fax', '101');
    const document = path.relative(pbx.dir, path.join(documentDir, fs.readdirSync(documentDir)[0] ?? 'x.pdf'));
    const image = path.relative(pbx.dir, path.join(pbx.dir, 'fax', 'outbox', fs.readdirSync(path.join(pbx.dir, 'fax', 'outbox'))[0] ?? 'x.tif'));
    const row = pbx.store.faxes.queue({ extension: '101', remoteNumber: '+12025550123', pages: 3, document, image });
    await until(() => pbx.store.faxes.get(row.id)?.status === 'failed', 10_000, 'the international fax refused');
    const failed = pbx.store.faxes.get(row.id);
    assert.match(failed?.error ?? '', /403/);
    assert.equal(failed?.attempts, 1, 'a refusal is final: no retry');
    assert.equal(machine.sip.received.filter((r) => r.message?.kind === 'request' && r.message.method === 'INVITE').length, invites, 'no INVITE reached the carrier');
  });
});
