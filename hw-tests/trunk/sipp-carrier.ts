/**
 * The SIPp carrier of the trunk tests (an IP peer on its own loopback address): it answers one
 * call, optionally echoing the RTP it receives, and records every message, so a test can read the
 * INVITE the carrier got.
 */
import { sleep } from '../media/harness.js';
import { freePort, parseMessageLog, scenarioPath, startSippUas, type SippResult } from '../support/sipp.js';

export interface SippCarrier {
  /** Settles once the call is over (SIPp exits by itself after its timewait), or stops SIPp after 10 s. */
  done(): Promise<SippResult>;
}

export async function carrierAnswersOnce(ip: string, port: number, opts: { echo: boolean }): Promise<SippCarrier> {
  const uas = await startSippUas({
    scenario: scenarioPath('uas-answer'),
    localIp: ip,
    localPort: port,
    calls: 1,
    timeoutSec: 30,
    ...(opts.echo ? { extraArgs: ['-rtp_echo', '-mi', ip, '-mp', String(await freePort('udp', ip))] } : {}),
    traceMessages: true,
  });
  return { done: () => Promise.race([uas.done, sleep(10_000).then(() => uas.stop())]) };
}

/** The first INVITE the carrier received, as text. */
export function firstInvite(messages: string): string {
  return parseMessageLog(messages).find((m) => m.direction === 'received' && m.text.startsWith('INVITE '))?.text ?? '(no INVITE received)';
}
