/**
 * Issue 18 item 4, the power-loss test: the real pbx process is killed with SIGKILL a hundred times
 * at random moments of a call leaving a voicemail (answering, greeting, recording, the caller
 * hanging up, the message being written and committed), and restarted each time. Afterwards nothing
 * is half-written: every row has its whole audio (the WAV header's size is the file's and the row's
 * duration), no audio file lacks its row, no temporary file is left, and SQLite's integrity_check
 * passes. The kills follow each other quickly (each run lives at most ~1.6 s), so the whole test
 * stays within a few minutes on two cores.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCertificate } from '../../services/sip/certificate.js';
import { after, before, test } from 'node:test';
import { encodeWav, parseWavHeader } from '../../services/media/wav/wav.js';
import { openStore } from '../../services/store/index.js';
import { SipPhone } from '../support/sip-phone.js';
import { createRuntimePbx, type RuntimePbx } from '../runtime/harness.js';

/** Boxes killed side by side (the kills are independent processes on their own data dirs): the wall time is
 * that of KILLS / PARALLEL restarts, most of which is node starting, not CPU. */
const PARALLEL = 4;
const KILLS = 100;
/** A hard stop, not a speed check: the loop is bounded in count and, should a restart hang, in time. */
const BUDGET_MS = 10 * 60_000;

interface Box {
  pbx: RuntimePbx;
  a: SipPhone;
  caller: { number: string; secret: string };
  callee: string;
}

const boxes: Box[] = [];

before(async () => {
  // One certificate for all (generated once; key generation is slow on a loaded machine).
  const tls = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-tls-'));
  await ensureCertificate(tls);
  const prepare = (dir: string): void => fs.cpSync(path.join(tls, 'tls'), path.join(dir, 'tls'), { recursive: true });
  for (let n = 0; n < PARALLEL; n++) {
    const A = { number: `42${n}1`, secret: `alpha-secret-42${n}1` };
    const B = { number: `42${n}2`, secret: `bravo-secret-42${n}2` };
    const pbx = await createRuntimePbx([A, B], {}, { prepare });
    const store = openStore(pbx.dir);
    try {
      // Short messages count (the kills come fast), and a short greeting of B's own gets to the beep quickly.
      store.voicemail.setSettings({ minSeconds: 0.2 });
    } finally {
      store.close();
    }
    const dir = path.join(pbx.dir, 'voicemail', B.number);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'greeting-unavailable.wav'), encodeWav(new Int16Array(800)));
    const a = await SipPhone.start({ user: A.number, password: A.secret, pbx: { address: '127.0.0.1', port: pbx.port } });
    boxes.push({ pbx, a, caller: A, callee: B.number });
  }
});

after(async () => {
  for (const box of boxes) {
    await box.a.stop();
    await box.pbx.close();
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Tally {
  answered: number;
  partials: number;
  orphanFiles: number;
  rowsWithoutAudio: number;
  kept: number;
}

async function killLoop(box: Box, kills: number, started: number, tally: Tally): Promise<void> {
  const { pbx, a } = box;
  const countSweeps = (output: string): void => {
    for (const m of output.matchAll(/"partials":(\d+),"orphanFiles":(\d+),"rowsWithoutAudio":(\d+)[^\n]*"msg":"voicemail storage checked"/g)) {
      tally.partials += Number(m[1]);
      tally.orphanFiles += Number(m[2]);
      tally.rowsWithoutAudio += Number(m[3]);
    }
  };
  for (let i = 0; i < kills; i++) {
    assert.ok(Date.now() - started < BUDGET_MS, `the kill loop ran past its ${BUDGET_MS / 1000} s bound`);
    if (i > 0) {
      countSweeps(pbx.child.output());
      await pbx.start();
    }
    // The caller: tone as soon as answered, hangs up after 0.3-1.2 s (sometimes after the kill).
    const hangUpAfter = 300 + Math.random() * 900;
    const killAfter = Math.random() * 1600;
    void a
      .call(box.callee)
      .then(async (call) => {
        tally.answered++;
        call.media.setSignal({ kind: 'tones', freqs: [1000] });
        await sleep(hangUpAfter);
        await a.hangUp(call);
      })
      .catch(() => undefined);
    await sleep(killAfter);
    assert.equal(await pbx.child.stop('SIGKILL', 2000), null, 'killed, no exit code');
  }
  countSweeps(pbx.child.output());
  // One last start: its sweep, then a clean stop.
  await pbx.start();
  countSweeps(pbx.child.output());
  await pbx.child.stop('SIGTERM');

  const store = openStore(pbx.dir);
  let rows;
  try {
    assert.deepEqual(store.integrityCheck(), ['ok']);
    rows = store.voicemail.list(box.callee);
  } finally {
    store.close();
  }
  const dir = path.join(pbx.dir, 'voicemail', box.callee);
  const files = fs.readdirSync(dir).sort();
  const expected = [...rows.map((r) => r.file), 'greeting-unavailable.wav'].sort();
  assert.deepEqual(files, expected, 'exactly the rows\' files and the greeting: no orphan, no temporary file');
  for (const row of rows) {
    const bytes = fs.readFileSync(path.join(dir, row.file));
    const info = parseWavHeader(bytes);
    assert.equal(bytes.length, row.bytes, `${row.file}: size as committed`);
    assert.equal(info.dataOffset + info.dataBytes, bytes.length, `${row.file}: the header's data size is the file's`);
    assert.equal(Math.round((info.dataBytes / 2 / 8000) * 1000), Math.round(row.durationMs), `${row.file}: duration as committed`);
  }
  tally.kept += rows.length;
}

test(`SIGKILL during voicemail ${KILLS} times at random moments: whole messages or none, no orphan, integrity_check ok`, async () => {
  const started = Date.now();
  const tally: Tally = { answered: 0, partials: 0, orphanFiles: 0, rowsWithoutAudio: 0, kept: 0 };
  await Promise.all(boxes.map((box, n) => killLoop(box, Math.floor(KILLS / PARALLEL) + (n < KILLS % PARALLEL ? 1 : 0), started, tally)));
  console.log(
    `${KILLS} kills (${PARALLEL} pbx processes side by side) in ${Math.round((Date.now() - started) / 1000)} s: ${tally.answered} calls answered, ` +
      `${tally.kept} whole messages kept; start-up sweeps removed ${tally.partials} partial recordings, ${tally.orphanFiles} files without a row, ${tally.rowsWithoutAudio} rows without audio`,
  );
  // The kills really landed inside recordings and after whole messages, not only between calls.
  assert.ok(tally.partials > 0, 'some kills interrupted a recording');
  assert.ok(tally.kept > 0, 'some messages were completed before a kill');
});
