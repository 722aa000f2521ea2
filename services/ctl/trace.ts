/**
 * The SIP trace over the control API: `trace.start` takes (or renews) a lease, `trace.stop` ends it,
 * and while any lease runs the pbx pushes one `sip-trace` event per SIP message in or out
 * (services/pbx/sip-trace.ts). Shared by the pbx and its readers (the web process), which import
 * no SIP code.
 */
export const SIP_TRACE_EVENT = 'sip-trace';

export interface SipTraceEvent {
  at: number;
  direction: 'in' | 'out';
  transport: string;
  peer: string;
  /** The message as sent or received (UTF-8), cut at 8 KB. */
  text: string;
}

declare module './protocol.js' {
  interface CtlMethods {
    /** Takes a lease (or renews `lease`) for `seconds` (default 30, at most 120). */
    'trace.start': { params: { seconds?: number; lease?: number }; result: { lease: number; until: number } };
    /** Ends one lease (or, without `lease`, all of them); tracing stops with the last one. */
    'trace.stop': { params: { lease?: number } | void; result: { tracing: boolean; pushed: number; dropped: number } };
  }
}
