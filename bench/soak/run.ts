/**
 * `make bench`, memory soak: the RSS of the SIP server over time under a flood of authenticated
 * REGISTERs (1,000/s from 200 phones for 2 minutes, SIPp), then 60 s of quiet, for ours and for
 * Kamailio under the same flood; then (ours) a steady load of refreshes and calls, comparing idle
 * RSS after the first 5,000 operations with idle RSS at the end. Ours runs with the node flags and
 * environment of its pm2 app (image/ecosystem.config.cjs), so the figures are the appliance's.
 * Writes an SVG chart (docs/soak-rss.svg) and the '## Memory soak' section of docs/performance.md.
 *
 *   node dist/bench/soak/run.js [--servers ours,kamailio] [--flood-sec 120] [--rate 1000]
 *        [--phones 200] [--after-sec 60] [--refreshes 100000] [--calls 20000] [--call-rate 80] [--no-steady]
 *        [--steady-only]   (keeps the floods of the last run, /tmp/bench-soak-last.json)
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegisteredUas } from '../../hw-tests/support/sipp-callee.js';
import { exitAtBound, killAllSipp, runSipp, scenarioPath, writeUserCsv, type SippResult } from '../../hw-tests/support/sipp.js';
import { makeUsers, pbxAvailable, startKamailio, startPbx, type BenchUser, type SipServerUnderTest } from '../../hw-tests/support/sip-servers.js';
import { loadAverage, replaceSection, startSampler, sumMemory, svgChart, type Sample } from './memory.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PERF_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');
const SVG = path.join(REPO_ROOT, 'docs', 'soak-rss.svg');
const LAST_RUN = path.join(os.tmpdir(), 'bench-soak-last.json');
const STEADY_QUIET_MS = 60_000;

interface Options {
  servers: string[];
  floodSec: number;
  rate: number;
  phones: number;
  afterSec: number;
  refreshes: number;
  calls: number;
  callRate: number;
  steady: boolean;
  /** Keep the floods of the last run (its JSON) and measure the steady load again. */
  steadyOnly: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { servers: ['ours', 'kamailio'], floodSec: 120, rate: 1000, phones: 200, afterSec: 60, refreshes: 100_000, calls: 20_000, callRate: 80, steady: true, steadyOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1] ?? '';
    const n = Number(v);
    switch (a) {
      case '--servers':
        o.servers = v.split(',').filter((s) => s.length > 0);
        break;
      case '--flood-sec':
        o.floodSec = Math.max(5, Math.min(600, n));
        break;
      case '--rate':
        o.rate = Math.max(10, Math.min(20_000, n));
        break;
      case '--phones':
        o.phones = Math.max(1, Math.min(5000, n));
        break;
      case '--after-sec':
        o.afterSec = Math.max(5, Math.min(600, n));
        break;
      case '--refreshes':
        o.refreshes = Math.max(0, Math.min(1_000_000, n));
        break;
      case '--calls':
        o.calls = Math.max(0, Math.min(200_000, n));
        break;
      case '--call-rate':
        o.callRate = Math.max(1, Math.min(1000, n));
        break;
      case '--steady-only':
        o.steadyOnly = true;
        i--;
        break;
      case '--no-steady':
        o.steady = false;
        i--;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
    i++;
  }
  return o;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pbx app of the appliance's pm2 file: its node flags and environment. */
export function applianceRuntime(): { nodeArgs: string[]; env: Record<string, string> } {
  const require = createRequire(import.meta.url);
  const eco = require(path.join(REPO_ROOT, 'image', 'ecosystem.config.cjs')) as { apps: Array<{ name: string; node_args?: string | string[]; env?: Record<string, string> }> };
  const app = eco.apps.find((a) => a.name === 'pbx');
  const raw = app?.node_args ?? [];
  const nodeArgs = Array.isArray(raw) ? raw : raw.split(/\s+/).filter((s) => s.length > 0);
  return { nodeArgs, env: { ...(app?.env ?? {}) } };
}

interface Flood {
  readonly server: string;
  readonly samples: Sample[];
  readonly floodFrom: number;
  readonly floodTo: number;
  readonly idleMb: number;
  readonly peakMb: number;
  readonly afterMb: number;
  readonly sipp: { successful: number; attempted: number; wallSec: number };
  readonly loadBefore: string;
  readonly loadAfter: string;
}

interface Steady {
  readonly refreshes: number;
  readonly calls: number;
  readonly callsOk: number;
  readonly idleAfter5kMb: number;
  readonly idleEndMb: number;
  readonly loadAfter: string;
}

/** Idle RSS: the mean of a few samples taken after the server has been quiet for `quietMs`. */
async function idleRss(pids: () => readonly number[], quietMs: number): Promise<number> {
  await sleep(quietMs);
  let sum = 0;
  for (let i = 0; i < 5; i++) {
    sum += sumMemory(pids()).rssKb / 1024;
    await sleep(1000);
  }
  return sum / 5;
}

function attempted(r: SippResult): number {
  return Math.max(r.created, r.successful + r.failed);
}

async function flood(server: SipServerUnderTest, csv: string, opts: Options): Promise<Flood> {
  // The phones register once (the office), then the box is left idle for its idle figure.
  await runSipp({ scenario: scenarioPath('uac-register-auth'), target: server.target, injectCsv: csv, calls: opts.phones, rate: 200, timeoutSec: 30, traceErrors: false, extraArgs: ['-nd'] });
  const sampler = startSampler(() => server.pids());
  const idleMb = await idleRss(() => server.pids(), 10_000);
  const loadBefore = loadAverage();
  const floodFrom = sampler.mark();
  log(`  ${server.name}: idle ${idleMb.toFixed(1)} MB; flooding ${opts.rate}/s for ${opts.floodSec} s`);
  const res = await runSipp({
    scenario: scenarioPath('uac-register-auth'),
    target: server.target,
    injectCsv: csv,
    calls: opts.rate * opts.floodSec,
    rate: opts.rate,
    timeoutSec: opts.floodSec + 60,
    traceErrors: false,
    extraArgs: ['-nd', '-recv_timeout', '8000'],
  });
  const floodTo = sampler.mark();
  await sleep(opts.afterSec * 1000);
  const samples = sampler.stop();
  const during = samples.filter((s) => s.t >= floodFrom && s.t <= floodTo + 1);
  const last = samples[samples.length - 1];
  const result: Flood = {
    server: server.name,
    samples,
    floodFrom,
    floodTo,
    idleMb,
    peakMb: Math.max(...during.map((s) => s.rssMb)),
    afterMb: last?.rssMb ?? Number.NaN,
    sipp: { successful: res.successful, attempted: attempted(res), wallSec: res.wallMs / 1000 },
    loadBefore,
    loadAfter: loadAverage(),
  };
  log(`  ${server.name}: peak ${result.peakMb.toFixed(1)} MB, ${opts.afterSec} s after ${result.afterMb.toFixed(1)} MB; SIPp ${res.successful}/${attempted(res)} in ${(res.wallMs / 1000).toFixed(0)} s; load ${result.loadAfter}`);
  return result;
}

/** Refreshes and calls at a steady pace; idle RSS after the first 5,000 operations and at the end. */
async function steady(server: SipServerUnderTest, csv: string, callee: BenchUser, workDir: string, opts: Options): Promise<Steady> {
  const reg = async (count: number): Promise<number> => {
    if (count <= 0) return 0;
    const r = await runSipp({ scenario: scenarioPath('uac-register-auth'), target: server.target, injectCsv: csv, calls: count, rate: 1000, timeoutSec: count / 1000 + 60, traceErrors: false, extraArgs: ['-nd', '-recv_timeout', '8000'] });
    return r.successful;
  };
  const uas = await startRegisteredUas({ target: server.target, ...callee, scenario: scenarioPath('uas-answer'), timeoutSec: opts.calls / opts.callRate + opts.refreshes / 1000 + 600, workDir });
  try {
    const call = async (count: number): Promise<number> => {
      if (count <= 0) return 0;
      const r = await runSipp({ scenario: scenarioPath('uac-invite-auth-call'), target: server.target, injectCsv: csv, service: callee.user, calls: count, rate: opts.callRate, timeoutSec: count / opts.callRate + 60, traceErrors: false, extraArgs: ['-d', '100', '-recv_timeout', '8000'] });
      return r.successful;
    };
    // The first 5,000 operations (half the run when it is shorter: the counts stay those asked),
    // in the same mix as the whole run.
    const total = opts.refreshes + opts.calls;
    const firstOps = Math.min(5000, Math.floor(total / 2));
    const firstReg = Math.round((firstOps * opts.refreshes) / Math.max(1, total));
    const firstCalls = firstOps - firstReg;
    let ok = await reg(firstReg);
    let callsOk = await call(firstCalls);
    // 60 s of quiet: the pbx hands memory back 40 s after a busy spell ends (overload.ts).
    const idleAfter5kMb = await idleRss(() => server.pids(), STEADY_QUIET_MS);
    log(`  ${server.name}: idle after ${firstOps} operations ${idleAfter5kMb.toFixed(1)} MB`);
    ok += await reg(opts.refreshes - firstReg);
    callsOk += await call(opts.calls - firstCalls);
    const idleEndMb = await idleRss(() => server.pids(), STEADY_QUIET_MS);
    log(`  ${server.name}: idle after ${opts.refreshes} refreshes and ${opts.calls} calls ${idleEndMb.toFixed(1)} MB (ok: ${ok} registrations, ${callsOk} calls)`);
    return { refreshes: ok, calls: opts.calls, callsOk, idleAfter5kMb, idleEndMb, loadAfter: loadAverage() };
  } finally {
    await uas.stop(3000);
  }
}

function markdown(floods: readonly Flood[], steadyRun: Steady | null, opts: Options, started: Date, runtime: { nodeArgs: string[]; env: Record<string, string> }): string {
  const lines: string[] = [];
  lines.push('## Memory soak', '');
  lines.push(
    `Measured by \`node dist/bench/soak/run.js\` (part of \`make bench\`) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs, ` +
      `Node ${process.version}, SIPp on loopback. The machine is shared with other work: its load average is given per server. ` +
      `Flood: ${opts.rate} authenticated REGISTERs/s (REGISTER, 401, REGISTER with credentials, 200) from ${opts.phones} phones for ${opts.floodSec} s, then ${opts.afterSec} s of quiet. ` +
      `RSS is VmRSS from /proc, summed over the server's processes (Kamailio: main and children, whose shared memory each counts in full; ours: the one \`pbx-sip\` process), sampled every second. ` +
      `Ours runs with its pm2 app's flags (\`${runtime.nodeArgs.join(' ') || 'none'}\`; env ${Object.entries(runtime.env).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}).`,
    '',
    `![RSS over time](soak-rss.svg)`,
    '',
    '| server | idle RSS | peak RSS during the flood | RSS 60 s after | after − idle | registrations ok / offered | load average before → after |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const f of floods) {
    lines.push(
      `| ${f.server} | ${f.idleMb.toFixed(1)} MB | ${f.peakMb.toFixed(1)} MB | ${f.afterMb.toFixed(1)} MB | ${(f.afterMb - f.idleMb).toFixed(1)} MB | ${f.sipp.successful} / ${f.sipp.attempted} | ${f.loadBefore} → ${f.loadAfter} |`,
    );
  }
  if (steadyRun !== null) {
    lines.push(
      '',
      `Steady load (ours): ${steadyRun.refreshes} successful refreshes at 1,000/s and ${steadyRun.callsOk} of ${steadyRun.calls} calls at ${opts.callRate}/s (100 ms hold, media anchored). ` +
        `Idle RSS (${STEADY_QUIET_MS / 1000} s of quiet, then the mean of 5 samples) after the first 5,000 operations: ${steadyRun.idleAfter5kMb.toFixed(1)} MB; at the end: ${steadyRun.idleEndMb.toFixed(1)} MB ` +
        `(${(steadyRun.idleEndMb - steadyRun.idleAfter5kMb).toFixed(1)} MB). Load average at the end: ${steadyRun.loadAfter}.`,
    );
  }
  return lines.join('\n') + '\n';
}

const live = new Set<SipServerUnderTest>();

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSipp();
      void Promise.all([...live].map((s) => s.stop())).finally(() => process.exit(130));
    });
  }
  const started = new Date();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-soak-'));
  const phones = makeUsers(opts.phones);
  const callee: BenchUser = { user: '3000', password: 'secret-3000' };
  const users = [...phones, callee];
  const csv = writeUserCsv(path.join(workDir, 'phones.csv'), phones);
  const runtime = applianceRuntime();
  const floods: Flood[] = [];
  let steadyRun: Steady | null = null;
  if (opts.steadyOnly) {
    const saved = JSON.parse(fs.readFileSync(LAST_RUN, 'utf8')) as { opts: Options; floods: Flood[] };
    floods.push(...saved.floods);
    Object.assign(opts, { ...saved.opts, steadyOnly: true, steady: true, servers: ['ours'] });
  }
  // Bounded: flood + quiet + idle figures per server, and the steady load at its rates, with margin.
  const boundMs = (opts.servers.length * (opts.floodSec + opts.afterSec + 120) + (opts.steady ? opts.refreshes / 1000 + opts.calls / opts.callRate + 300 : 0)) * 1000;
  exitAtBound('soak bench', boundMs);
  try {
    for (const name of opts.servers) {
      let server: SipServerUnderTest;
      if (name === 'ours') {
        if (!pbxAvailable()) throw new Error('dist/services/pbx/main.js is not built');
        server = await startPbx({ users, workDir: path.join(workDir, 'ours'), nodeArgs: runtime.nodeArgs, env: runtime.env });
      } else if (name === 'kamailio') {
        server = await startKamailio({ users, workDir: path.join(workDir, 'kamailio'), children: 4 });
      } else {
        throw new Error(`unknown server ${name}`);
      }
      live.add(server);
      try {
        log(`== ${server.name}`);
        if (!opts.steadyOnly) floods.push(await flood(server, csv, opts));
        else await runSipp({ scenario: scenarioPath('uac-register-auth'), target: server.target, injectCsv: csv, calls: opts.phones, rate: 200, timeoutSec: 30, traceErrors: false, extraArgs: ['-nd'] });
        if (name === 'ours' && opts.steady) steadyRun = await steady(server, csv, callee, workDir, opts);
        if (!server.alive()) throw new Error(`${server.name} exited: ${server.output().slice(-800)}`);
      } finally {
        await server.stop();
        live.delete(server);
      }
    }
  } finally {
    killAllSipp();
  }
  fs.writeFileSync(LAST_RUN, JSON.stringify({ started, opts, floods, steadyRun }, null, 1));
  const colors = ['#1f6fd1', '#d1541f', '#2a9d3a'];
  const first = floods[0];
  fs.writeFileSync(
    SVG,
    svgChart({
      title: `RSS under ${opts.rate} authenticated REGISTER/s from ${opts.phones} phones, then quiet`,
      series: floods.map((f, i) => ({ name: f.server, color: colors[i % colors.length] ?? '#000', points: f.samples.map((s) => ({ t: s.t - f.floodFrom + 15, mb: s.rssMb })).filter((p) => p.t >= 0) })),
      ...(first !== undefined && { spans: [{ from: 15, to: 15 + (first.floodTo - first.floodFrom), label: 'flood' }] }),
      limitMb: { mb: 150, label: 'limit for ours: 150 MB' },
    }),
  );
  const section = markdown(floods, steadyRun, opts, started, runtime);
  log('');
  log(section);
  replaceSection(PERF_DOC, '## Memory soak', section);
  log(`written to ${path.relative(REPO_ROOT, PERF_DOC)} and ${path.relative(REPO_ROOT, SVG)} (raw: ${LAST_RUN})`);
  fs.rmSync(workDir, { recursive: true, force: true });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    killAllSipp();
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
