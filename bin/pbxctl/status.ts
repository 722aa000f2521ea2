/** `pbxctl status`: live from the running pbx over its control socket, else what SQLite stored. */
import type { RuntimeConfig } from '../../services/config.js';
import { CtlClient } from '../../services/ctl/client.js';
import { CtlError, type StatusProcess, type StatusRegistration, type StatusResult, type StatusTrunk } from '../../services/ctl/protocol.js';
import { CRASH_LOOP_WINDOW_MS, readRunRecord, summarize } from '../../services/pbx/run-record.js';
import { analogSystemRows, portRows, portTable } from './port.js';
import { Failure, out, positionals, printJson, table, withStore, type CommandGroup } from './cli.js';
import { summaryLine } from './mail.js';

export const statusCommands: CommandGroup = {
  name: 'status',
  usage: '  status [--json]          registrations and calls (live from the running pbx, else the stored ones)',
  run({ config, json }, args) {
    positionals(args, [], 'status');
    return status(config, json);
  },
};

/** The running pbx's status, or null when no pbx listens on the control socket. */
export async function liveStatus(config: RuntimeConfig): Promise<StatusResult | null> {
  try {
    const client = await CtlClient.connect(config.ctlSocket, { timeoutMs: 3000 });
    try {
      return await client.request('status');
    } finally {
      client.close();
    }
  } catch (error) {
    if (error instanceof CtlError && error.code === 'unavailable') return null;
    throw new Failure(`the pbx did not answer on ${config.ctlSocket}: ${(error as Error).message}`);
  }
}

async function status(config: RuntimeConfig, json: boolean): Promise<void> {
  const live = await liveStatus(config);
  // The outbox is read from SQLite whether the pbx runs or not: a failed delivery is never hidden.
  const mail = await withStore(config, (store) => store.mail.summary());
  // The analog process reports to the store (its ports, the board, landline failover).
  const analog = await withStore(config, (store) => ({ ports: portRows(store, config.country), system: analogSystemRows(store) }));
  if (live) {
    if (json) {
      printJson({ running: true, ...live, mail, analog });
      return;
    }
    out(`pbx running (pid ${live.pid}, up ${live.uptimeSeconds} s), SIP on ${live.bind}:${live.sip.udp}`);
    if (live.process) printProcess(live.process);
    if (live.counters) {
      const c = live.counters;
      const calls = Object.entries(c.calls).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
      out(`since start: calls ${calls}; requests to phones timed out ${c.transactionTimeouts}, not sent ${c.transportErrors}; calls ended by restart ${c.recoveredCalls}${c.callObjects === undefined ? '' : `; call objects in memory ${c.callObjects}`}`);
    }
    if (live.memory) {
      const m = live.memory;
      const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
      out(`memory: resident ${mb(m.rssKb)}; JS heap ${mb(m.heapUsedKb)} live of ${mb(m.heapTotalKb)} (old space ${mb(m.oldSpaceUsedKb)} of ${mb(m.oldSpaceKb)}, code ${mb(m.codeSpaceKb)}); outside the heap ${mb(m.externalKb)}`);
    }
    printRegistrations(live.registrations);
    printTrunks(live.trunks ?? []);
    out(summaryLine(mail));
    printAnalog(analog.ports, analog.system, config.country);
    out(`calls: ${live.calls.length}`);
    for (const call of live.calls) {
      out(`  ${call.id}  ${call.from} -> ${call.to}  ${call.state}`);
      if (call.media) {
        for (const [side, leg] of Object.entries(call.media)) {
          out(`    ${side.padEnd(7)} rtp in ${leg.packetsIn} out ${leg.packetsOut}  lost ${leg.lost}  jitter ${leg.jitterMs} ms  from ${leg.remote ?? '-'}`);
        }
      }
    }
    return;
  }

  const [stored, history] = await withStore(config, (store) => {
    const run = summarize(readRunRecord(store));
    const process: StatusProcess = { starts: run.starts, startsInWindow: run.startsInWindow, windowSeconds: CRASH_LOOP_WINDOW_MS / 1000, crashLoop: run.crashLoop, lastExit: run.lastExit };
    return [store.registrations.all(), process] as const;
  });
  if (json) {
    printJson({ running: false, registrations: stored, calls: [], process: history, mail, analog });
    return;
  }
  out(`pbx is not running (no control socket at ${config.ctlSocket})`);
  printProcess(history);
  out(summaryLine(mail));
  out('stored registrations:');
  printRegistrations(stored);
  printAnalog(analog.ports, analog.system, config.country);
}

function printAnalog(ports: ReturnType<typeof portRows>, system: ReturnType<typeof analogSystemRows>, country: string): void {
  if (ports.length === 0 && system.length === 0) return;
  out(`analog ports: ${ports.length}`);
  for (const s of system) out(`  ${s.name}: ${s.state}${s.detail === null ? '' : ` (${s.detail})`}`);
  if (ports.length > 0) out(portTable(ports, country));
}

function printProcess(p: StatusProcess): void {
  const window = `${Math.round(p.windowSeconds / 60)} min`;
  if (p.crashLoop) out(`CRASH LOOP: started ${p.startsInWindow} times in the last ${window} (${p.starts} starts in all)`);
  else out(`starts: ${p.starts} (${p.startsInWindow} in the last ${window})`);
  if (p.lastExit !== null) {
    const e = p.lastExit;
    out(`last exit: ${new Date(e.at).toISOString()} pid ${e.pid} ${e.code === null ? 'vanished' : `code ${e.code}`}: ${e.error}`);
  }
}

function printRegistrations(registrations: StatusRegistration[]): void {
  const now = Date.now();
  out(`registrations: ${registrations.length}`);
  if (registrations.length === 0) return;
  out(
    table(
      ['EXT', 'CONTACT', 'FROM', 'EXPIRES IN', 'USER AGENT'],
      registrations.map((r) => [
        r.aor,
        r.contactUri,
        `${r.transport.toLowerCase()}:${r.sourceAddress}:${r.sourcePort}`,
        r.expiresAt > now ? `${Math.round((r.expiresAt - now) / 1000)} s` : 'expired',
        r.userAgent ?? '-',
      ]),
    ),
  );
}

function printTrunks(trunks: StatusTrunk[]): void {
  out(`trunks: ${trunks.length}`);
  if (trunks.length === 0) return;
  // Landline failover (docs/analog.md): the admin sees when outside calls leave on the landline.
  const landlines = trunks.filter((t) => /^fxo[1-9][0-9]?$/.test(t.name) && t.state !== 'unreachable');
  const down = trunks.filter((t) => !/^fxo[1-9][0-9]?$/.test(t.name) && (t.state === 'unreachable' || t.state === 'failing' || t.state === 'unresolved' || /landline first/.test(t.lastError ?? '')));
  if (landlines.length > 0 && down.length > 0 && down.length === trunks.length - trunks.filter((t) => /^fxo[1-9][0-9]?$/.test(t.name)).length) {
    out(`LANDLINE FAILOVER: outside calls go out on ${landlines.map((t) => t.name).join(', ')} (${down.map((t) => `${t.name} ${t.state}`).join(', ')})`);
  }
  const now = Date.now();
  out(
    table(
      ['TRUNK', 'KIND', 'PEER', 'STATE', 'EXPIRES IN', 'CALLS', 'LAST ERROR'],
      trunks.map((t) => [
        t.name,
        t.kind,
        `${t.transport}:${t.host}:${t.port}`,
        t.state,
        t.expiresAt === null ? '-' : `${Math.max(0, Math.round((t.expiresAt - now) / 1000))} s`,
        `${t.activeCalls}${t.maxCalls === null ? '' : `/${t.maxCalls}`}`,
        t.lastError ?? '-',
      ]),
    ),
  );
}
