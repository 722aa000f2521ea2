/**
 * Tests that need something this machine may lack (root, `unshare -n`, IPv6 loopback, a built
 * server, a Debian peer) skip on a developer's machine but fail loudly under CI (CI=true, as CI
 * services set it): a CI run that silently skips is a run that tested less than it says.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const underCi = /^(?:true|1|yes)$/i.test(process.env.CI ?? '');

function failure(reason: string): Error {
  return new Error(`cannot run here, and CI=${process.env.CI ?? ''} forbids skipping: ${reason}`);
}

/** Inside a test body: outside CI, skip with `reason`; under CI, throw (the test fails). */
export function skipOrFail(t: TestContext, reason: string): void {
  if (underCi) throw failure(reason);
  t.skip(reason);
}

/**
 * For the `skip` option of a test or describe: outside CI the reason (node skips it); under CI
 * false, so it runs; its first hook or test must then call `failIfMissing(reason)`.
 */
export function skipUnlessCi(reason: string | false): string | false {
  return underCi ? false : reason;
}

/** Throws under CI when `reason` says something is missing (see `skipUnlessCi`). */
export function failIfMissing(reason: string | false): void {
  if (reason !== false) throw failure(reason);
}

/** Why `unshare -n` (a loopback-only network namespace) cannot be used here, or false. */
export function namespaceUnavailable(): string | false {
  const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
  if (probe.error) return `unshare not found: ${probe.error.message}`;
  return probe.status === 0 ? false : `unshare -n not permitted here (not root?): ${probe.stderr.trim()}`;
}
