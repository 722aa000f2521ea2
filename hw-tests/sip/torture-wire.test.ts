/**
 * The RFC 4475 torture messages over the wire, against the whole SIP service (parser, validation,
 * transactions, registrar, B2BUA), inside a namespace that has loopback alone (`unshare -n`), so no
 * response, relay or DNS look-up triggered by the messages' foreign hosts can leave the machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { namespaceUnavailable, skipOrFail } from '../support/environment.js';
import type { WireResult } from './torture-wire-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');
// The corpus sits beside the repository (../shared); PBX_RFC4475_DIR points elsewhere (a worktree).
const corpus = process.env.PBX_RFC4475_DIR ?? path.resolve(repoRoot, '..', 'shared', 'conformance', 'rfc4475');
const runner = path.join(here, 'torture-wire-runner.js');

/** What each message must get back (RFC 4475 §3 and the corpus INDEX). */
type Expect =
  | { kind: 'status'; status: number; header?: RegExp }
  | { kind: 'answered' } // parsed and handled: any response but 400/505
  | { kind: 'silent' } // a response, or a request with no way to answer: nothing sent
  | { kind: 'one-of'; statuses: number[] };

const EXPECTED: Record<string, Expect> = {
  'wsinv.dat': { kind: 'answered' },
  'intmeth.dat': { kind: 'one-of', statuses: [405, 501] },
  'esc01.dat': { kind: 'answered' },
  'escnull.dat': { kind: 'answered' },
  'esc02.dat': { kind: 'answered' },
  'lwsdisp.dat': { kind: 'answered' },
  'longreq.dat': { kind: 'answered' },
  'dblreq.dat': { kind: 'answered' },
  'semiuri.dat': { kind: 'answered' },
  'transports.dat': { kind: 'answered' },
  'mpart01.dat': { kind: 'answered' },
  'unreason.dat': { kind: 'silent' },
  'noreason.dat': { kind: 'silent' },
  'badinv01.dat': { kind: 'status', status: 400 },
  'clerr.dat': { kind: 'status', status: 400 },
  'ncl.dat': { kind: 'status', status: 400 },
  'scalar02.dat': { kind: 'status', status: 400 },
  'scalarlg.dat': { kind: 'silent' },
  'quotbal.dat': { kind: 'status', status: 400 },
  'ltgtruri.dat': { kind: 'status', status: 400 },
  'lwsruri.dat': { kind: 'status', status: 400 },
  'lwsstart.dat': { kind: 'status', status: 400 },
  'trws.dat': { kind: 'status', status: 400 },
  'escruri.dat': { kind: 'status', status: 400 },
  'baddate.dat': { kind: 'answered' },
  'regbadct.dat': { kind: 'status', status: 400 },
  'badaspec.dat': { kind: 'status', status: 400 },
  'baddn.dat': { kind: 'status', status: 400 },
  'badvers.dat': { kind: 'status', status: 505 },
  'mismatch01.dat': { kind: 'status', status: 400 },
  'mismatch02.dat': { kind: 'status', status: 400 },
  'bigcode.dat': { kind: 'silent' },
  'badbranch.dat': { kind: 'answered' },
  'insuf.dat': { kind: 'status', status: 400 },
  'unkscm.dat': { kind: 'status', status: 416 },
  'novelsc.dat': { kind: 'status', status: 416 },
  'unksm2.dat': { kind: 'answered' },
  'bext01.dat': { kind: 'status', status: 420, header: /^Unsupported:\s*\S/im },
  'invut.dat': { kind: 'status', status: 415, header: /^Accept:.*application\/sdp/im },
  'regaut01.dat': { kind: 'status', status: 401, header: /^WWW-Authenticate:\s*Digest/im },
  'multi01.dat': { kind: 'status', status: 400 },
  'mcl01.dat': { kind: 'status', status: 400 },
  'bcast.dat': { kind: 'silent' },
  'zeromf.dat': { kind: 'status', status: 483 },
  'cparam01.dat': { kind: 'status', status: 401 },
  'cparam02.dat': { kind: 'status', status: 401 },
  'regescrt.dat': { kind: 'one-of', statuses: [400, 401] },
  'sdp01.dat': { kind: 'status', status: 406 },
  // "accept if possible, else 400": accepted means challenged like any INVITE.
  'inv2543.dat': { kind: 'one-of', statuses: [400, 407] },
};

test('RFC 4475 torture messages over UDP in a loopback-only namespace', { timeout: 120_000 }, (t) => {
  const missing = namespaceUnavailable();
  if (missing !== false) return skipOrFail(t, missing);
  assert.ok(fs.existsSync(corpus), `torture corpus not found at ${corpus}`);
  const run = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$1" "$2"', process.execPath, runner, corpus], {
    encoding: 'utf8',
    timeout: 110_000,
  });
  assert.equal(run.status, 0, `runner failed: ${run.stderr}`);
  const output = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { results: WireResult[]; alive: boolean };
  assert.equal(output.alive, true, 'the server must still answer OPTIONS after the whole corpus');

  const files = fs.readdirSync(corpus).filter((f) => f.endsWith('.dat'));
  assert.equal(output.results.length, files.length);
  const failures: string[] = [];
  for (const result of output.results) {
    const expected = EXPECTED[result.file];
    if (expected === undefined) {
      failures.push(`${result.file}: no expectation written for this file`);
      continue;
    }
    const got = result.statuses.filter((s) => s !== 100);
    const first = got[0];
    const describe = `${result.file}: got [${result.statuses.join(',')}]`;
    switch (expected.kind) {
      case 'silent':
        if (got.length > 0) failures.push(`${describe}, expected no response`);
        break;
      case 'answered':
        if (first === undefined || first === 400 || first === 505) failures.push(`${describe}, expected it parsed and answered`);
        break;
      case 'one-of':
        if (first === undefined || !expected.statuses.includes(first)) failures.push(`${describe}, expected one of ${expected.statuses.join('/')}`);
        break;
      case 'status':
        if (first !== expected.status) failures.push(`${describe}, expected ${expected.status}`);
        else if (expected.header && !expected.header.test(result.firstResponse ?? '')) failures.push(`${describe}: missing ${expected.header}`);
        break;
    }
    // dblreq: the second request in the datagram is ignored, so only one final answer.
    if (result.file === 'dblreq.dat' && got.length !== 1) failures.push(`${describe}, expected exactly one response`);
  }
  assert.deepEqual(failures, []);
});
