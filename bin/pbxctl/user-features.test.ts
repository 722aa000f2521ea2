/**
 * `pbxctl extension set ... --forward-*|--dnd|--call-waiting|--hide-caller-id` and `extension
 * features [--json]` as the technician types them (real pbxctl process, real SQLite): the same
 * checks as the feature codes; a refused option exits 1 and writes nothing, even with other options.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../services/store/index.js';
import { pbxctl as runPbxctl, type PbxctlRun } from '../../hw-tests/support/pbxctl.js';

function pbxctl(dir: string, args: string[]): Promise<PbxctlRun> {
  return runPbxctl(['--data-dir', dir, ...args]);
}

async function ok(dir: string, args: string[]): Promise<string> {
  const r = await pbxctl(dir, args);
  assert.equal(r.code, 0, `pbxctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('extension set: forwarding, ring time, call waiting, DND, caller ID; extension features lists them (--json); bad input exits 1 and changes nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbxctl-user-features-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ country: 'FR' }));
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-101' });
  store.extensions.add({ number: '102', displayName: 'Bo', secret: 'bo-secret-102' });
  store.close();

  assert.match(
    await ok(dir, ['extension', 'set', '101', '--forward-always', '102', '--forward-no-answer', '06 12 34 56 78'.replace(/ /g, ''), '--no-answer-seconds', '15', '--dnd', 'on']),
    /forwarding always → 102, no-answer → 0612345678 after 15 s; call waiting on; do not disturb on/,
  );
  const one = JSON.parse(await ok(dir, ['extension', 'features', '101', '--json'])) as Record<string, unknown>;
  assert.deepEqual(one, {
    extension: '101',
    forward: { always: '102', busy: null, 'no-answer': '0612345678', unreachable: null },
    noAnswerSeconds: 15,
    callWaiting: true,
    doNotDisturb: true,
    hideCallerId: false,
  });
  for (const [args, message] of [
    [['--forward-busy', '101'], /cannot forward to itself/],
    [['--forward-busy', '112'], /emergency number/],
    [['--forward-busy', '00442079460000'], /international number and extension 101 may not call it/],
    [['--forward-busy', '12'], /neither an extension nor a valid phone number/],
    [['--forward-unreachable', 'sip:x@y'], /extension or a phone number/],
    [['--dnd', 'maybe'], /--dnd must be on or off/],
    [['--no-answer-seconds', '300'], /5 to 120/],
    [['--international', 'on', '--hide-caller-id', 'sometimes'], /--hide-caller-id must be on or off/],
  ] as const) {
    const r = await pbxctl(dir, ['extension', 'set', '101', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')} is refused (${r.stderr})`);
    assert.match(r.stderr, message);
  }
  const after = JSON.parse(await ok(dir, ['extension', 'features', '--json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(after[0], one, 'refused commands changed nothing');
  const check = openStore(dir);
  assert.equal(check.extensionRouting.get('101')?.international, false, 'a refused feature option rolls the routing option back too');
  check.close();

  // With the permission, the international forward is accepted; both kinds in one --json object.
  const both = JSON.parse(await ok(dir, ['extension', 'set', '101', '--international', 'on', '--forward-busy', '00442079460000', '--json'])) as { international: boolean; features: { forward: { busy: string } } };
  assert.equal(both.international, true);
  assert.equal(both.features.forward.busy, '00442079460000');
  await ok(dir, ['extension', 'set', '101', '--forward-always', 'none', '--dnd', 'off', '--call-waiting', 'off', '--hide-caller-id', 'on']);
  const table = await ok(dir, ['extension', 'features']);
  assert.match(table, /^NUMBER\s+ALWAYS\s+BUSY\s+NO ANSWER\s+RING\s+UNREACHABLE\s+WAITING\s+DND\s+CALLER ID$/m);
  assert.match(table, /^101\s+-\s+00442079460000\s+0612345678\s+15 s\s+-\s+off\s+off\s+hidden$/m);
  assert.match(table, /^102\s+-\s+-\s+-\s+20 s\s+-\s+on\s+off\s+shown$/m);
  assert.equal((await pbxctl(dir, ['extension', 'features', '999'])).code, 2, 'unknown extension');
  fs.rmSync(dir, { recursive: true, force: true });
});
