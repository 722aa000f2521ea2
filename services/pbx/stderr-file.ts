/**
 * pm2 appends the pbx's stderr to `<dataDir>/logs/pbx.stderr.log` (image/ecosystem.config.cjs):
 * the few lines that bypass the logger (a V8 fatal error, a native abort). pm2 does not rotate it,
 * so the pbx keeps it bounded at each start: past MAX bytes only the last KEEP bytes stay. pm2 writes
 * with O_APPEND, so rewriting the file under it is safe.
 */
import fs from 'node:fs';
import path from 'node:path';

export const STDERR_FILE = 'pbx.stderr.log';
const MAX = 1024 * 1024;
const KEEP = 256 * 1024;

export function trimStderrFile(logDir: string, max = MAX, keep = KEEP): boolean {
  const file = path.join(logDir, STDERR_FILE);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= max) return false;
    const tail = Buffer.alloc(keep);
    const read = fs.readSync(fd, tail, 0, keep, size - keep);
    const text = tail.subarray(0, read);
    // Start at a line boundary.
    const newline = text.indexOf(10);
    const kept = newline >= 0 ? text.subarray(newline + 1) : text;
    fs.ftruncateSync(fd, 0);
    const header = Buffer.from(`[${new Date().toISOString()}] (older lines trimmed by the pbx at start)\n`);
    fs.writeSync(fd, Buffer.concat([header, kept]), 0, undefined, 0);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
