/**
 * Live state (registrations, calls, trunks) asked of the running pbx over its control socket. The
 * web process never holds SIP state: when the pbx is down, the answer says so and the UI shows the
 * stored state instead.
 */
import { CtlClient } from '../ctl/client.js';
import type { StatusResult } from '../ctl/protocol.js';

export interface LiveState {
  /** The pbx's status, or null when it does not answer within the timeout. */
  status(): Promise<StatusResult | null>;
}

export function ctlLiveState(socketPath: string, timeoutMs = 2000): LiveState {
  return {
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
  };
}
