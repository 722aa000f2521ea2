/**
 * Overload control: shed new INVITE and REGISTER requests early, with a stateless 503 and
 * Retry-After (RFC 3261 §21.5.4), when the server is already behind. Above capacity a SIP server
 * over UDP otherwise collapses: late answers trigger retransmissions (Timers A/E), which add load,
 * which makes answers later still. Shedding the expensive new work keeps in-dialog traffic
 * (BYE, ACK, CANCEL) and OPTIONS flowing, and retransmissions of accepted requests are still absorbed.
 *
 * Two live signals, either one sheds: server transactions not yet answered right now (the layer
 * recounts them from its live transactions, and its watchdog answers what a handler leaves), and
 * event-loop lag (a moving average that decays as soon as the loop is idle again). Nothing is
 * accumulated: when the load ends, shedding ends.
 *
 * Two priorities (RFC 7339's spirit: keep the work that keeps existing service alive):
 * - kept: in-dialog requests (a To tag: re-INVITE, re-SUBSCRIBE) and refreshes of an existing
 *   registration (`isRefresh`, answered by the registrar). They are shed only past `hardFactor`
 *   times the limits, when the box must protect itself whatever the request;
 * - new: out-of-dialog INVITE/REGISTER/SUBSCRIBE that create new state. Shed first, at the limits.
 * So at twice the capacity the office's phones stay registered and their calls continue, while
 * new registrations and new calls get 503 and retry later.
 */
import { tagOf, type SipRequest } from './message.js';
import type { Endpoint } from './types.js';

export interface OverloadOptions {
  /** Unanswered server transactions above which new INVITE/REGISTER are shed (default 2000). */
  maxPendingTransactions?: number;
  /** Sustained event-loop lag (ms, smoothed) above which new INVITE/REGISTER are shed (default 250). */
  maxEventLoopLagMs?: number;
  /** Kept requests (in-dialog, refreshes) are shed only past this multiple of the limits (default 4). */
  hardFactor?: number;
  /** Retry-After (seconds) on the 503 (default 5). */
  retryAfterSeconds?: number;
  /** How often the event loop is sampled (ms, default 50). */
  sampleIntervalMs?: number;
  /** Methods shed under overload (default INVITE, REGISTER, SUBSCRIBE). */
  shedMethods?: readonly string[];
  /** Whether a REGISTER refreshes a binding that exists now (wired to the registrar). */
  isRefresh?: (request: SipRequest, source: Endpoint) => boolean;
}

export type OverloadReason = 'pending-transactions' | 'event-loop-lag';

export interface OverloadGuard {
  /** Why a new request should be refused now, or null to serve it. */
  check(request: SipRequest, source: Endpoint): OverloadReason | null;
  readonly retryAfterSeconds: number;
  /** Current smoothed event-loop lag in ms. */
  lagMs(): number;
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
  const interval = options.sampleIntervalMs ?? 50;
  const methods = new Set(options.shedMethods ?? ['INVITE', 'REGISTER', 'SUBSCRIBE']);
  const isRefresh = options.isRefresh;
  let lag = 0;
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
  }, interval);
  sampler.unref();

  const reasonAt = (factor: number): OverloadReason | null => {
    if (pendingTransactions() >= maxPending * factor) return 'pending-transactions';
    if (lag >= maxLag * factor) return 'event-loop-lag';
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
    shedCount: () => shed,
    keptCount: () => kept,
    close() {
      clearInterval(sampler);
    },
  };
}
