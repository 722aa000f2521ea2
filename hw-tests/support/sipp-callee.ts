/**
 * A callee that a server can route to: SIPp registers a user from port P (Contact
 * sip:user@127.0.0.1:P, also P as the source port, so a registrar that records the source
 * address agrees), then a SIPp UAS is started on that same port P.
 */
import { freePort, runSipp, startSippUas, transportProto, writeUserCsv, scenarioPath, type SippTransport, type SippUasHandle } from './sipp.js';
import path from 'node:path';

export interface RegisteredUasOptions {
  /** The registrar, 'host:port'. */
  readonly target: string;
  readonly user: string;
  readonly password: string;
  /** UAS scenario path or 'uas'. */
  readonly scenario: string;
  readonly transport?: SippTransport;
  readonly timeoutSec: number;
  /** Where the one-line injection CSV is written. */
  readonly workDir: string;
  readonly extraArgs?: readonly string[];
}

export async function startRegisteredUas(opts: RegisteredUasOptions): Promise<SippUasHandle> {
  const transport = opts.transport ?? 'u1';
  const port = await freePort(transportProto(transport));
  const csv = writeUserCsv(path.join(opts.workDir, `callee-${opts.user}-${port}.csv`), [
    { user: opts.user, password: opts.password },
  ]);
  const reg = await runSipp({
    scenario: scenarioPath('uac-register-auth'),
    target: opts.target,
    transport,
    localPort: port,
    injectCsv: csv,
    calls: 1,
    timeoutSec: 10,
    extraArgs: ['-nd'],
  });
  if (reg.exitCode !== 0 || reg.successful !== 1) {
    throw new Error(`callee ${opts.user} could not register (exit ${reg.exitCode}): ${reg.errors.slice(0, 2000)}`);
  }
  // -aa: answer a registrar's OPTIONS keepalive (RFC 3261 11) with 200 instead of failing on it.
  return startSippUas({
    scenario: opts.scenario,
    transport,
    localPort: port,
    timeoutSec: opts.timeoutSec,
    extraArgs: ['-aa', ...(opts.extraArgs ?? [])],
  });
}
