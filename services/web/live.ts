/**
 * Live state (registrations, calls, trunks) asked of the running pbx over its control socket. The
 * web process never holds SIP state: when the pbx is down, the answer says so and the UI shows the
 * stored state instead.
 */
import { CtlClient } from '../ctl/client.js';
import type { StatusResult } from '../ctl/protocol.js';
import { SIP_TRACE_EVENT, type SipTraceEvent } from '../ctl/trace.js';
import { announceBoxChange } from '../voicemail/manage.js';

export interface LiveState {
  /** The pbx's status, or null when it does not answer within the timeout. */
  status(): Promise<StatusResult | null>;
  /**
   * Every SIP message in and out of the pbx until the returned function is called (it holds a
   * trace lease, renewed every 20 s); null when the pbx does not answer.
   */
  sipTrace(listener: (event: SipTraceEvent) => void): Promise<(() => void) | null>;
  /** A voicemail box changed: the pbx NOTIFYs its phones (message lamp). False when the pbx is down. */
  voicemailChanged(box: string): Promise<boolean>;
}

export function ctlLiveState(socketPath: string, timeoutMs = 2000): LiveState {
  return {
    voicemailChanged: (box) => announceBoxChange(socketPath, box, timeoutMs),
    async status() {
      let client: CtlClient | null = null;
      try {
        client = await CtlClient.connect(socketPath, { timeoutMs });
        return await client.request('status');
      } catch {
        return null;
      } finally {
        client?.close();
      }
    },
    async sipTrace(listener) {
      let client: CtlClient | null = null;
      let lease: number;
      try {
        client = await CtlClient.connect(socketPath, { timeoutMs });
        lease = (await client.request('trace.start', { seconds: 30 })).lease;
      } catch {
        client?.close();
        return null;
      }
      const c = client;
      c.on(SIP_TRACE_EVENT, (data) => listener(data as SipTraceEvent));
      const renew = setInterval(() => void c.request('trace.start', { seconds: 30, lease }).catch(() => undefined), 20_000);
      return () => {
        clearInterval(renew);
        // Give the lease back so the pbx stops tracing now, not when the lease runs out.
        void c
          .request('trace.stop', { lease })
          .catch(() => undefined)
          .finally(() => c.close());
      };
    },
  };
}
