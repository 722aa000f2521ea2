/**
 * Overload control: shed new INVITE and REGISTER requests early, with a stateless 503 and
 * Retry-After (RFC 3261 §21.5.4), when the server is already behind. Above capacity a SIP server
 * over UDP otherwise collapses: late answers trigger retransmissions (Timers A/E), which add load,
 * which makes answers later still. Shedding the expensive new work keeps in-dialog traffic
 * (BYE, ACK, CANCEL) and OPTIONS flowing, and retransmissions of accepted requests are still absorbed.
 *
 * Three live signals, any one sheds: server transactions not yet answered right now (the layer
 * recounts them from its live transactions, and its watchdog answers what a handler leaves),
 * event-loop lag, and event-loop utilization (the share of time the loop is busy; a moving average
 * over about a second). Utilization is the one that sees a UDP flood: Node reads datagrams in
 * batches and runs timers between them, so lag stays low while the kernel's receive buffer
 * overflows and drops requests of every kind; shedding the new ones before the loop is saturated
 * keeps it reading. Nothing is accumulated: when the load ends, shedding ends.
 *
 * Two priorities (RFC 7339's spirit: keep the work that keeps existing service alive):
 * - kept: in-dialog requests (a To tag: re-INVITE, re-SUBSCRIBE) and refreshes of an existing
 *   registration (`isRefresh`, answered by the registrar). They are shed only past `hardFactor`
 *   times the limits, when the box must protect itself whatever the request;
 * - new: out-of-dialog INVITE/REGISTER/SUBSCRIBE that create new state. Shed first, at the limits.
 * So at twice the capacity the office's phones stay registered and their calls continue, while
 * new registrations and new calls get 503 and retry later.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { compactMemory, type Compaction } from '../memory/compact.js';
import { tagOf, type SipRequest } from './message.js';
import type { Endpoint } from './types.js';

export interface OverloadOptions {
  /** Unanswered server transactions above which new INVITE/REGISTER are shed (default 2000). */
  maxPendingTransactions?: number;
  /** Sustained event-loop lag (ms, smoothed) above which new INVITE/REGISTER are shed (default 250). */
  maxEventLoopLagMs?: number;
  /** Smoothed event-loop utilization (0..1) above which new INVITE/REGISTER are shed (default 0.9; above 1 turns it off). */
  maxEventLoopUtilization?: number;
  /**
   * Share of V8's heap limit (old generation plus three semi-spaces) still live after the last full
   * collection above which new requests are shed (default 0.6); kept requests only above
   * `maxHeapFractionKept` (default 0.8). V8 gives up at about 0.8 of the old generation. On a small
   * box the heap runs out before the CPU does (the pbx runs with --max-old-space-size=128: 80 calls/s
   * with 1,000 refreshes/s filled it, and V8 aborted the process over and over while the load
   * lasted); shedding lets the records of finished transactions expire instead. 1 or more turns it off.
   */
  maxHeapFraction?: number;
  maxHeapFractionKept?: number;
  /** Kept requests (in-dialog, refreshes) are shed only past this multiple of the pending and lag limits (default 4). */
  hardFactor?: number;
  /** Retry-After (seconds) on the 503 (default 5). */
  retryAfterSeconds?: number;
  /** How often the event loop is sampled (ms, default 50). */
  sampleIntervalMs?: number;
  /** Methods shed under overload (default INVITE, REGISTER, SUBSCRIBE). */
  shedMethods?: readonly string[];
  /**
   * After a busy spell (utilization above 0.2) followed by `idleGcAfterMs` of quiet (below 0.1),
   * hand the memory back once (services/memory/compact.ts: a full V8 collection when node runs
   * with --expose-gc, as the pm2 app does, then malloc_trim): V8 and glibc otherwise keep a flood's
   * garbage, and the heap it grew, for as long as the box is idle. Default 40 s: after the flood's
   * last completed-transaction records (Timer J, 32 s) and nonces (30 s) have ended, so they are
   * garbage by then (measured: compacting 5 s after a flood left 8 MB of them live). 0 turns it off.
   */
  idleGcAfterMs?: number;
  /**
   * While the quiet lasts after a compaction, every `idleGcAfterMs` the resident size is looked at
   * again, and compacted once more if it grew by this many bytes since (default 8 MiB): an idle box
   * still works (keepalives to phones, registrations expiring) and V8 keeps the pages that work
   * grows, measured as +10-17 MB of idle RSS between compactions in the steady-load bench.
   */
  idleRegrowthBytes?: number;
  /** Told after each compaction (for the log). */
  onCompacted?: (result: Compaction) => void;
  /** Whether a REGISTER refreshes a binding that exists now (wired to the registrar). */
  isRefresh?: (request: SipRequest, source: Endpoint) => boolean;
}

export type OverloadReason = 'pending-transactions' | 'event-loop-lag' | 'event-loop-busy' | 'heap';

export interface OverloadGuard {
  /** Why a new request should be refused now, or null to serve it. */
  check(request: SipRequest, source: Endpoint): OverloadReason | null;
  readonly retryAfterSeconds: number;
  /** Current smoothed event-loop lag in ms. */
  lagMs(): number;
  /** Current smoothed event-loop utilization (0..1). */
  utilization(): number;
  /** Share of the heap limit live after the last full collection (0..1). */
  heapFraction(): number;
  /** Requests shed so far. */
  shedCount(): number;
  /** Kept requests (in-dialog, refreshes) that passed while new ones were being shed. */
  keptCount(): number;
  close(): void;
}

export function createOverloadGuard(options: OverloadOptions, pendingTransactions: () => number): OverloadGuard {
  const maxPending = options.maxPendingTransactions ?? 2000;
  const maxLag = options.maxEventLoopLagMs ?? 250;
  const hard = options.hardFactor ?? 4;
  const maxElu = options.maxEventLoopUtilization ?? 0.9;
  const interval = options.sampleIntervalMs ?? 50;
  const methods = new Set(options.shedMethods ?? ['INVITE', 'REGISTER', 'SUBSCRIBE']);
  const isRefresh = options.isRefresh;
  const maxHeap = options.maxHeapFraction ?? 0.6;
  const maxHeapKept = options.maxHeapFractionKept ?? 0.8;
  const heapLimit = getHeapStatistics().heap_size_limit;
  // Live data is what the heap holds right after a full (mark-compact) collection; between them
  // the used size also counts garbage, so it is read at that moment, and lowered whenever the heap
  // in use is found smaller (the live set shrank, e.g. the flood's records expired).
  let heapLive = 0;
  const gcWatch = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) heapLive = getHeapStatistics().used_heap_size / heapLimit;
    }
  });
  if (maxHeap < 1) gcWatch.observe({ entryTypes: ['gc'] });
  const idleGcSamples = Math.ceil((options.idleGcAfterMs ?? 40_000) / interval);
  let busySpell = false;
  let quietSamples = 0;
  const regrowth = options.idleRegrowthBytes ?? 8 * 1024 * 1024;
  /** RSS after the last compaction while the quiet it followed lasts; null once busy again. */
  let compactedRss: number | null = null;
  let lag = 0;
  let elu = 0;
  let lastElu = performance.eventLoopUtilization();
  let shed = 0;
  let kept = 0;
  let expected = performance.now() + interval;
  // A moving average (time constant ~5 samples): a lone stall (GC, the OS giving the core to
  // another process) must not shed the office's calls; only lag that lasts is overload.
  const sampler = setInterval(() => {
    const now = performance.now();
    const drift = Math.max(0, now - expected);
    lag = lag * 0.8 + drift * 0.2;
    expected = now + interval;
    const current = performance.eventLoopUtilization();
    const window = performance.eventLoopUtilization(current, lastElu);
    lastElu = current;
    elu = elu * 0.9 + window.utilization * 0.1;
    if (heapLive > 0) heapLive = Math.min(heapLive, getHeapStatistics().used_heap_size / heapLimit);
    if (idleGcSamples === 0) return;
    // A short blip (the OPTIONS keepalive round) neither ends the quiet nor counts toward it.
    if (elu > 0.2) {
      busySpell = true;
      quietSamples = 0;
      compactedRss = null;
    } else if (busySpell && elu < 0.1 && ++quietSamples >= idleGcSamples) {
      busySpell = false;
      quietSamples = 0;
      const result = compactMemory();
      compactedRss = result.rssAfter;
      options.onCompacted?.(result);
    } else if (!busySpell && compactedRss !== null && elu < 0.1 && ++quietSamples >= idleGcSamples) {
      quietSamples = 0;
      if (process.memoryUsage.rss() > compactedRss + regrowth) {
        const result = compactMemory();
        compactedRss = result.rssAfter;
        options.onCompacted?.(result);
      }
    }
  }, interval);
  sampler.unref();

  /** At factor 1 (new requests) all three signals count; kept requests only yield to the hard limits. */
  const reasonAt = (factor: number): OverloadReason | null => {
    if (pendingTransactions() >= maxPending * factor) return 'pending-transactions';
    if (lag >= maxLag * factor) return 'event-loop-lag';
    if (factor === 1 && elu >= maxElu) return 'event-loop-busy';
    if (heapLive >= (factor === 1 ? maxHeap : maxHeapKept)) return 'heap';
    return null;
  };

  return {
    retryAfterSeconds: options.retryAfterSeconds ?? 5,
    check(request, source) {
      if (!methods.has(request.method)) return null;
      const soft = reasonAt(1);
      if (soft === null) return null;
      const keep = tagOf(request.to) !== null || (request.method === 'REGISTER' && isRefresh !== undefined && isRefresh(request, source));
      const reason = keep ? reasonAt(hard) : soft;
      if (reason !== null) shed++;
      else kept++;
      return reason;
    },
    lagMs: () => lag,
    utilization: () => elu,
    heapFraction: () => heapLive,
    shedCount: () => shed,
    keptCount: () => kept,
    close() {
      clearInterval(sampler);
      gcWatch.disconnect();
    },
  };
}
