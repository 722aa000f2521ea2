// Crash-safe file publication: write under a temporary name in the SAME directory (rename(2) is only
// atomic within one file system), fsync the file, rename over the final name, then fsync the directory
// so the rename itself survives a power cut. A reader (or a database row) therefore sees either no file
// or the complete file under the final name, never a prefix of it.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Infix of temporary files; `removeStalePartials` deletes what a crash left behind. */
export const PARTIAL_INFIX = '.partial-';

/** A unique temporary path beside `finalPath`: `.<name>.partial-<pid>-<rand>`. */
export function tempPathFor(finalPath: string): string {
  const dir = path.dirname(finalPath);
  const base = path.basename(finalPath);
  return path.join(dir, `.${base}${PARTIAL_INFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, fs.constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes `data` to `finalPath` atomically and durably; resolves once the directory entry is on disk. */
export async function writeFileAtomic(finalPath: string, data: Uint8Array): Promise<void> {
  const tmp = tempPathFor(finalPath);
  const h = await fsp.open(tmp, 'wx', 0o644);
  try {
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await h.write(data, off, data.length - off, off);
        off += bytesWritten;
      }
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, finalPath);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(finalPath));
}

/**
 * Deletes temporary files left in `dir` by a crashed writer (any `.x.partial-<pid>-…` whose pid is not
 * alive). Returns the removed paths. Call at service start-up.
 */
export async function removeStalePartials(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const at = name.indexOf(PARTIAL_INFIX);
    if (!name.startsWith('.') || at < 0) continue;
    const pid = Number.parseInt(name.slice(at + PARTIAL_INFIX.length), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue; // our own writer may still be busy with it
    const p = path.join(dir, name);
    await fsp.rm(p, { force: true });
    removed.push(p);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
