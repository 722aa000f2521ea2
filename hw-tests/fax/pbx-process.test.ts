/**
 * The virtual fax line in the real pbx process (services/pbx/main.js, wired by app.ts): a fax to
 * the user's fax number over T.38 becomes a 2-page PDF, and `pbxctl fax send` goes out through the
 * trunk to the carrier-side spandsp machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../services/store/index.js';
import { FaxPeer } from '../support/fax-peer.js';
import { until } from '../support/rtp-phone.js';
import { createRuntimePbx, type RuntimePbx } from '../runtime/harness.js';
import { makePdf, pdfPageCount, pdfToFaxTiff, tiffPageCount } from './documents.js';

const PBXCTL = fileURLToPath(new URL('../../bin/pbxctl.js', import.meta.url));
const CARRIER_IP = '127.0.0.2';
const ANA = { number: '101', secret: 'ana-secret-0101' };

describe('virtual fax line in the pbx process', () => {
  let pbx: RuntimePbx;
  let machine: FaxPeer;
  let work: string;
  let pdf: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-proc-'));
    pdf = makePdf(work, 2);
    machine = await FaxPeer.open(CARRIER_IP);
    pbx = await createRuntimePbx([ANA], { country: 'FR' }, {
      prepare(dir) {
        const store = openStore(dir);
        store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: machine.port });
        store.numbers.add('+33142345609', { kind: 'fax', extension: '101' });
        store.close();
      },
    });
  });

  after(async () => {
    await machine.close();
    await pbx.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const faxes = () => {
    const store = openStore(pbx.dir);
    try {
      return store.faxes.list();
    } finally {
      store.close();
    }
  };

  test('received over T.38 and stored as a PDF', async () => {
    const tiff = pdfToFaxTiff(pdf, path.join(work, 'doc.tif'));
    const result = await machine.send({ pbx: { address: '127.0.0.1', port: pbx.port }, number: '0142345609', from: '+33155550123', tiff, ident: 'SENDER 1', t38: 'accept' });
    assert.equal(result.transport, 't38');
    assert.equal(result.status.pagesTx, 2);
    await until(() => faxes().some((f) => f.direction === 'in'), 15_000, 'the faxes row');
    const fax = faxes().find((f) => f.direction === 'in');
    assert.deepEqual([fax?.status, fax?.pages, fax?.remoteIdent, fax?.transport], ['received', 2, 'SENDER 1', 't38']);
    assert.equal(pdfPageCount(path.join(pbx.dir, fax?.document ?? '')), 2);
  });

  test('pbxctl fax send goes out through the trunk', async () => {
    const received = path.join(work, 'rx.tif');
    const reception = machine.receive({ tiff: received, ident: 'RECEIVER 2' });
    const queued = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [PBXCTL, '--data-dir', pbx.dir, 'fax', 'send', '101', '0155550199', pdf], (error, _out, stderr) => resolve({ code: error ? 1 : 0, stderr })),
    );
    assert.equal(queued.code, 0, queued.stderr);
    const result = await reception;
    assert.equal(result.status.pagesRx, 2);
    assert.equal(tiffPageCount(received), 2);
    await until(() => faxes().some((f) => f.direction === 'out' && f.status === 'sent'), 15_000, 'the fax marked sent');
  });
});
