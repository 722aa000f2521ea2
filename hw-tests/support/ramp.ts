/**
 * The one ramp rule of the benchmarks (SIP and media): a ramp offers increasing steps and stops at
 * the first step that is not clean; its headline is the largest step with that step and every
 * smaller one clean. A step run again (disturbed by other processes) counts by its last attempt.
 * What "clean" means is the benchmark's (SIP: < 1% failures and >= 95% of the offered rate carried;
 * media: loss and added-jitter limits).
 */

/** The last attempt at each offered size, in increasing order of size. */
function lastAttempts<T>(steps: readonly T[], size: (s: T) => number): T[] {
  const bySize = new Map<number, T>();
  for (const s of steps) bySize.set(size(s), s);
  return [...bySize.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
}

/** The largest step such that it and every smaller step were clean; undefined when the first was not. */
export function headline<T>(steps: readonly T[], size: (s: T) => number, clean: (s: T) => boolean): T | undefined {
  let best: T | undefined;
  for (const s of lastAttempts(steps, size)) {
    if (!clean(s)) break;
    best = s;
  }
  return best;
}
