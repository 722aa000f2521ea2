/**
 * Overload control: shed new INVITE and REGISTER requests early, with a stateless 503 and
 * Retry-After (RFC 3261 §21.5.4), when the server is already behind. Above capacity a SIP server
 * over UDP otherwise collapses: late answers trigger retransmissions (Timers A/E), which add load,
 * which makes answers later still. Shedding the expensive new work keeps in-dialog traffic
 * (BYE, ACK, CANCEL) and OPTIONS flowing, and retransmissions of accepted requests are still absorbed.
 *
 * Two signals, either one sheds: server transactions not yet answered, and event-loop lag.
 */
import type { SipRequest } from './message.js';

export interface OverloadOptions {
  /** Unanswered server transactions above which new INVITE/REGISTER are shed (default 2000). */
  maxPendingTransactions?: number;
  /** Sustained event-loop lag (ms, smoothed) above which new INVITE/REGISTER are shed (default 250). */
  maxEventLoopLagMs?: number;
  /** Retry-After (seconds) on the 503 (default 5). */
  retryAfterSeconds?: number;
  /** How often the event loop is sampled (ms, default 50). */
  sampleIntervalMs?: number;
  /** Methods shed under overload (default INVITE, REGISTER, SUBSCRIBE). */
  shedMethods?: readonly string[];
}

export type OverloadReason = 'pending-transactions' | 'event-loop-lag';

export interface OverloadGuard {
  /** Why a new request should be refused now, or null to serve it. */
  check(request: SipRequest): OverloadReason | null;
  readonly retryAfterSeconds: number;
  /** Current smoothed event-loop lag in ms. */
  lagMs(): number;
  /** Requests shed so far. */
  shedCount(): number;
  close(): void;
}

export function createOverloadGuard(options: OverloadOptions, pendingTransactions: () => number): OverloadGuard {
  const maxPending = options.maxPendingTransactions ?? 2000;
  const maxLag = options.maxEventLoopLagMs ?? 250;
  const interval = options.sampleIntervalMs ?? 50;
  const methods = new Set(options.shedMethods ?? ['INVITE', 'REGISTER', 'SUBSCRIBE']);
  let lag = 0;
  let shed = 0;
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
  return {
    retryAfterSeconds: options.retryAfterSeconds ?? 5,
    check(request) {
      if (!methods.has(request.method)) return null;
      let reason: OverloadReason | null = null;
      if (pendingTransactions() >= maxPending) reason = 'pending-transactions';
      else if (lag >= maxLag) reason = 'event-loop-lag';
      if (reason !== null) shed++;
      return reason;
    },
    lagMs: () => lag,
    shedCount: () => shed,
    close() {
      clearInterval(sampler);
    },
  };
}
