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

/**
 * Start-up garbage (module sources compiled once, the config and store checks, the first-start
 * work) and the malloc'ed memory it freed are otherwise kept until something prompts a collection,
 * so an idle box would carry memory it does not use: measured, the pbx ~6.5 MB, and the web UI's
 * glibc heap 10.0 MB against 4.4 MB in one start of two (freed parser memory below a live block,
 * which only malloc_trim gives back). Once, `delayMs` after start (default 10 s: a compaction 1.5, 3
 * or 6 s after the pbx's start handed back nothing, one at 10 s 6.5 MB), skipped if not quiet then.
 */
export function compactAfterStart(o: { logger: Logger; quiet?: () => boolean; delayMs?: number }): Promise<Compaction | null> {
  return new Promise((resolve) => {
    setTimeout(() => {
      if (o.quiet !== undefined && !o.quiet()) return resolve(null);
      const result = compactMemory();
      o.logger.debug({ rssBeforeMb: +(result.rssBefore / 1048576).toFixed(1), rssAfterMb: +(result.rssAfter / 1048576).toFixed(1), trimmed: result.trimmed }, 'memory compacted after start');
      resolve(result);
    }, o.delayMs ?? 10_000).unref();
  });
}
