/**
 * The SIP trace the web UI's diagnostics stream. While a lease is held (`trace.start`, renewed
 * every 20 s by the web process), every SIP message in and out is pushed to the control clients
 * as a `sip-trace` event; a lease that is not renewed within its time ends, so a closed browser tab
 * stops costing anything. At most 200 messages a second are pushed (the rest are counted), so a
 * flood cannot swamp the control socket. Filtering (by extension or number) is the reader's job.
 */
import type { Logger } from 'pino';
import type { CtlServer } from '../ctl/server.js';
import { SIP_TRACE_EVENT, type SipTraceEvent } from '../ctl/trace.js';
import type { SipStack } from '../sip/stack.js';

const MAX_TEXT = 8192;
const MAX_PER_SECOND = 200;
const MAX_LEASE_S = 120;

export function startSipTrace(deps: { stack: Pick<SipStack, 'tap'>; ctl: CtlServer; log: Logger }): { close(): void } {
  /** Lease id → when it ends (epoch ms). */
  const leases = new Map<number, number>();
  let nextLease = 1;
  let timer: NodeJS.Timeout | null = null;
  let tracing = false;
  let windowStart = 0;
  let inWindow = 0;
  let pushed = 0;
  let dropped = 0;

  const listener = (direction: 'in' | 'out', data: Buffer, peer: { transport: string; address: string; port: number }): void => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow > MAX_PER_SECOND) {
      dropped++;
      return;
    }
    pushed++;
    const event: SipTraceEvent = {
      at: now,
      direction,
      transport: peer.transport,
      peer: `${peer.address}:${peer.port}`,
      text: data.subarray(0, MAX_TEXT).toString('utf8'),
    };
    deps.ctl.emit(SIP_TRACE_EVENT, event);
  };

  /** Drops expired leases, turns the tap on or off, and sleeps until the next lease ends. */
  const review = (): void => {
    const now = Date.now();
    for (const [id, end] of leases) if (end <= now) leases.delete(id);
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (leases.size === 0) {
      if (tracing) {
        tracing = false;
        deps.stack.tap(null);
        deps.log.info({ pushed, dropped }, 'SIP trace stopped');
      }
      return;
    }
    if (!tracing) {
      tracing = true;
      pushed = 0;
      dropped = 0;
      deps.stack.tap(listener);
      deps.log.info({ leases: leases.size }, 'SIP trace started');
    }
    timer = setTimeout(review, Math.max(0, Math.min(...leases.values()) - now));
    timer.unref();
  };

  deps.ctl.handle('trace.start', (params: unknown) => {
    const p = typeof params === 'object' && params !== null ? (params as { seconds?: unknown; lease?: unknown }) : {};
    const seconds = typeof p.seconds === 'number' && p.seconds > 0 ? Math.min(p.seconds, MAX_LEASE_S) : 30;
    const lease = typeof p.lease === 'number' && leases.has(p.lease) ? p.lease : nextLease++;
    const until = Date.now() + seconds * 1000;
    leases.set(lease, until);
    review();
    return { lease, until };
  });
  deps.ctl.handle('trace.stop', (params: unknown) => {
    const lease = typeof params === 'object' && params !== null ? (params as { lease?: unknown }).lease : undefined;
    if (typeof lease === 'number') leases.delete(lease);
    else leases.clear();
    const counts = { pushed, dropped };
    review();
    return { tracing, ...counts };
  });
  return {
    close() {
      leases.clear();
      review();
    },
  };
}
