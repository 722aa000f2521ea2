// The outbox against a real SMTP server on loopback (aiosmtpd): delivery with a byte-identical
// attachment, a refusal kept with the server's answer, retries after a connection failure.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SmtpServer } from '../../hw-tests/support/smtp-server.js';
import type { MailConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { openStore } from '../store/index.js';
import { createMailService, describeSmtpError, type MailOutcome } from './outbox.js';

const smtpAt = (port: number): MailConfig => ({ host: '127.0.0.1', port, security: 'none', user: null, secret: null, from: 'pbx@pbx.test', allowInvalidCertificate: false });

function tempStore() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-mail-'));
  return { dir, store: openStore(dir) };
}

test('a queued mail reaches the SMTP server with its attachment byte for byte; the row keeps the history, not the blob', async (t) => {
  const server = await SmtpServer.start();
  t.after(() => server.stop());
  const { store } = tempStore();
  t.after(() => store.close());
  const mail = createMailService({ outbox: store.mail, smtp: smtpAt(server.port), logger: silentLogger(), pollMs: 200 });
  t.after(() => mail.close());
  const outcomes: MailOutcome[] = [];
  mail.onOutcome((o) => outcomes.push(o));
  const audio = crypto.randomBytes(48_000);
  const queued = mail.enqueue({ to: 'ana@pbx.test', subject: 'New voicemail from 102', text: 'Hello Ana', attachments: [{ filename: 'msg.wav', contentType: 'audio/wav', content: audio }], tag: 'voicemail:1' });
  const [received] = await server.waitFor(1);
  assert.ok(received);
  assert.deepEqual(received.rcptTos, ['ana@pbx.test']);
  assert.equal(received.mailFrom, 'pbx@pbx.test');
  assert.equal(received.subject, 'New voicemail from 102');
  assert.equal(received.attachments.length, 1);
  assert.equal(received.attachments[0]?.filename, 'msg.wav');
  assert.ok(received.attachments[0]?.content.equals(audio), 'attachment differs from what was queued');
  await mail.flush();
  const row = store.mail.get(queued.id);
  assert.equal(row?.status, 'sent');
  assert.equal(row?.attachmentInfo.length, 0, 'attachments are dropped once sent');
  assert.deepEqual(outcomes.map((o) => [o.kind, o.mail.tag]), [['sent', 'voicemail:1']]);
});

test('a 5xx refusal is final at once, with the server\'s answer on the row and in the summary', async (t) => {
  const server = await SmtpServer.start();
  t.after(() => server.stop());
  server.refuse('550 5.7.1 Relaying denied for this test');
  const { store } = tempStore();
  t.after(() => store.close());
  const mail = createMailService({ outbox: store.mail, smtp: smtpAt(server.port), logger: silentLogger(), pollMs: 200 });
  t.after(() => mail.close());
  const queued = mail.enqueue({ to: 'bo@pbx.test', subject: 's', text: 't' });
  await mail.flush();
  const row = store.mail.get(queued.id);
  assert.equal(row?.status, 'failed');
  assert.match(row?.lastError ?? '', /550 5\.7\.1 Relaying denied for this test/);
  const summary = store.mail.summary();
  assert.equal(summary.failed, 1);
  assert.match(summary.lastFailure?.error ?? '', /Relaying denied/);
  // The admin fixes the relay and retries: it goes out.
  server.accept();
  assert.ok(store.mail.retry(queued.id, Date.now()));
  await mail.flush();
  assert.equal(store.mail.get(queued.id)?.status, 'sent');
  assert.equal((await server.waitFor(1)).length, 1);
});

test('a server that is down: retried with backoff, then given up as failed', async (t) => {
  // A port nobody listens on: bind, note it, close.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const { store } = tempStore();
  t.after(() => store.close());
  const mail = createMailService({ outbox: store.mail, smtp: smtpAt(port), logger: silentLogger(), pollMs: 50, retryDelaysMs: [100, 100] });
  t.after(() => mail.close());
  const queued = mail.enqueue({ to: 'bo@pbx.test', subject: 's', text: 't' });
  await mail.flush();
  let row = store.mail.get(queued.id);
  assert.equal(row?.status, 'pending');
  assert.equal(row?.attempts, 1);
  assert.match(row?.lastError ?? '', /ECONNREFUSED|ECONNECTION/);
  const end = Date.now() + 10_000;
  while (store.mail.get(queued.id)?.status !== 'failed' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  row = store.mail.get(queued.id);
  assert.equal(row?.status, 'failed');
  assert.equal(row?.attempts, 3);
});

test('without an SMTP server, mail waits and says why; bad addresses are refused at enqueue', async (t) => {
  const { store } = tempStore();
  t.after(() => store.close());
  const mail = createMailService({ outbox: store.mail, smtp: null, logger: silentLogger(), pollMs: 50 });
  t.after(() => mail.close());
  const queued = mail.enqueue({ to: 'ana@pbx.test', subject: 's', text: 't' });
  await mail.flush();
  const row = store.mail.get(queued.id);
  assert.equal(row?.status, 'pending');
  assert.match(row?.lastError ?? '', /no SMTP server configured/);
  assert.throws(() => mail.enqueue({ to: 'not an address', subject: 's', text: 't' }), /email address/);
  assert.throws(() => mail.enqueue({ to: 'a@b.c', subject: 'two\nlines', text: 't' }), /one line/);
  assert.equal(describeSmtpError({ responseCode: 451, response: '451 try later' }).permanent, false);
  assert.equal(describeSmtpError({ responseCode: 554, response: '554 no' }).permanent, true);
});
