/**
 * The virtual fax line, receiving: a fax machine behind the carrier (a second spandsp instance on
 * 127.0.0.2, real RTP/UDPTL sockets) calls the user's fax number +33 1 42 34 56 09 (mapped to
 * `fax:101`) and sends a 3-page document made by ghostscript. The PBX answers with its own modem,
 * offers T.38; the pages must arrive as a 3-page PDF (pdfinfo), with the sender's TSI in the `faxes`
 * row and an email with the PDF in the outbox.
 *  - over T.38 (the machine accepts the re-INVITE: UDPTL both ways);
 *  - over G.711 (the machine refuses T.38 with 488: the PBX's audio modem carries on).
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
import { makePdf, pdfPageCount, pdfToFaxTiff } from './documents.js';

const PBXCTL = fileURLToPath(new URL('../../bin/pbxctl.js', import.meta.url));
const CARRIER_IP = '127.0.0.2';
const ANA = { number: '101', secret: 'ana-secret-0101' };
const FAX_NUMBER = '+33142345609';
const SENDER_TSI = '+33 1 55 55 01 23';

describe('virtual fax line: receiving through the carrier trunk', () => {
  let pbx: TrunkTestPbx;
  let machine: FaxPeer;
  let work: string;
  let tiff: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-rx-'));
    tiff = pdfToFaxTiff(makePdf(work, 3), path.join(work, 'document.tif'));
    machine = await FaxPeer.open(CARRIER_IP);
    pbx = await startTrunkTestPbx({
      country: 'FR',
      extensions: [ANA],
      setup(store) {
        store.trunks.add({ name: 'carrier', host: CARRIER_IP, port: machine.port });
        store.numbers.add(FAX_NUMBER, { kind: 'fax', extension: '101' });
        store.voicemail.setBox('101', { email: 'ana@office.test' });
      },
    });
  });

  after(async () => {
    await machine.close();
    await pbx.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  for (const t38 of ['accept', 'refuse'] as const) {
    test(`a 3-page fax arrives as a 3-page PDF (${t38 === 'accept' ? 'T.38' : 'G.711, T.38 refused with 488'})`, async () => {
      const before = pbx.store.faxes.list().length;
      const result = await machine.send({ pbx: pbx.address, number: '0142345609', from: '+33155550123', tiff, ident: SENDER_TSI, t38 });
      assert.equal(result.status.resultText, 'OK', `the sending machine's T.30 result: ${result.status.resultText}`);
      assert.equal(result.status.pagesTx, 3);
      assert.ok(result.t38Offer !== null && /^m=image \d+ udptl t38/m.test(result.t38Offer), 'the PBX offered T.38 (m=image udptl t38)');
      assert.match(result.t38Offer ?? '', /^a=T38FaxRateManagement:transferredTCF/m);
      assert.equal(result.transport, t38 === 'accept' ? 't38' : 'audio');
      await until(() => pbx.store.faxes.list().length > before, 15_000, 'the faxes row');
      const [fax] = pbx.store.faxes.list({ extension: '101', limit: 1 });
      assert.ok(fax);
      assert.equal(fax.status, 'received', `row: ${JSON.stringify(fax)}`);
      assert.equal(fax.direction, 'in');
      assert.equal(fax.pages, 3);
      assert.equal(fax.remoteIdent, SENDER_TSI);
      assert.equal(fax.remoteNumber, '+33155550123');
      assert.equal(fax.transport, t38 === 'accept' ? 't38' : 'audio');
      assert.ok(fax.document !== null);
      const pdf = path.join(pbx.dir, fax.document);
      assert.equal(pdfPageCount(pdf), 3, 'pdfinfo counts 3 pages');
      // Mailed through the outbox with the TSI and the page count, the PDF attached byte for byte.
      assert.ok(fax.mailId !== null, 'an email was queued');
      const mail = pbx.store.mail.get(fax.mailId);
      assert.ok(mail);
      assert.equal(mail.to, 'ana@office.test');
      assert.match(mail.subject, /\+33 1 55 55 01 23/);
      assert.match(mail.subject, /3 pages/);
      const [attachment] = pbx.store.mail.attachments(fax.mailId);
      assert.ok(attachment);
      assert.equal(attachment.contentType, 'application/pdf');
      assert.ok(attachment.content.equals(fs.readFileSync(pdf)), 'the attachment is the stored PDF');
    });
  }

  test('with `pbxctl fax t38 off` the PBX offers no T.38 and the fax comes over G.711', async () => {
    const off = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [PBXCTL, '--data-dir', pbx.dir, 'fax', 't38', 'off', '--json'], (error, stdout) => resolve({ code: error ? 1 : 0, stdout })),
    );
    assert.equal(off.code, 0);
    assert.deepEqual(JSON.parse(off.stdout), { t38: false });
    const before = pbx.store.faxes.list().length;
    const result = await machine.send({ pbx: pbx.address, number: '0142345609', from: '+33155550123', tiff, ident: SENDER_TSI, t38: 'accept' });
    assert.equal(result.t38Offer, null, 'no re-INVITE to T.38');
    assert.equal(result.status.pagesTx, 3);
    await until(() => pbx.store.faxes.list().length > before, 15_000, 'the faxes row');
    const [fax] = pbx.store.faxes.list({ extension: '101', limit: 1 });
    assert.deepEqual([fax?.status, fax?.pages, fax?.transport], ['received', 3, 'audio']);
    assert.equal(pdfPageCount(path.join(pbx.dir, fax?.document ?? '')), 3);
  });
});
