/**
 * The pbx process's own history in SQLite (settings key `runtime.pbx`): how often it started, when,
 * and how the previous run ended. A crash loop is then visible to `pbxctl status` even between two
 * restarts, when no process answers on the control socket.
 */
import type { Store } from '../store/index.js';

export const RUN_RECORD_KEY = 'runtime.pbx';
/** This many starts within CRASH_LOOP_WINDOW_MS is a crash loop. */
export const CRASH_LOOP_STARTS = 5;
export const CRASH_LOOP_WINDOW_MS = 5 * 60_000;
const KEPT_STARTS = 20;

export interface RunExit {
  at: number;
  pid: number;
  /** Exit code; null when the process vanished without saying (SIGKILL, power loss). */
  code: number | null;
  /** Why, in words: the error of a crash, `stopped` for a clean stop. */
  error: string;
}

export interface RunRecord {
  starts: number;
  /** Epoch ms of the latest starts, oldest first. */
  recentStarts: number[];
  /** The run in progress: its pid, start, and last heartbeat (written every minute). */
  current: { pid: number; startedAt: number; lastSeen: number } | null;
  lastExit: RunExit | null;
}

export interface RunSummary extends RunRecord {
  startsInWindow: number;
  crashLoop: boolean;
}

const EMPTY: RunRecord = { starts: 0, recentStarts: [], current: null, lastExit: null };

export function readRunRecord(store: Store): RunRecord {
  const stored = store.settings.get<Partial<RunRecord> | null>(RUN_RECORD_KEY, null);
  if (stored === null || typeof stored !== 'object') return { ...EMPTY };
  return {
    starts: typeof stored.starts === 'number' ? stored.starts : 0,
    recentStarts: Array.isArray(stored.recentStarts) ? stored.recentStarts.filter((t): t is number => typeof t === 'number') : [],
    current: stored.current ?? null,
    lastExit: stored.lastExit ?? null,
  };
}

export function summarize(record: RunRecord, now = Date.now()): RunSummary {
  const startsInWindow = record.recentStarts.filter((t) => now - t <= CRASH_LOOP_WINDOW_MS).length;
  return { ...record, startsInWindow, crashLoop: startsInWindow >= CRASH_LOOP_STARTS };
}

/** A new run begins; a previous run that never recorded its exit is recorded as vanished. */
export function recordStart(store: Store, pid: number, now = Date.now()): RunSummary {
  return store.transaction(() => {
    const record = readRunRecord(store);
    if (record.current !== null && record.current.pid !== pid) {
      record.lastExit = {
        at: record.current.lastSeen,
        pid: record.current.pid,
        code: null,
        error: 'ended without a clean exit (killed, hung, or power lost); last seen at this time',
      };
    }
    record.starts += 1;
    record.recentStarts = [...record.recentStarts, now].slice(-KEPT_STARTS);
    record.current = { pid, startedAt: now, lastSeen: now };
    store.settings.set(RUN_RECORD_KEY, record);
    return summarize(record, now);
  });
}

export function recordHeartbeat(store: Store, pid: number, now = Date.now()): void {
  store.transaction(() => {
    const record = readRunRecord(store);
    if (record.current === null || record.current.pid !== pid) return;
    record.current.lastSeen = now;
    store.settings.set(RUN_RECORD_KEY, record);
  });
}

export function recordExit(store: Store, pid: number, code: number, error: string, now = Date.now()): void {
  store.transaction(() => {
    const record = readRunRecord(store);
    record.lastExit = { at: now, pid, code, error };
    if (record.current?.pid === pid) record.current = null;
    store.settings.set(RUN_RECORD_KEY, record);
  });
}
