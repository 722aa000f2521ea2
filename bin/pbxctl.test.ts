import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openStore } from '../services/store/index.js';
import { spawnPbx } from '../services/pbx/spawn-pbx.js';
import { pbxctl as runPbxctl, type PbxctlRun } from '../hw-tests/support/pbxctl.js';

function pbxctl(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<PbxctlRun> {
  return runPbxctl(args, { env, stdin });
}

/** A data dir holding an appliance database (pbxctl refuses one without, unless --init). */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-ctl-cli-'));
  openStore(dir).close();
  return dir;
}

describe('pbxctl (no pbx running)', () => {
  test('extension add, list, remove against the data dir', async () => {
    const dir = tempDir();
    const d = ['--data-dir', dir];
    let r = await pbxctl([...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse', '--pin', '1234', '--language', 'es']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /extension 101 \(Ana\) added/);
    r = await pbxctl([...d, 'extension', 'add', '102', '--name', 'Bo Ek', '--secret', '-'], {}, 'from-stdin-secret\n');
    assert.equal(r.code, 0, r.stderr);

    r = await pbxctl([...d, 'extension', 'list']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^NUMBER\s+NAME\s+LANG/m);
    assert.match(r.stdout, /^101\s+Ana\s+es\s+set$/m);
    assert.match(r.stdout, /^102\s+Bo Ek\s+en\s+-$/m);
    assert.doesNotMatch(r.stdout, /correct-horse/);

    r = await pbxctl([...d, 'extension', 'list', '--json']);
    const list = JSON.parse(r.stdout) as Array<{ number: string; language: string; voicemailPinSet: boolean; secret?: string }>;
    assert.deepEqual(list.map((e) => [e.number, e.language, e.voicemailPinSet]), [['101', 'es', true], ['102', 'en', false]]);
    assert.equal(list[0]?.secret, undefined);

    // What pbxctl wrote is what the store (and so the pbx) reads.
    const store = openStore(dir);
    assert.equal(store.extensions.get('101')?.secret, 'correct-horse');
    assert.equal(store.extensions.get('101')?.voicemailPin, '1234');
    assert.equal(store.extensions.get('102')?.secret, 'from-stdin-secret');
    store.close();

    r = await pbxctl([...d, 'extension', 'remove', '101']);
    assert.equal(r.code, 0, r.stderr);
    r = await pbxctl([...d, 'extension', 'remove', '101']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /extension 101 does not exist/);
    r = await pbxctl([...d, 'extension', 'list', '--json']);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ number: string }>).map((e) => e.number), ['102']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('PBX_DATA_DIR is the default data dir', async () => {
    const dir = tempDir();
    const r = await pbxctl(['extension', 'add', '201', '--name', 'Env', '--secret', 'from-the-env'], { PBX_DATA_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    const store = openStore(dir);
    assert.equal(store.extensions.get('201')?.displayName, 'Env');
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('clear errors and exit codes', async () => {
    const dir = tempDir();
    const d = ['--data-dir', dir];
    const cases: Array<[string[], number, RegExp]> = [
      [[...d], 1, /no command given/],
      [[...d, 'frobnicate'], 1, /unknown command: frobnicate/],
      [[...d, 'extension'], 1, /needs a command/],
      [[...d, 'extension', 'add', '101', '--name', 'Ana'], 1, /needs --secret/],
      [[...d, 'extension', 'add', '--name', 'Ana', '--secret', 'correct-horse'], 1, /needs a NUMBER/],
      [[...d, 'extension', 'add', '1', '--name', 'Ana', '--secret', 'correct-horse'], 1, /2 to 6 digits/],
      [[...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'short'], 1, /at least 8 characters/],
      [[...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse', '--pin', '12'], 1, /PIN must be 4 to 10 digits/],
      [[...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse', '--language', 'de'], 1, /--language must be one of/],
      [[...d, 'extension', 'list', '--bogus'], 1, /Unknown option '--bogus'/],
      [[...d, 'status', 'extra'], 1, /takes no argument/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await pbxctl(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(' '));
    }
    assert.equal((await pbxctl([...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse'])).code, 0);
    const dup = await pbxctl([...d, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse']);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /extension 101 already exists/);
    const help = await pbxctl(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: pbxctl/);

    fs.writeFileSync(path.join(dir, 'config.json'), '{"httpPort": "x"}');
    const bad = await pbxctl([...d, 'extension', 'list']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /field httpPort/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('status says the pbx is not running and shows the stored registrations', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.extensions.add({ number: '101', displayName: 'Ana', secret: 'correct-horse' });
    store.registrations.upsert({
      aor: '101',
      contactUri: 'sip:101@192.0.2.10:5062',
      instanceId: null,
      callId: 'c1',
      cseq: 1,
      expiresAt: Date.now() + 600_000,
      q: null,
      transport: 'UDP',
      sourceAddress: '192.0.2.10',
      sourcePort: 5062,
      userAgent: 'DeskPhone',
      registeredAt: Date.now(),
    });
    store.close();
    let r = await pbxctl(['--data-dir', dir, 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pbx is not running/);
    assert.match(r.stdout, /^101\s+sip:101@192\.0\.2\.10:5062\s+udp:192\.0\.2\.10:5062\s+\d+ s\s+DeskPhone$/m);
    r = await pbxctl(['--data-dir', dir, 'status', '--json']);
    const json = JSON.parse(r.stdout) as { running: boolean; registrations: Array<{ aor: string }> };
    assert.equal(json.running, false);
    assert.deepEqual(json.registrations.map((x) => x.aor), ['101']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('pbxctl (pbx running)', () => {
  test('status asks the running pbx; extensions added meanwhile land in its store', async () => {
    const dir = tempDir();
    const pbx = spawnPbx({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' });
    try {
      await pbx.waitFor(/"msg":"pbx started"/);
      let r = await pbxctl(['--data-dir', dir, 'extension', 'add', '101', '--name', 'Ana', '--secret', 'correct-horse']);
      assert.equal(r.code, 0, r.stderr);

      // A binding as the registrar writes it, through a second connection while the pbx has the file open.
      const store = openStore(dir);
      store.registrations.upsert({
        aor: '101',
        contactUri: 'sip:101@127.0.0.1:5070;transport=tcp',
        instanceId: null,
        callId: 'c1',
        cseq: 1,
        expiresAt: Date.now() + 600_000,
        q: null,
        transport: 'TCP',
        sourceAddress: '127.0.0.1',
        sourcePort: 40000,
        userAgent: null,
        registeredAt: Date.now(),
      });
      store.close();

      r = await pbxctl(['--data-dir', dir, 'status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const status = JSON.parse(r.stdout) as { running: boolean; pid: number; registrations: Array<{ contactUri: string }>; calls: unknown[] };
      assert.equal(status.running, true);
      assert.equal(status.pid, pbx.child.pid);
      assert.deepEqual(status.registrations.map((x) => x.contactUri), ['sip:101@127.0.0.1:5070;transport=tcp']);
      assert.deepEqual(status.calls, []);

      r = await pbxctl(['--data-dir', dir, 'status']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^pbx running \\(pid ${pbx.child.pid}, up \\d+ s\\)`, 'm'));
      assert.match(r.stdout, /registrations: 1/);
      assert.match(r.stdout, /calls: 0/);

      r = await pbxctl(['--data-dir', dir, 'extension', 'remove', '101']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await pbx.stop('SIGTERM'), 0);
    } finally {
      await pbx.stop('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
