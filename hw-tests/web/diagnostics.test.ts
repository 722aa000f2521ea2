/**
 * Live diagnostics against a real pbx process: the SIP trace streamed as Server-Sent Events and
 * filtered by extension (a phone registering shows up, another phone's messages do not), the
 * lease ending when the browser goes away, the port test, and one-way audio found in the records.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CtlClient } from '../../services/ctl/client.js';
import '../../services/ctl/trace.js';
import { openStore } from '../../services/store/index.js';
import { register, sleep, UdpPeer } from '../support/sip-peer.js';
import { startPbx, type SipServerUnderTest } from '../support/sip-servers.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

describe('web diagnostics against a running pbx', { timeout: 120_000 }, () => {
  let work: string;
  let pbx: SipServerUnderTest;
  let web: WebUnderTest;
  let admin: WebClient;
  const phones: UdpPeer[] = [];

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-diag-'));
    const dataDir = path.join(work, 'pbx-data');
    fs.mkdirSync(dataDir, { recursive: true });
    const seed = openStore(dataDir);
    seedAdmin(seed);
    seed.users.setPassword(seed.users.byUsername('admin')!.id, 'admin-own-pw', false);
    seed.close();
    pbx = await startPbx({ users: [{ user: '101', password: 'secret-101-x' }, { user: '102', password: 'secret-102-x' }], workDir: work });
    web = await startWebUi({ dataDir });
    admin = new WebClient(web);
    assert.equal((await admin.login('admin', 'admin-own-pw')).status, 200);
  });
  after(async () => {
    for (const p of phones) p.close();
    await web?.close();
    await pbx?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('streams the SIP trace of one extension only, and stops tracing when the reader leaves', async () => {
    const events: Array<{ direction: string; text: string }> = [];
    let buffer = '';
    const req = https.request({
      host: '127.0.0.1',
      port: web.port,
      path: '/api/diagnostics/trace?filter=101',
      method: 'GET',
      ca: web.ca,
      servername: 'localhost',
      headers: { cookie: admin.cookie ?? '', accept: 'text/event-stream' },
    });
    const opened = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (data) events.push(JSON.parse(data.slice(6)) as { direction: string; text: string });
          }
        });
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    req.end();
    assert.equal(await opened, 200);
    await sleep(300);
    for (const [user, password] of [['102', 'secret-102-x'], ['101', 'secret-101-x']] as const) {
      const phone = await UdpPeer.open();
      phones.push(phone);
      const res = await register(phone, { port: pbx.port }, { user, contacts: [`<sip:${user}@127.0.0.1:${phone.port}>`], expires: 300 }, { password });
      assert.equal(res.final?.message.status, 200);
    }
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !events.some((e) => e.direction === 'out' && e.text.startsWith('SIP/2.0 200'))) await sleep(50);
    const lines = events.map((e) => `${e.direction} ${e.text.split('\r\n')[0]}`);
    assert.ok(lines.some((l) => l.startsWith('in REGISTER sip:')), lines.join('\n'));
    assert.ok(lines.some((l) => l === 'out SIP/2.0 401 Unauthorized'), lines.join('\n'));
    assert.ok(lines.some((l) => l === 'out SIP/2.0 200 OK'), lines.join('\n'));
    assert.ok(events.every((e) => /sip:101@/.test(e.text)), 'only 101');
    assert.ok(!events.some((e) => /sip:102@/.test(e.text)), "102's messages are filtered out");
    req.destroy();
    // The web gave its lease back when the reader left: a lease of our own is then the only one,
    // and when it runs out the pbx stops tracing by itself.
    await sleep(300);
    const ctl = await CtlClient.connect(path.join(web.dataDir, 'pbx.sock'));
    try {
      const own = await ctl.request('trace.start', { seconds: 1 });
      assert.ok(own.until > Date.now());
      await sleep(1300);
      const after = await ctl.request('trace.stop', { lease: own.lease });
      // Still tracing here would mean the web's 30 s lease was never given back.
      assert.equal(after.tracing, false, 'no lease left once ours ended');
    } finally {
      ctl.close();
    }
  });

  it('tests the ports: every SIP listener of the pbx answers', async () => {
    const res = await admin.request<{ pbx: boolean; checks: Array<{ name: string; ok: boolean }> }>('GET', '/api/diagnostics/ports');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.pbx, true);
    assert.deepEqual(res.body.checks.map((c) => [c.name, c.ok]), [['sip-udp', true], ['sip-tcp', true], ['sip-tls', true], ['sip-ws', true], ['sip-wss', true]]);
  });

  it('finds one-way audio in the call records and says what to fix', async () => {
    web.store.cdr.add({
      callId: 'one-way-1',
      caller: '101',
      callee: '102',
      startedAt: Date.now() - 60_000,
      answeredAt: Date.now() - 50_000,
      legs: [
        { side: 'caller', party: '101', callId: 'one-way-1', address: 'udp:203.0.113.7:5062', quality: { packetsIn: 0, packetsOut: 500, lost: 0, jitterMs: 0 } },
        { side: 'callee', party: '102', callId: 'one-way-1b', address: 'udp:127.0.0.1:5070', quality: { packetsIn: 500, packetsOut: 0, lost: 0, jitterMs: 1 } },
      ],
      endedAt: Date.now() - 40_000,
      disposition: 'answered',
      status: 200,
      reason: 'bye',
    });
    const res = await admin.request<{ findings: Array<{ code: string; party: string; subject: string }> }>('GET', '/api/diagnostics/network');
    assert.deepEqual(res.body.findings.map((f) => [f.code, f.party, f.subject]), [['one-way-audio', '101', 'one-way-1']]);
  });
});
