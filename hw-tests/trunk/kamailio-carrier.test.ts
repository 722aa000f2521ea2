/**
 * Kamailio 5.6 with auth_db as a registration-based carrier (hw-tests/trunk/carrier-kamailio.cfg on
 * 127.0.0.3), a sip.js phone registered to it as "the rest of the world", and the office (country US)
 * configured with the real pbxctl commands while the pbx runs:
 *   - the trunk registers with digest auth and refreshes before its binding expires;
 *   - the far phone calls the office's number (212) 555-0101 → extension 101 answers, audio both ways;
 *   - 101 dials 212 555 0199 → our INVITE is challenged (407) and answered with the trunk's credentials,
 *     the far phone sees +12125550199 and 101's direct number, audio both ways;
 *   - 102 (no international permission) dials 911: it goes out with 102's own number;
 *   - 102 dials 011 44 20 7946 0000: 403, the carrier never sees it;
 *   - 101 forwards to 212 555 0199: the far phone's call to 101 comes back to it with its caller ID
 *     and a Diversion header; 101 dials *67: anonymous From, the real number in P-Asserted-Identity.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Invitation } from 'sip.js/lib/api/index.js';
import { createKamailioDb } from '../support/sip-servers.js';
import { freePortBoth, portIsFree } from '../support/sipp.js';
import { describeLevels, levels, sleep } from '../media/harness.js';
import { SipPhone, withTimeout, type PhoneCall } from '../support/sip-phone.js';
import { startTrunkTestPbx, type TrunkTestPbx } from './harness.js';
import { placeRefusedCall } from './refused-call.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
const CARRIER_IP = '127.0.0.3';
const REALM = 'carrier.test';
const TRUNK = { user: 'officepbx', password: 'trunk-secret-0001' };
const FAR = { user: 'farend', password: 'farend-secret-01' };
/** A second account, registered over TCP. */
const TCP_TRUNK = { user: 'officetcp', password: 'trunk-secret-0002' };
const ALICE = { number: '101', secret: 'alice-secret-101' };
const BOB = { number: '102', secret: 'bravo-secret-102' };
const PBXCTL = path.join(REPO_ROOT, 'dist', 'bin', 'pbxctl.js');

function pbxctl(dir: string, args: string[], input?: string): string {
  return execFileSync(process.execPath, [PBXCTL, '--data-dir', dir, ...args], { encoding: 'utf8', ...(input !== undefined && { input }) });
}

async function startCarrier(workDir: string): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  const port = await freePortBoth(CARRIER_IP);
  const dbFile = path.join(workDir, 'carrier.sqlite');
  createKamailioDb(dbFile, [TRUNK, FAR, TCP_TRUNK].map((u) => ({ user: u.user, password: u.password })), REALM);
  const cfg = fs
    .readFileSync(path.join(REPO_ROOT, 'hw-tests', 'trunk', 'carrier-kamailio.cfg'), 'utf8')
    .replaceAll('__DEBUG__', process.env.CARRIER_DEBUG ?? '1')
    .replaceAll('__REALM__', REALM)
    .replaceAll('__HOST__', CARRIER_IP)
    .replaceAll('__PORT__', String(port))
    .replaceAll('__MPATH__', '/usr/lib/x86_64-linux-gnu/kamailio/modules')
    .replaceAll('__DBFILE__', dbFile)
    .replaceAll('__MAX_EXPIRES__', '3600')
    .replaceAll('__TRUNK_USER__', TRUNK.user)
    .replaceAll('__FAR_USER__', FAR.user);
  const cfgFile = path.join(workDir, 'carrier.cfg');
  fs.writeFileSync(cfgFile, cfg);
  const child = spawn('kamailio', ['-f', cfgFile, '-DD', '-E', '-m', '64', '-M', '8', '-P', path.join(workDir, 'kamailio.pid'), '-Y', workDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const add = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const deadline = Date.now() + 20_000;
  while (await portIsFree('udp', port, CARRIER_IP)) {
    if (child.exitCode !== null) throw new Error(`kamailio exited at start:\n${out.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`kamailio did not listen within 20 s:\n${out.slice(-3000)}`);
    await sleep(50);
  }
  return { port, child, output: () => out };
}

function headerUser(call: PhoneCall, header: 'From' | 'To'): string | undefined {
  const request = (call.session as Invitation).request;
  const uri = header === 'From' ? request.from.uri : request.to.uri;
  return uri.user;
}

/** Each side sends its tone for a while; returns the levels each heard of both tones. */
async function listenBothWays(a: PhoneCall, b: PhoneCall): Promise<{ aHears: number[]; bHears: number[] }> {
  a.media.setSignal({ kind: 'tones', freqs: [1000] });
  b.media.setSignal({ kind: 'tones', freqs: [1500] });
  await sleep(600);
  const from = performance.now();
  await sleep(1500);
  const to = performance.now();
  const freqs = [1000, 1500];
  return { aHears: levels(a.media.pcmBetween(from, to), freqs), bHears: levels(b.media.pcmBetween(from, to), freqs) };
}

describe('registration-based carrier: Kamailio with auth_db', () => {
  let pbx: TrunkTestPbx;
  let carrier: { port: number; child: ChildProcess; output: () => string };
  let far: SipPhone;

  before(async () => {
    pbx = await startTrunkTestPbx({ country: 'US', extensions: [ALICE, BOB] });
    carrier = await startCarrier(pbx.dir);
    far = await SipPhone.start({ user: FAR.user, password: FAR.password, pbx: { address: CARRIER_IP, port: carrier.port } });
    await far.register();
    // The technician's commands, on the running pbx's data directory.
    pbxctl(pbx.dir, ['trunk', 'add', 'carrier', '--host', CARRIER_IP, '--port', String(carrier.port), '--username', TRUNK.user, '--secret', '-'], TRUNK.password);
    pbxctl(pbx.dir, ['extension', 'set', '101', '--did', '(212) 555-0101']);
    pbxctl(pbx.dir, ['extension', 'set', '102', '--did', '212-555-0102']);
    pbxctl(pbx.dir, ['number', 'add', '2125550100', '--to', 'extension:101']);
    pbxctl(pbx.dir, ['number', 'main', '2125550100']);
  });

  after(async () => {
    await far?.stop();
    await pbx?.close();
    if (carrier !== undefined && carrier.child.exitCode === null) {
      const closed = new Promise((r) => carrier.child.once('close', r));
      carrier.child.kill('SIGTERM');
      await closed;
    }
  });

  test('the trunk registers with digest auth and refreshes before its 4 s binding expires', async () => {
    const deadline = Date.now() + 10_000;
    let status = pbx.sip.trunks.status()[0];
    while (status?.state !== 'registered' && Date.now() < deadline) {
      await sleep(100);
      status = pbx.sip.trunks.status()[0];
    }
    assert.equal(status?.state, 'registered', `trunk state ${JSON.stringify(status)}\n${carrier.output().slice(-2000)}`);
    assert.equal(status.kind, 'registration');
    assert.ok(status.expiresAt !== null && status.expiresAt - Date.now() <= 4000, 'the carrier granted 4 s');
    await sleep(5000);
    const later = pbx.sip.trunks.status()[0];
    assert.equal(later?.state, 'registered', 'still registered after the first binding would have expired');
    const refreshes = (carrier.output().match(/carrier: REGISTER from officepbx/g) ?? []).length;
    assert.ok(refreshes >= 2, `re-registered before expiry (${refreshes} REGISTERs accepted)`);
  });

  test('the far phone calls (212) 555-0101 through the carrier: extension 101 answers, audio both ways', async () => {
    const alice = await pbx.phone(ALICE.number);
    const [outgoing, answered] = await far.callAnswered(alice, '+12125550101');
    assert.equal(answered.session.remoteIdentity.uri.user, FAR.user, 'the carrier\'s caller reaches 101');
    const { aHears, bHears } = await listenBothWays(outgoing, answered);
    console.log(`far phone heard ${describeLevels([1000, 1500], aHears)}; 101 heard ${describeLevels([1000, 1500], bHears)}`);
    assert.ok((aHears[1] as number) > -20, 'the far phone hears 101');
    assert.ok((bHears[0] as number) > -20, '101 hears the far phone');
    assert.equal(pbx.sip.calls()[0]?.trunk, 'carrier');
    // 101 hangs up: the BYE goes back through the carrier's Record-Route to the far phone.
    await alice.hangUp(answered);
    await withTimeout(outgoing.ended, 5000, 'the far phone got the BYE');
  });

  test('101 dials 212 555 0199: challenged by the carrier, answered with the trunk credentials; E.164 and 101\'s number arrive', async () => {
    const alice = await pbx.phone(ALICE.number);
    const incoming = far.nextIncoming();
    const outgoing = await alice.call('2125550199').catch((error: unknown) => {
      if (process.env.CARRIER_DEBUG !== undefined) fs.writeFileSync(path.join(os.tmpdir(), 'carrier-debug.log'), carrier.output());
      throw new Error(`${String(error)}\ncarrier log:\n${carrier.output().slice(-3000)}`);
    });
    const answered = await incoming;
    await answered.established;
    assert.equal(headerUser(answered, 'To'), '+12125550199', 'the carrier got the number in E.164');
    assert.equal(headerUser(answered, 'From'), '+12125550101', 'caller ID is 101\'s direct number');
    assert.match(carrier.output(), /carrier: INVITE from officepbx to \+12125550199/, 'the carrier authenticated our INVITE as the trunk');
    const { aHears, bHears } = await listenBothWays(outgoing, answered);
    assert.ok((aHears[1] as number) > -20, `101 hears the far phone (${describeLevels([1000, 1500], aHears)})`);
    assert.ok((bHears[0] as number) > -20, `the far phone hears 101 (${describeLevels([1000, 1500], bHears)})`);
    await alice.hangUp(outgoing);
    await withTimeout(answered.ended, 5000, 'the far phone got the BYE');
  });

  test('102, without international permission, dials 911: the call goes out with 102\'s own number', async () => {
    const bob = await pbx.phone(BOB.number);
    const [outgoing, answered] = await bob.callAnswered(far, '911');
    assert.equal(headerUser(answered, 'To'), '911');
    assert.equal(headerUser(answered, 'From'), '+12125550102');
    // The far end hangs up this time.
    await far.hangUp(answered);
    await withTimeout(outgoing.ended, 5000, '102 got the BYE');
  });

  test('102 dials 011 44 20 7946 0000: 403, and the carrier never sees the call', async () => {
    const bob = await pbx.phone(BOB.number);
    const before = (carrier.output().match(/carrier: INVITE from officepbx/g) ?? []).length;
    const refused = await placeRefusedCall(bob, '011442079460000', pbx.address);
    assert.equal(refused.status, 403);
    assert.ok(refused.heard.length > 8000, `the caller heard the prompt in early media (${refused.heard.length} samples)`);
    await sleep(200);
    assert.equal((carrier.output().match(/carrier: INVITE from officepbx/g) ?? []).length, before, 'no INVITE reached the carrier');
  });

  test('a second trunk over TCP registers too; removed with pbxctl, it unregisters (Expires: 0)', async () => {
    pbxctl(pbx.dir, ['trunk', 'add', 'carrier-tcp', '--host', CARRIER_IP, '--port', String(carrier.port), '--transport', 'tcp', '--username', TCP_TRUNK.user, '--secret', TCP_TRUNK.password]);
    const deadline = Date.now() + 10_000;
    let status = pbx.sip.trunks.status().find((t) => t.name === 'carrier-tcp');
    while (status?.state !== 'registered' && Date.now() < deadline) {
      await sleep(100);
      status = pbx.sip.trunks.status().find((t) => t.name === 'carrier-tcp');
    }
    assert.equal(status?.state, 'registered', `${JSON.stringify(status)}\n${carrier.output().slice(-2000)}`);
    assert.equal(status.transport, 'tcp');
    assert.match(carrier.output(), /carrier: REGISTER from officetcp \(127\.0\.0\.1:\d+\)/);
    pbxctl(pbx.dir, ['trunk', 'remove', 'carrier-tcp']);
    const gone = Date.now() + 5000;
    while (!/carrier: REGISTER from officetcp \([^)]*\) expires 0/.test(carrier.output()) && Date.now() < gone) await sleep(100);
    assert.match(carrier.output(), /carrier: REGISTER from officetcp \([^)]*\) expires 0/, 'the binding was removed at the carrier');
    assert.deepEqual(pbx.sip.trunks.status().map((t) => t.name), ['carrier']);
  });

  test('each of these calls has its record (CDR) with the number and the trunk', () => {
    const rows = pbx.store.cdr.list().map((r) => [r.caller, r.callee, r.dialled, r.trunk, r.disposition, r.status]);
    assert.deepEqual(rows, [
      ['farend', '101', '+12125550101', 'carrier', 'answered', null],
      ['101', '+12125550199', '+12125550199', 'carrier', 'answered', null],
      ['102', '911', '911', 'carrier', 'answered', null],
      ['102', 'refused-403', '+442079460000', null, 'failed', 403],
    ]);
  });

  test('101 forwards to 212 555 0199 (pbxctl): the far phone calls 101\'s number and gets its own call back, with its caller ID kept and a Diversion naming 101', async () => {
    pbxctl(pbx.dir, ['extension', 'set', '101', '--forward-always', '2125550199']);
    const [outgoing, answered] = await far.callAnswered(far, '+12125550101');
    const request = (answered.session as Invitation).request;
    assert.equal(headerUser(answered, 'To'), '+12125550199', 'forwarded to the number set');
    assert.equal(headerUser(answered, 'From'), FAR.user, "the original caller's ID is kept");
    assert.match(request.getHeader('Diversion') ?? '', /^<sip:\+12125550101@127\.0\.0\.3>;reason=unconditional;counter=1;privacy=off$/, 'Diversion names 101 (RFC 5806)');
    const { aHears, bHears } = await listenBothWays(outgoing, answered);
    assert.ok((aHears[1] as number) > -20 && (bHears[0] as number) > -20, `audio both ways through the carrier twice (${describeLevels([1000, 1500], aHears)} / ${describeLevels([1000, 1500], bHears)})`);
    await far.hangUp(outgoing);
    await withTimeout(answered.ended, 5000, 'the forwarded leg got the BYE');
    pbxctl(pbx.dir, ['extension', 'set', '101', '--forward-always', 'none']);
  });

  test('101 dials *67 212 555 0199: the far phone sees an anonymous caller; the carrier gets 101\'s number in P-Asserted-Identity', async () => {
    const alice = await pbx.phone(ALICE.number);
    const [outgoing, answered] = await alice.callAnswered(far, '*672125550199');
    const request = (answered.session as Invitation).request;
    assert.equal(headerUser(answered, 'From'), 'anonymous');
    assert.equal(request.getHeader('Privacy'), 'id');
    assert.match(request.getHeader('P-Asserted-Identity') ?? '', /<sip:\+12125550101@127\.0\.0\.3>$/);
    assert.match(carrier.output(), /carrier: INVITE from officepbx to \+12125550199/, 'accepted by the carrier as the trunk');
    await alice.hangUp(outgoing);
    await withTimeout(answered.ended, 5000, 'the far phone got the BYE');
  });
});
