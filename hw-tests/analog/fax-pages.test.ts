/**
 * Real faxes over an analog port: the virtual board's fax machine on FXS 2 (spandsp's T.30 on the
 * port's 20 ms µ-law frames, device/sim/fax-machine.ts) and the office's virtual fax line
 * (services/fax, the pbx's own spandsp), through the serial link, the analog gateway (G.711
 * passthrough in fax mode) and the pbx.
 *  (a) the machine sends a 2-page PDF to the fax line's number (+33 1 42 34 56 09 → fax:101): the
 *      line stores a 2-page PDF, the mail reaches a real SMTP server (aiosmtpd) with that PDF, and
 *      each page, rendered by poppler, is the page sent (same size, pixels alike);
 *  (b) `pbxctl fax send 101 202 doc.pdf` (the real CLI): the pbx calls the machine's extension, the
 *      machine answers after 2 rings and prints (stores) 2 pages, which match the pages sent.
 * Both over G.711 passthrough (the default: the gateway refuses the fax line's T.38 re-INVITE), then
 * with `pbxctl fax analog-t38 on`: the gateway terminates the machine's T.30 audio in spandsp's T.38
 * gateway and the pbx's fax line speaks T.38 over UDPTL (the `faxes` rows say `t38`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test, type TestContext } from 'node:test';
import { createMailService, type MailService } from '../../services/mail/outbox.js';
import { FaxMachine } from '../../device/sim/fax-machine.js';
import { SmtpServer } from '../support/smtp-server.js';
import { makePdf, pageDifference, pdfPageCount, pdfToFaxTiff, blackPixels, renderPdfPages, renderTiffPages, tiffPageCount, type PageBitmap } from '../fax/documents.js';
import { BOARD_KIND, HIL_SERIAL, startAnalogRig, waitFor, type AnalogRig } from './harness.js';

process.stdout.write(`# analog tests on the ${BOARD_KIND}\n`);
const skip = HIL_SERIAL !== '' ? "needs the virtual board's fax machine on FXS 2" : false;

const PBXCTL = fileURLToPath(new URL('../../bin/pbxctl.js', import.meta.url));
const FAX_NUMBER = '+33142345609';
const MACHINE_TSI = '+33 1 55 55 02 02';
/** A real fax of 2 pages at 9600-14400 bit/s takes ~30-60 s; the machine answers after 2 rings. */
const FAX_MS = 150_000;

let rig: AnalogRig;
let smtp: SmtpServer;
let mail: MailService;
let work: string;
let pdf: string;
/** The pages sent, as a fax machine scans them (TIFF-F), rendered by poppler. */
let sentPages: PageBitmap[];

function machine(): FaxMachine {
  const device = rig.board.fxsDevice(2);
  assert.ok(device instanceof FaxMachine, 'a fax machine on fxs2');
  return device;
}

/** Each received page has the sent page's size and pixels (fax coding is lossless; ECM repairs errors). */
function assertSamePages(received: PageBitmap[], what: string): string {
  assert.equal(received.length, sentPages.length, `${what}: page count`);
  received.forEach((page, i) => {
    const sent = sentPages[i] as PageBitmap;
    assert.deepEqual([page.width, page.height], [sent.width, sent.height], `${what}: page ${i + 1} size in pixels`);
    assert.ok(blackPixels(page) > 1000, `${what}: page ${i + 1} has its text`);
    const diff = pageDifference(sent, page);
    assert.ok(diff < 0.005, `${what}: page ${i + 1} differs from the page sent by ${(diff * 100).toFixed(2)} % of its black pixels`);
  });
  return received.map((p, i) => `page ${i + 1} ${p.width}×${p.height}, ${(pageDifference(sentPages[i] as PageBitmap, p) * 100).toFixed(3)} % pixels differ`).join('; ');
}

function pbxctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', rig.pbx.dir, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  if (skip !== false) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'analog-fax-'));
  pdf = makePdf(work, 2);
  sentPages = renderTiffPages(pdfToFaxTiff(pdf, path.join(work, 'sent.tif')), work, 'sent');
  // The judge can tell pages apart: page 1 is not page 2 by its measure.
  assert.ok(pageDifference(sentPages[0] as PageBitmap, sentPages[1] as PageBitmap) > 0.02, 'two different pages differ (only their page number does)');
  smtp = await SmtpServer.start();
  rig = await startAnalogRig({
    country: 'FR',
    fxs: ['phone', 'fax'],
    extensions: [
      { number: '101', secret: 'secret-101-ana', name: 'Ana' },
      { number: '202', secret: 'secret-202-fax', name: 'Fax machine' },
    ],
    setup(store) {
      store.analog.assign('fxs2', '202');
      store.numbers.add(FAX_NUMBER, { kind: 'fax', extension: '101' });
      store.voicemail.setBox('101', { email: 'ana@office.test' });
    },
  });
  // The pbx's mail sender, as app.ts starts it, toward the test's SMTP server.
  mail = createMailService({
    outbox: rig.store.mail,
    smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: null, secret: null, from: 'pbx@office.test', allowInvalidCertificate: false },
    logger: rig.logger,
    pollMs: 500,
  });
  await rig.registered('202');
  machine().ident = MACHINE_TSI;
});

after(async () => {
  await mail?.close();
  await rig?.close();
  await smtp?.stop();
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

type Via = 'audio' | 't38';

async function faxToLine(t: TestContext, via: Via): Promise<void> {
  const fax = machine();
  const sentBefore = fax.faxStatus().sent.length;
  const rowsBefore = rig.store.faxes.list({ extension: '101' }).filter((f) => f.direction === 'in').length;
  const mailsBefore = smtp.received().length;
  await fax.send(pdf, '0142345609');
  const port = rig.gateway.fxsPort('fxs2');
  await waitFor(() => port?.detail() ?? '', (d) => d.includes(via === 't38' ? 'fax mode (T.38)' : 'fax mode'), 30_000, `fax mode on fxs2 (${via})`);
  const report = await waitFor(() => fax.faxStatus(), (s) => s.state === 'idle' && s.sent.length === sentBefore + 1, FAX_MS, 'the machine done sending');
  const sent = report.sent[sentBefore];
  assert.ok(sent);
  assert.equal(sent.resultText, 'OK', `the machine's T.30 result: ${JSON.stringify(sent)}`);
  assert.equal(sent.pagesTx, 2);
  assert.equal(sent.remoteIdent, FAX_NUMBER, "the fax line's CSI is its number");
  await waitFor(() => rig.store.faxes.list({ extension: '101' }).filter((f) => f.direction === 'in').length, (n) => n > rowsBefore, 15_000, 'the faxes row');
  const [row] = rig.store.faxes.list({ extension: '101', limit: 1 });
  assert.ok(row && row.document !== null, `row: ${JSON.stringify(row)}`);
  assert.deepEqual([row.status, row.direction, row.pages, row.remoteIdent, row.transport], ['received', 'in', 2, MACHINE_TSI, via]);
  const stored = path.join(rig.pbx.dir, row.document);
  assert.equal(pdfPageCount(stored), 2, 'pdfinfo counts 2 pages');
  t.diagnostic(`${sent.bitRate} bit/s${sent.ecm ? ' ECM' : ''}; ${assertSamePages(renderPdfPages(stored, work, `received-a-${via}`), 'the PDF stored by the fax line')}`);
  // Mailed through the outbox to a real SMTP server, the PDF attached byte for byte.
  const message = (await smtp.waitFor(mailsBefore + 1, 30_000))[mailsBefore];
  assert.ok(message);
  assert.deepEqual(message.rcptTos, ['ana@office.test']);
  assert.match(message.subject, /\+33 1 55 55 02 02/);
  assert.match(message.subject, /2 pages/);
  const attachment = message.attachments.find((a) => a.contentType === 'application/pdf');
  assert.ok(attachment, 'a PDF attachment');
  assert.ok(attachment.content.equals(fs.readFileSync(stored)), 'the attachment is the stored PDF');
}

async function faxToMachine(t: TestContext, via: Via): Promise<void> {
  const fax = machine();
  const receivedBefore = fax.faxStatus().received.length;
  const queued = await pbxctl(['fax', 'send', '101', '202', pdf, '--json']);
  assert.equal(queued.code, 0, queued.stderr);
  const job = JSON.parse(queued.stdout) as { id: number; status: string; pages: number };
  assert.deepEqual([job.status, job.pages], ['queued', 2]);
  await waitFor(() => fax.status().ringing, (r) => r, 20_000, 'the fax machine rings');
  const port = rig.gateway.fxsPort('fxs2');
  await waitFor(() => port?.detail() ?? '', (d) => d.includes(via === 't38' ? 'fax mode (T.38)' : 'fax mode'), 30_000, `fax mode on fxs2 (${via})`);
  const report = await waitFor(() => fax.faxStatus(), (s) => s.state === 'idle' && s.received.length === receivedBefore + 1, FAX_MS, 'the machine done receiving');
  const received = report.received[receivedBefore];
  assert.ok(received && received.file !== null, `received: ${JSON.stringify(received)}`);
  assert.equal(received.resultText, 'OK');
  assert.equal(received.pagesRx, 2);
  assert.equal(received.remoteIdent, FAX_NUMBER, "the fax line's TSI is its number");
  assert.equal(tiffPageCount(received.file), 2, 'tiffinfo counts 2 pages in what the machine stored');
  t.diagnostic(`${received.bitRate} bit/s${received.ecm ? ' ECM' : ''}; ${assertSamePages(renderTiffPages(received.file, work, `received-b-${via}`), 'the pages the machine received')}`);
  await waitFor(() => rig.store.faxes.get(job.id)?.status, (s) => s === 'sent', 15_000, 'the fax marked sent');
  assert.deepEqual([rig.store.faxes.get(job.id)?.pages, rig.store.faxes.get(job.id)?.transport], [2, via]);
}

test('G.711: the fax machine on FXS 2 sends 2 pages to the office fax line: a 2-page PDF, mailed, the same pages', { skip, timeout: FAX_MS + 60_000 }, (t) => faxToLine(t, 'audio'));

test('G.711: pbxctl fax send from the fax line to the analog fax machine: it receives the 2 pages', { skip, timeout: FAX_MS + 60_000 }, (t) => faxToMachine(t, 'audio'));

test('pbxctl fax analog-t38 on: the gateway relays T.38 (spandsp T.38 gateway on the port), both directions', { skip, timeout: 2 * FAX_MS + 60_000 }, async (t) => {
  const bad = await pbxctl(['fax', 'analog-t38', 'maybe']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /on or off/);
  assert.match((await pbxctl(['fax', 'analog-t38'])).stdout, /T\.38 relay on the analog fax ports: off/);
  const on = await pbxctl(['fax', 'analog-t38', 'on', '--json']);
  assert.equal(on.code, 0, on.stderr);
  assert.deepEqual(JSON.parse(on.stdout), { analogT38: true });
  await t.test('the machine sends to the fax line over T.38', (s) => faxToLine(s, 't38'));
  await t.test('the fax line sends to the machine over T.38', (s) => faxToMachine(s, 't38'));
});
