/**
 * `pbxctl sim fax` as a technician uses it: the real CLI against the board-sim process (no gateway
 * on the tty: the machine hears no dial tone and dials blind after 4 s, as fax machines do).
 * Loading a PDF, the status while it dials and faxes, going on-hook ending the session, and the
 * refusals (a phone is not a fax machine, a file that is not a document, a busy machine).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimFaxResult } from '../../device/sim/fax-control.js';
import { makePdf } from '../fax/documents.js';
import { hilSerial, startAnalogBench, waitFor, type AnalogBench } from '../support/analog-board.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const skip = hilSerial() !== null ? 'pbxctl sim drives the virtual board only' : false;
let bench: AnalogBench;

function pbxctl(dataDir: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bin/pbxctl.js'), ...args], { env: { ...process.env, PBX_DATA_DIR: dataDir, PBX_SIM_SOCKET: '' }, encoding: 'utf8', cwd: dataDir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(async () => {
  if (!skip) bench = await startAnalogBench({ fxs: 'phone,fax', country: 'FR' });
});
after(async () => {
  await bench?.close();
});

test('sim fax: send a PDF, follow the machine, hang it up; refusals say why', { skip, timeout: 60_000 }, async () => {
  const d = bench.dataDir;
  makePdf(d, 2, 'letter');
  fs.writeFileSync(path.join(d, 'notes.txt'), 'not a document\n');
  const fax = (): SimFaxResult => {
    const r = pbxctl(d, 'sim', 'fax', '2', 'status', '--json');
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as SimFaxResult;
  };

  assert.match(pbxctl(d, 'sim', 'fax', '1', 'status').err, /fxs1 has a phone, not a fax machine/);
  assert.equal(pbxctl(d, 'sim', 'fax', '2', 'send', 'notes.txt', 'to', '0142345609').code, 1);
  assert.match(pbxctl(d, 'sim', 'fax', '2', 'send', 'notes.txt', 'to', '0142345609').err, /neither a PDF nor a TIFF/);
  assert.match(pbxctl(d, 'sim', 'fax', '2', 'send', 'letter.pdf', 'to', 'abc').err, /digits/);
  assert.match(pbxctl(d, 'sim', 'fax', '2', 'send', 'letter.pdf', '0142345609').err, /send FILE to NUMBER/);
  assert.equal(pbxctl(d, 'sim', 'fax', '2', 'answer-after', '3').code, 0);
  assert.equal(fax().answerAfterRings, 3);

  // A relative path is the technician's working directory (pbxctl resolves it).
  const sent = pbxctl(d, 'sim', 'fax', '2', 'send', 'letter.pdf', 'to', '01 42 34 56 09', '--ident', '+33 1 55 55 02 02');
  assert.equal(sent.code, 0, sent.err);
  assert.match(sent.out, /fxs2: dialling 0142345609/);
  assert.equal(fax().ident, '+33 1 55 55 02 02');
  assert.match(pbxctl(d, 'sim', 'fax', '2', 'send', 'letter.pdf', 'to', '0142345609').err, /busy/);
  // No dial tone from a gateway: blind dialling after 4 s, then T.30 as the calling machine.
  await waitFor('the T.30 session', () => fax().state === 'session', 15_000);
  const status = JSON.parse(pbxctl(d, 'sim', 'status', '--json').out) as { ports: Array<{ port: string; hook: string; sending: string }> };
  const port = status.ports.find((p) => p.port === 'fxs2');
  assert.equal(port?.hook, 'off');
  assert.match(port?.sending ?? '', /fax T\.30 sending/);
  assert.match(pbxctl(d, 'sim', 'fax', '2', 'status').out, /fax machine "\+33 1 55 55 02 02", session[\s\S]*send\s+0142345609/);

  // On-hook ends the session: recorded as sent with no page, the converted document removed.
  assert.equal(pbxctl(d, 'sim', 'fxs', '2', 'onhook').code, 0);
  const after = fax();
  assert.equal(after.state, 'idle');
  assert.equal(after.sent.length, 1);
  assert.deepEqual([after.sent[0]?.number, after.sent[0]?.pagesTx, after.sent[0]?.done], ['0142345609', 0, true]);
  assert.match(after.sent[0]?.resultText ?? '', /call dropped prematurely|on-hook/, 'spandsp ends T.30 on the call dropped');
  assert.deepEqual(fs.readdirSync(path.join(d, 'sim', 'fax')), [], 'no converted document left behind');
  assert.equal(bench.simProcess?.exitCode, null, 'board-sim still running');
});
