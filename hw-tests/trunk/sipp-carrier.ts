/**
 * The SIPp carrier of the trunk tests (an IP peer on its own loopback address): it answers one
 * call, optionally echoing the RTP it receives, and records every message, so a test can read the
 * INVITE the carrier got; or it places one call to the office (uac-carrier-call.xml).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../media/harness.js';
import { freePort, parseMessageLog, runSipp, scenarioPath, startSippUas, type SippResult } from '../support/sipp.js';

const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'hw-tests', 'trunk', 'scenarios');

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

/**
 * The carrier calls `dialled` (as carriers send it) from `caller` and hangs up `holdMs` after the
 * answer; with `echoMediaPort`, it echoes the RTP it receives from that port (and records messages).
 */
export function carrierCallsIn(ip: string, pbxPort: number, opts: { dialled: string; caller: string; holdMs: number; echoMediaPort?: number }): Promise<SippResult> {
  const echo = opts.echoMediaPort === undefined ? [] : ['-rtp_echo', '-mi', ip, '-mp', String(opts.echoMediaPort)];
  return runSipp({
    scenario: path.join(SCENARIOS, 'uac-carrier-call.xml'),
    target: `127.0.0.1:${pbxPort}`,
    localIp: ip,
    calls: 1,
    timeoutSec: 20,
    service: opts.dialled,
    vars: { caller: opts.caller },
    extraArgs: ['-d', String(opts.holdMs), ...echo],
    ...(opts.echoMediaPort === undefined ? {} : { traceMessages: true }),
  });
}
