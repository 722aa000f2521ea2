/**
 * Keeps a quiet process's memory where a full collection leaves it. V8 runs a full collection only
 * once the old generation passes its limit, so a process that allocates a little all the time (the
 * analog gateway's 10 ms clock, its 1 s poll) climbs for many minutes between two of them:
 * measured, the idle analog process went from 67.8 to 74.2 MB in 15 minutes and came back to
 * 67 MB after one full collection, with 15.0 MB of live heap before and after (garbage, not a
 * leak). A compaction pauses the JS thread for some milliseconds, so it only runs while the caller
 * says a pause cuts no one's audio.
 */
import type { Logger } from 'pino';
import { compactMemory, type Compaction } from './compact.js';

export interface KeeperOptions {
  /** true while a pause of the JS thread would cut no call's audio */
  quiet: () => boolean;
  logger: Logger;
  /** how often RSS is read (default 60 s) */
  checkMs?: number;
  /** regrowth since the last compaction that triggers the next (default 4 MiB) */
  regrowBytes?: number;
}

export interface MemoryKeeper {
  readonly compactions: number;
  stop(): void;
}

export function keepMemoryCompact(o: KeeperOptions): MemoryKeeper {
  const regrow = o.regrowBytes ?? 4 * 1024 * 1024;
  let baseline = process.memoryUsage.rss();
  let compactions = 0;
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    // regrowth counts from the lowest point since the last compaction: the start-up peak, which a
    // collection of V8's own soon takes back, would otherwise hide the first megabytes
    if (rss < baseline) baseline = rss;
    if (rss - baseline < regrow) return;
    let quiet: boolean;
    try {
      quiet = o.quiet();
    } catch (error) {
      o.logger.warn({ err: (error as Error).message }, 'memory keeper: cannot tell whether the process is quiet');
      return;
    }
    if (!quiet) return;
    const result: Compaction = compactMemory();
    compactions++;
    baseline = result.rssAfter;
    o.logger.debug({ rssBeforeMb: +(result.rssBefore / 1048576).toFixed(1), rssAfterMb: +(result.rssAfter / 1048576).toFixed(1), trimmed: result.trimmed }, 'memory compacted while quiet');
  }, o.checkMs ?? 60_000);
  timer.unref();
  return {
    get compactions() {
      return compactions;
    },
    stop: () => clearInterval(timer),
  };
}
