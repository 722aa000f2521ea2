/**
 * The one 20 ms clock of all media made in JS (conference mixing, prompt players, echo playout).
 * One timer for the whole process, not one per call: every subscriber runs in the same tick, so
 * a room mixes all its participants' frames of the same period together.
 *
 * Drift-corrected: the n-th tick is due at start + n·20 ms; each timeout is armed for the time
 * left to the next deadline, so timer lateness never accumulates. A stall (GC, a busy event loop)
 * is caught up with at most MAX_CATCH_UP ticks at once; anything beyond is skipped, because
 * late audio is worse than lost audio for a phone's jitter buffer.
 */
import type { Logger } from '../../log.js';

export const FRAME_MS = 20;
const MAX_CATCH_UP = 3;

export type TickListener = (tick: number) => void;

export interface MediaClockStats {
  ticks: number;
  /** deadlines dropped after a stall longer than MAX_CATCH_UP frames */
  skipped: number;
  /** the largest lateness of a tick behind its deadline, ms */
  maxLateMs: number;
  subscribers: number;
}

export interface MediaClock {
  /** Runs `listener` every 20 ms until the returned function is called. The clock runs only while someone listens. */
  subscribe(listener: TickListener): () => void;
  stats(): MediaClockStats;
  /** Stops the timer and forgets every subscriber. */
  close(): void;
}

export function createMediaClock(options: { logger?: Logger; now?: () => number } = {}): MediaClock {
  const now = options.now ?? (() => performance.now());
  const listeners = new Set<TickListener>();
  let timer: NodeJS.Timeout | null = null;
  let origin = 0;
  let n = 0;
  const stats = { ticks: 0, skipped: 0, maxLateMs: 0 };

  const runOnce = (): void => {
    stats.ticks++;
    // A copy: a listener may unsubscribe itself (call over) while we iterate.
    for (const listener of [...listeners]) {
      try {
        listener(stats.ticks);
      } catch (error) {
        options.logger?.error({ err: error instanceof Error ? error.stack : String(error) }, 'media clock listener failed');
      }
    }
  };

  const fire = (): void => {
    timer = null;
    if (listeners.size === 0) return;
    const t = now();
    const late = t - (origin + n * FRAME_MS);
    if (late > stats.maxLateMs) stats.maxLateMs = late;
    let due = Math.floor((t - origin) / FRAME_MS) - n + 1;
    if (due > MAX_CATCH_UP) {
      stats.skipped += due - MAX_CATCH_UP;
      n += due - MAX_CATCH_UP;
      due = MAX_CATCH_UP;
    }
    for (let i = 0; i < due && listeners.size > 0; i++) {
      runOnce();
      n++;
    }
    arm();
  };

  const arm = (): void => {
    if (timer !== null || listeners.size === 0) return;
    const wait = Math.max(0, origin + n * FRAME_MS - now());
    timer = setTimeout(fire, wait);
  };

  return {
    subscribe(listener) {
      const wasIdle = listeners.size === 0;
      listeners.add(listener);
      if (wasIdle && timer === null) {
        origin = now();
        n = 1;
        arm();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer !== null) {
          clearTimeout(timer);
          timer = null;
        }
      };
    },
    stats: () => ({ ...stats, subscribers: listeners.size }),
    close() {
      listeners.clear();
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
