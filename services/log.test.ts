/** File logs: JSON lines in <dir>/<service>.log, rotated by size, the total bounded; flushed on demand. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger, flushLogs, LOG_ROTATIONS } from './log.js';

test('a logger with a dir writes JSON lines there, rotates at 10 MB and keeps at most 1 + LOG_ROTATIONS files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-log-'));
  try {
    const log = createLogger('rot', { level: 'info', dir, stdout: false });
    log.info({ callId: 'abc@host' }, 'first line');
    await flushLogs();
    const first = fs.readFileSync(path.join(dir, 'rot.log'), 'utf8').trim().split('\n');
    const line = JSON.parse(first[0] ?? '{}') as { msg: string; callId: string; name: string; level: number };
    assert.deepEqual([line.msg, line.callId, line.name, line.level], ['first line', 'abc@host', 'rot', 30]);

    // ~70 MB in 8 KB lines: seven files' worth, written in bounded bursts.
    const logger = createLogger('rot', { level: 'info', dir, stdout: false });
    const filler = 'y'.repeat(8000);
    for (let burst = 0; burst < 70; burst++) {
      for (let i = 0; i < 128; i++) logger.info({ filler, burst, i }, 'filler');
      await new Promise((r) => setTimeout(r, 20));
    }
    logger.debug('below the level: not written');
    await flushLogs(15_000);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('rot.log'));
    assert.ok(files.includes('rot.log') && files.includes('rot.log.1'), files.join(' '));
    assert.ok(files.length <= 1 + LOG_ROTATIONS, `at most ${1 + LOG_ROTATIONS} files, found ${files.join(' ')}`);
    const total = files.reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
    assert.ok(total <= (1 + LOG_ROTATIONS) * 10.5 * 1024 * 1024, `total ${total} bytes bounded`);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, 'rot.log'), 'utf8'), /below the level/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('secrets are redacted in the file too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-log-'));
  try {
    const log = createLogger('red', { level: 'info', dir, stdout: false });
    log.info({ secret: 'hunter2-long', ext: { password: 'pw-123456' } }, 'with secrets');
    await flushLogs();
    const text = fs.readFileSync(path.join(dir, 'red.log'), 'utf8');
    assert.doesNotMatch(text, /hunter2|pw-123456/);
    assert.match(text, /\[redacted\]/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
