/**
 * `pbxctl` run as the technician runs it: its own node process (dist/bin/pbxctl.js), bounded to
 * 20 s; the exit code, stdout and stderr come back whatever the outcome (a failing command is a
 * result to check, not an exception).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled pbxctl, for a test that spawns it itself (a long-running `logs --follow`). */
export const PBXCTL = fileURLToPath(new URL('../../bin/pbxctl.js', import.meta.url));

export interface PbxctlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function pbxctl(args: readonly string[], opts: { env?: Readonly<Record<string, string>>; stdin?: string } = {}): Promise<PbxctlRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [PBXCTL, ...args],
      { timeout: 20_000, ...(opts.env !== undefined ? { env: { ...process.env, ...opts.env } } : {}) },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  });
}
