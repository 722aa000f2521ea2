/**
 * The routing commands as the technician types them (real pbxctl process, real SQLite): trunks,
 * numbers in any usual form stored as E.164, re-pointing, the direct number and the international
 * permission, the price list; bad input gets a clear message and exit code 1, nothing is written.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import dgram from 'node:dgram';
import { parseMessage } from '../../services/sip/parser.js';
import { spawnPbx } from '../../services/pbx/spawn-pbx.js';
import { openStore } from '../../services/store/index.js';
import { responseText } from '../../hw-tests/support/sip-peer.js';
import { pbxctl as runPbxctl, type PbxctlRun } from '../../hw-tests/support/pbxctl.js';

function pbxctl(dir: string, args: string[], stdin = ''): Promise<PbxctlRun> {
  return runPbxctl(['--data-dir', dir, ...args], { stdin });
}

/** A data directory with its database, as the appliance has one (pbxctl does not create it unasked). */
function newDataDir(config?: object): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-routing-'));
  if (config !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  openStore(dir).close();
  return dir;
}

async function ok(dir: string, args: string[], stdin = ''): Promise<string> {
  const r = await pbxctl(dir, args, stdin);
  assert.equal(r.code, 0, `pbxctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('trunk add/list/remove: registering with a secret from stdin, IP peer without; secrets never listed', async () => {
  const dir = newDataDir();
  assert.match(await ok(dir, ['trunk', 'add', 'carrier', '--host', 'sip.carrier.test', '--transport', 'tls', '--username', 'office', '--secret', '-'], 'stdin-secret\n'), /registers as office/);
  assert.match(await ok(dir, ['trunk', 'add', 'peer', '--host', '192.0.2.10', '--port', '5080', '--max-calls', '30']), /IP-authenticated peer/);
  const listed = JSON.parse(await ok(dir, ['trunk', 'list', '--json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(
    listed.map((t) => [t.name, t.kind, t.host, t.port, t.transport, t.username, t.maxCalls, t.secretSet, 'secret' in t]),
    [
      ['carrier', 'registration', 'sip.carrier.test', null, 'tls', 'office', null, true, false],
      ['peer', 'ip', '192.0.2.10', 5080, 'udp', null, 30, false, false],
    ],
  );
  assert.doesNotMatch(await ok(dir, ['trunk', 'list']), /stdin-secret/);
  for (const [args, message] of [
    [['trunk', 'add', 'x', '--host', 'h', '--username', 'u'], /both --username and --secret/],
    [['trunk', 'add', 'x', '--host', 'h', '--transport', 'sctp'], /--transport must be one of udp, tcp, tls/],
    [['trunk', 'add', 'x', '--host', 'h', '--port', '70000'], /port must be 1-65535/],
    [['trunk', 'add', 'bad name', '--host', 'h'], /trunk name/],
    [['trunk', 'add', 'y', '--host', 'bad host!'], /host must be a host name or an IP address/],
  ] as const) {
    const r = await pbxctl(dir, [...args]);
    assert.equal(r.code, 1, `${args.join(' ')} → exit 1`);
    assert.match(r.stderr, message);
  }
  assert.equal((await pbxctl(dir, ['trunk', 'add', 'peer', '--host', '192.0.2.11'])).code, 2, 'duplicate name');
  await ok(dir, ['trunk', 'remove', 'peer']);
  assert.equal((await pbxctl(dir, ['trunk', 'remove', 'peer'])).code, 2);
  const store = openStore(dir);
  assert.deepEqual(store.trunks.list().map((t) => t.name), ['carrier']);
  store.close();
});

test('numbers: national forms stored as E.164, re-pointed, direct numbers, permission, prices (country MX)', async () => {
  const dir = newDataDir({ country: 'MX' });
  await ok(dir, ['extension', 'add', '101', '--name', 'Ana', '--secret', 'ana-secret-101']);
  await ok(dir, ['extension', 'add', '102', '--name', 'Beto', '--secret', 'beto-secret-102']);
  assert.match(await ok(dir, ['number', 'add', '55 1234 5670', '--to', 'receptionist:main']), /\+525512345670/);
  await ok(dir, ['number', 'main', '+52 55 1234 5670']);
  await ok(dir, ['extension', 'set', '101', '--did', '5512345678']);
  await ok(dir, ['number', 'add', '5512345679', '--to', 'extension:101']);
  await ok(dir, ['number', 'add', '5512345690', '--to', 'ring-group:sales']);
  const set = JSON.parse(await ok(dir, ['extension', 'set', '102', '--did', '55-1234-5681', '--international', 'on', '--json'])) as Record<string, unknown>;
  assert.deepEqual(set, { extension: '102', directNumber: '+525512345681', international: true });
  // Re-pointed: the next call goes to the new place (the pbx reads numbers at each call).
  await ok(dir, ['number', 'set', '5512345690', '--to', 'extension:102']);
  const list = JSON.parse(await ok(dir, ['number', 'list', '--json'])) as { numbers: Array<Record<string, unknown>>; monthlyTotal: string; currency: string; vatIncluded: boolean };
  assert.deepEqual(
    list.numbers.map((n) => [n.number, n.destination, n.user, n.main, n.monthlyPrice]),
    [
      ['+525512345670', 'receptionist:main', null, true, '0.00'],
      ['+525512345678', 'extension:101', '101', false, '0.00'],
      ['+525512345679', 'extension:101', '101', false, '9.95'],
      // 102's direct number is its included one, though the re-pointed number is older.
      ['+525512345690', 'extension:102', '102', false, '9.95'],
      ['+525512345681', 'extension:102', '102', false, '0.00'],
    ],
  );
  assert.deepEqual([list.monthlyTotal, list.currency, list.vatIncluded], ['19.90', 'EUR', true]);
  const text = await ok(dir, ['number', 'list']);
  assert.match(text, /55 1234 5679 .*9\.95 €/);
  assert.match(text, /total per month: 19\.90 € \(VAT included\)/);

  for (const [args, code, message] of [
    [['number', 'add', '123', '--to', 'extension:101'], 1, /not a valid phone number for MX/],
    [['number', 'add', '5512345699'], 1, /--to DEST is required/],
    [['number', 'add', '5512345699', '--to', 'pager:1'], 1, /unknown destination kind "pager"/],
    [['number', 'add', '5512345699', '--to', 'extension:999'], 2, /extension 999 does not exist/],
    [['number', 'add', '5512345679', '--to', 'extension:102'], 2, /already exists/],
    [['extension', 'set', '101', '--international', 'yes'], 1, /on or off/],
    [['extension', 'set', '101', '--did', '5512345681'], 2, /points to extension:102/],
    [['extension', 'set', '103', '--international', 'on'], 2, /extension 103 does not exist/],
  ] as const) {
    const r = await pbxctl(dir, [...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  await ok(dir, ['number', 'remove', '5512345678']);
  const store = openStore(dir);
  assert.equal(store.extensionRouting.get('101')?.directNumber, null, 'removing a number clears the direct number');
  assert.equal(store.extensionRouting.get('101')?.international, false, 'international is off by default');
  store.close();
});

test('pbxctl status shows each trunk live: a refused registration is "failing" with the carrier\'s answer', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-routing-'));
  // A carrier that refuses every REGISTER (wrong account), on its own loopback address.
  const carrier = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => carrier.bind(0, '127.0.0.4', resolve));
  let registers = 0;
  carrier.on('message', (data, rinfo) => {
    const parsed = parseMessage(data);
    if (!parsed.ok || parsed.message.kind !== 'request' || parsed.message.method !== 'REGISTER') return;
    registers++;
    carrier.send(responseText(parsed.message, 403, 'Forbidden'), rinfo.port, rinfo.address);
  });
  const pbx = spawnPbx({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  try {
    await pbx.waitFor(/"msg":"pbx started"/);
    await ok(dir, ['trunk', 'add', 'carrier', '--host', '127.0.0.4', '--port', String(carrier.address().port), '--username', 'office', '--secret', 'not-this-one']);
    await ok(dir, ['trunk', 'add', 'peer', '--host', '127.0.0.5']);
    let trunks: Array<Record<string, unknown>> = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const status = JSON.parse(await ok(dir, ['status', '--json'])) as { trunks?: Array<Record<string, unknown>> };
      trunks = status.trunks ?? [];
      if (trunks.length === 2 && trunks.some((t) => t.state === 'failing')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const byName = new Map(trunks.map((t) => [t.name, t]));
    assert.equal(byName.get('carrier')?.state, 'failing', JSON.stringify(trunks));
    assert.equal(byName.get('carrier')?.lastError, '403 Forbidden');
    assert.equal(byName.get('peer')?.state, 'ip-peer');
    assert.ok(registers >= 1, 'the pbx sent REGISTER to the carrier');
    const text = await ok(dir, ['status']);
    assert.match(text, /trunks: 2/);
    assert.match(text, /carrier +registration +udp:127\.0\.0\.4:\d+ +failing .*403 Forbidden/);
    // Removed while running: the pbx forgets it within a second.
    await ok(dir, ['trunk', 'remove', 'carrier']);
    const gone = Date.now() + 5000;
    let names: unknown[] = [];
    while (Date.now() < gone) {
      names = ((JSON.parse(await ok(dir, ['status', '--json'])) as { trunks: Array<{ name: string }> }).trunks ?? []).map((t) => t.name);
      if (names.length === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(names, ['peer']);
    assert.equal(await pbx.stop('SIGTERM'), 0);
  } finally {
    await pbx.stop('SIGKILL');
    carrier.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
