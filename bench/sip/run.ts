/**
 * `make bench`, SIP part: authenticated REGISTER throughput and call setup rate, against Kamailio
 * 5.6 (reference) and our server, at the same offered rates, on loopback, with SIPp as the load.
 * Each step runs for a bounded time; a ramp stops at the first step that is not clean (the one ramp
 * rule of hw-tests/support/ramp.ts).
 * CPU is charged per process (utime + stime from /proc before and after each step): the server's
 * processes, SIPp's own, and the rest of the machine (to flag a disturbed step).
 * Writes the table to docs/performance.md, section '## SIP' (other sections kept).
 *
 *   node dist/bench/sip/run.js [--servers kamailio,ours,ours-signalling] [--step-sec 8] [--quick]
 *                              [--register-rates 1000,2000,...] [--call-rates 100,200,...]
 *                              [--from-json /tmp/bench-sip-last.json]   (re-render only)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegisteredUas } from '../../hw-tests/support/sipp-callee.js';
import { exitAtBound, killAllSipp, runSipp, scenarioPath, writeUserCsv, type SippResult } from '../../hw-tests/support/sipp.js';
import { writeSection } from '../../hw-tests/support/perf-doc.js';
import { cpuModel, cpuSecondsOf, machineBusySeconds, processTree } from '../../hw-tests/support/proc.js';
import { headline } from '../../hw-tests/support/ramp.js';
import { makeUsers, pbxAvailable, startKamailio, startPbx, type BenchUser, type SipServerUnderTest } from '../../hw-tests/support/sip-servers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PERF_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');

/** SIP messages crossing the server per authenticated REGISTER: REGISTER, 401, REGISTER, 200. */
const MESSAGES_PER_REGISTER = 4;
/**
 * Per call of uac-invite-auth-call with uas-answer: caller leg INVITE, 407/401, ACK, INVITE, 100,
 * 180, 200, ACK, BYE, 200 (10); callee leg INVITE, 100, 180, 200, ACK, BYE, 200 (7).
 */
const MESSAGES_PER_CALL = 17;
const FAILURE_LIMIT = 0.01;
/** No new step starts after this much time on one server (REGISTER ramp 45% of it, then calls). */
const PER_SERVER_BUDGET_MS = 4 * 60_000;
/** Calls before each server's call ramp (not counted): more than the default RTP range holds (2,500 calls of two legs). */
const CALL_WARMUP = 3000;
/** Our server with PBX_MEDIA_ANCHOR=0 (SDP passed through): the per-call CPU of signalling alone. */
const SIGNALLING_ONLY = 'ours, signalling only';
const BOUNDS_DOC = path.join(REPO_ROOT, 'bench', 'sip', 'what-bounds-us.md');

interface Options {
  servers: string[];
  stepSec: number;
  registerRates: number[];
  callRates: number[];
  holdMs: number;
  users: number;
  /** Re-render docs/performance.md from a saved run instead of measuring. */
  fromJson?: string;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = {
    servers: ['kamailio', 'ours', 'ours-signalling'],
    stepSec: 8,
    registerRates: [1000, 2000, 5000, 7500, 10000, 12500, 15000, 20000],
    callRates: [100, 250, 500, 1000, 1250, 1500, 2000, 3000],
    holdMs: 1000,
    users: 1000,
  };
  const list = (v: string | undefined): number[] =>
    (v ?? '').split(',').map((x) => Number.parseInt(x, 10)).filter((n) => Number.isFinite(n) && n > 0);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--servers':
        opts.servers = (v ?? '').split(',').filter((s) => s.length > 0);
        i++;
        break;
      case '--step-sec':
        opts.stepSec = Math.max(2, Math.min(30, Number(v) || 8));
        i++;
        break;
      case '--register-rates':
        opts.registerRates = list(v);
        i++;
        break;
      case '--call-rates':
        opts.callRates = list(v);
        i++;
        break;
      case '--from-json':
        if (v !== undefined) opts.fromJson = v;
        i++;
        break;
      case '--quick':
        opts.stepSec = 3;
        opts.registerRates = [500, 2000];
        opts.callRates = [50, 200];
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return opts;
}

export interface StepResult {
  readonly server: string;
  readonly kind: 'register' | 'call';
  readonly offeredRate: number;
  readonly attempted: number;
  readonly successful: number;
  readonly failed: number;
  readonly retransmissions: number;
  readonly wallSec: number;
  /** Successful per second of SIPp's run time (minus the hold time of the last calls, for calls). */
  readonly achievedRate: number;
  readonly failurePct: number;
  readonly serverCpuSec: number;
  readonly serverCpuPct: number;
  readonly usPerOp: number;
  readonly usPerMessage: number;
  readonly sippCpuSec: number;
  readonly sippCpuPct: number;
  /** CPU seconds used by every other process during the step (disturbance). */
  readonly otherCpuSec: number;
  /** 2 when the step was repeated because other processes disturbed its first attempt. */
  readonly attempt?: number;
}

/** The SIP bench's time budget: no new step starts after it (the run then reports what it has). */
let budgetEnd = Number.POSITIVE_INFINITY;
function overBudget(): boolean {
  return Date.now() > budgetEnd;
}

/** A failing step during which the rest of the machine used at least half a core: run it again. */
function disturbedFailure(s: StepResult): boolean {
  return !clean(s) && s.otherCpuSec / s.wallSec >= 0.5;
}

function step(
  server: SipServerUnderTest,
  kind: StepResult['kind'],
  offeredRate: number,
  res: SippResult,
  serverCpuSec: number,
  sippCpuSec: number,
  machineCpuSec: number,
  holdSec: number,
): StepResult {
  const attempted = Math.max(res.created, res.successful + res.failed);
  const wallSec = res.wallMs / 1000;
  const ok = res.successful;
  const perMsg = kind === 'register' ? MESSAGES_PER_REGISTER : MESSAGES_PER_CALL;
  return {
    server: server.name,
    kind,
    offeredRate,
    attempted,
    successful: ok,
    failed: attempted - ok,
    retransmissions: res.retransmissions,
    wallSec,
    achievedRate: ok / Math.max(0.5, wallSec - holdSec),
    failurePct: attempted > 0 ? (100 * (attempted - ok)) / attempted : 100,
    serverCpuSec,
    serverCpuPct: (100 * serverCpuSec) / wallSec,
    usPerOp: ok > 0 ? (serverCpuSec * 1e6) / ok : Number.NaN,
    usPerMessage: ok > 0 ? (serverCpuSec * 1e6) / (ok * perMsg) : Number.NaN,
    sippCpuSec,
    sippCpuPct: (100 * sippCpuSec) / wallSec,
    otherCpuSec: Math.max(0, machineCpuSec - serverCpuSec - sippCpuSec),
  };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fmtStep(s: StepResult): string {
  return (
    `  ${s.kind} ${s.server} @${s.offeredRate}/s: ok ${s.successful}/${s.attempted} (${s.failurePct.toFixed(2)}% failed, ` +
    `${s.retransmissions} retrans) ${s.achievedRate.toFixed(0)}/s; server ${s.serverCpuSec.toFixed(2)} CPU-s ` +
    `(${s.serverCpuPct.toFixed(0)}%) = ${s.usPerOp.toFixed(0)} µs/op, ${s.usPerMessage.toFixed(1)} µs/msg; ` +
    `SIPp ${s.sippCpuPct.toFixed(0)}%; others ${s.otherCpuSec.toFixed(2)} CPU-s`
  );
}

async function registerRamp(server: SipServerUnderTest, csv: string, opts: Options, out: StepResult[]): Promise<void> {
  for (const rate of opts.registerRates) {
    if (overBudget()) {
      log('  time budget reached: ramp stopped');
      break;
    }
    let s: StepResult | undefined;
    let res: SippResult | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const pids = server.pids();
      const cpu0 = cpuSecondsOf(pids);
      const m0 = machineBusySeconds();
      res = await runSipp({
        scenario: scenarioPath('uac-register-auth'),
        target: server.target,
        injectCsv: csv,
        calls: rate * opts.stepSec,
        rate,
        timeoutSec: opts.stepSec + 20,
        traceErrors: false,
        extraArgs: ['-nd', '-recv_timeout', '8000'],
      });
      const cpu1 = cpuSecondsOf(pids);
      const m1 = machineBusySeconds();
      s = { ...step(server, 'register', rate, res, cpu1 - cpu0, res.cpuSeconds, m1 - m0, 0), attempt };
      out.push(s);
      log(fmtStep(s));
      if (!server.alive()) throw new Error(`${server.name} exited during the step: ${server.output().slice(-600)}`);
      if ((res.exitCode ?? 0) > 1 || res.exitCode === null) {
        throw new Error(`SIPp ended with ${res.exitCode ?? res.signal} at ${rate}/s: ${res.stderr.slice(0, 600)}`);
      }
      if (!disturbedFailure(s) || attempt === 2 || overBudget()) break;
      log('    disturbed by other processes: step repeated once');
      await new Promise((r) => setTimeout(r, 3000));
    }
    if (s === undefined || res === undefined) break;
    if (!clean(s) || res.exitCode === null || (res.exitCode ?? 0) > 1) break;
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function callRamp(
  server: SipServerUnderTest,
  csv: string,
  callee: BenchUser,
  workDir: string,
  opts: Options,
  out: StepResult[],
): Promise<void> {
  const uas = await startRegisteredUas({
    target: server.target,
    ...callee,
    scenario: scenarioPath('uas-answer'),
    timeoutSec: opts.callRates.length * (opts.stepSec + 25) + 30,
    workDir,
    extraArgs: ['-trace_err', '-error_file', path.join(workDir, 'uas-errors.log')],
  });
  try {
    // Warm-up, not counted: the steady state of a box that has carried calls. Our media engine
    // keeps a closed leg's sockets bound for the next call on that port, and the default RTP range
    // (10000-20000) holds 2,500 calls' worth of port pairs: a cold range would measure first uses.
    await runSipp({
      scenario: scenarioPath('uac-invite-auth-call'),
      target: server.target,
      injectCsv: csv,
      service: callee.user,
      calls: CALL_WARMUP,
      rate: 500,
      timeoutSec: CALL_WARMUP / 500 + 20,
      traceErrors: false,
      extraArgs: ['-d', '200'],
    });
    await new Promise((r) => setTimeout(r, 1000));
    for (const rate of opts.callRates) {
      if (overBudget()) {
        log('  time budget reached: ramp stopped');
        break;
      }
      let s: StepResult | undefined;
      let res: SippResult | undefined;
      for (let attempt = 1; attempt <= 2; attempt++) {
        const pids = server.pids();
        const uasPids = processTree(uas.pid);
        const cpu0 = cpuSecondsOf(pids);
        const uas0 = cpuSecondsOf(uasPids);
        const m0 = machineBusySeconds();
        res = await runSipp({
          scenario: scenarioPath('uac-invite-auth-call'),
          target: server.target,
          injectCsv: csv,
          service: callee.user,
          calls: rate * opts.stepSec,
          rate,
          timeoutSec: opts.stepSec + 20,
          traceErrors: false,
          extraArgs: ['-d', String(opts.holdMs), '-recv_timeout', '8000'],
        });
        // Let the callee finish the last calls' BYE before reading CPU.
        await new Promise((r) => setTimeout(r, 500));
        const cpu1 = cpuSecondsOf(pids);
        const uas1 = cpuSecondsOf(uasPids);
        const m1 = machineBusySeconds();
        if (!server.alive()) throw new Error(`${server.name} exited during the step: ${server.output().slice(-600)}`);
        s = { ...step(server, 'call', rate, res, cpu1 - cpu0, res.cpuSeconds + (uas1 - uas0), m1 - m0, opts.holdMs / 1000), attempt };
        out.push(s);
        log(fmtStep(s));
        if (!disturbedFailure(s) || attempt === 2 || overBudget()) break;
        log('    disturbed by other processes: step repeated once');
        await new Promise((r) => setTimeout(r, opts.holdMs + 4000));
      }
      if (s === undefined || res === undefined) break;
      if (!clean(s) || res.exitCode === null || (res.exitCode ?? 0) > 1) break;
      // Calls of this step still in their hold time end before the next step.
      await new Promise((r) => setTimeout(r, opts.holdMs + 2500));
    }
  } finally {
    await uas.stop(3000);
  }
}

interface ServerRun {
  readonly name: string;
  readonly steps: StepResult[];
  readonly note: string;
}

async function benchServer(
  name: string,
  start: () => Promise<SipServerUnderTest>,
  users: readonly BenchUser[],
  callee: BenchUser,
  workDir: string,
  opts: Options,
): Promise<ServerRun> {
  log(`== ${name}`);
  let server: SipServerUnderTest | undefined;
  const steps: StepResult[] = [];
  try {
    server = await start();
    liveServers.add(server);
    const csv = writeUserCsv(path.join(workDir, `users-${name}.csv`), users);
    // Warm-up, not counted: first registrations load caches (and JIT-compile a Node server).
    await runSipp({
      scenario: scenarioPath('uac-register-auth'),
      target: server.target,
      injectCsv: csv,
      calls: 1000,
      rate: 500,
      timeoutSec: 20,
      traceErrors: false,
      extraArgs: ['-nd'],
    });
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    budgetEnd = t0 + PER_SERVER_BUDGET_MS * 0.45;
    await registerRamp(server, csv, opts, steps);
    await new Promise((r) => setTimeout(r, 2000));
    budgetEnd = t0 + PER_SERVER_BUDGET_MS;
    await callRamp(server, csv, callee, workDir, opts, steps);
    return { name: server.name, steps, note: '' };
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error);
    log(`  ${name} failed: ${msg.slice(0, 1500)}`);
    const reason = msg
      .replace(/The following events occurred:/g, '')
      .replace(/\d{4}-\d\d-\d\d\s+[\d:.]+\s+[\d.]+:\s*/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    return { name: server?.name ?? name, steps, note: `run failed: ${reason.slice(0, 300)}` };
  } finally {
    await server?.stop();
    if (server !== undefined) liveServers.delete(server);
  }
}

/** A step that carried its offered rate: < 1% failures and >= 95% of the offered rate achieved (not late, through retransmissions). */
function clean(s: StepResult): boolean {
  return s.failurePct < FAILURE_LIMIT * 100 && s.achievedRate >= 0.95 * s.offeredRate;
}

/** The headline of a ramp: its largest step with every smaller step clean (hw-tests/support/ramp.ts). */
function capacity(steps: readonly StepResult[], kind: StepResult['kind']): StepResult | undefined {
  return headline(steps.filter((s) => s.kind === kind), (s) => s.offeredRate, clean);
}

function n(v: number, digits = 0): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

function markdown(runs: readonly ServerRun[], opts: Options, started: Date): string {
  const lines: string[] = [];
  lines.push('## SIP');
  lines.push('');
  lines.push(
    `Measured by \`make bench\` (\`node dist/bench/sip/run.js\`) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${os.cpus().length} CPUs (\`nproc\` ${os.availableParallelism()}), ${cpuModel()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `Linux ${os.release()}, Node ${process.version}. Loopback only; SIPp 3.6 (UDP, \`-buff_size 4194304\`) and the server share the machine.`,
  );
  lines.push('');
  lines.push(
    `Each step offers a fixed rate for ${opts.stepSec} s; a ramp stops at the first step that is not clean (>= 1% failures, or < 95% of the offered rate carried), and its headline is the largest step with every smaller step clean ` +
      '(a failing step during which other processes used half a core or more is repeated once, marked "repeat"; ' +
      'a time budget of 4 minutes per server can also end a ramp). ' +
      `A warm-up of 1,000 registrations at 500/s precedes each server's ramps, and one of 3,000 calls at 500/s its call ramp (not counted; it uses every RTP port pair of the default range once, as a box that has carried calls has). Users: ${opts.users} extensions, the same in both servers (Kamailio: \`subscriber\` table of auth_db over db_sqlite, ` +
      'usrloc db_mode=0, 4 UDP workers; ours: extensions in its store). ' +
      'CPU is utime+stime of the server\'s own processes (/proc/<pid>/stat, all Kamailio processes; our `pbx-sip` process) ' +
      `read before and after each step, divided by successful operations. A REGISTER counts ${MESSAGES_PER_REGISTER} messages ` +
      `(REGISTER, 401, REGISTER with credentials, 200); a call ${MESSAGES_PER_CALL} (caller leg 10 incl. the 407/401 challenge, callee leg 7), ` +
      `hold time ${opts.holdMs} ms. "achieved" is successful operations per second of SIPp's run (less the hold time for calls). "SIPp CPU" is SIPp's own share of one core (UAC, plus the callee UAS for calls): ` +
      'near 100% means SIPp, not the server, is the limit. "others" is the process CPU (user+system, /proc/stat) of the rest of the machine during the step: other work on the box (a disturbed step shows it); kernel softirq time (loopback packet processing) is left out.',
  );
  lines.push('');
  lines.push('### Capacity at < 1% failures (and >= 95% of the offered rate carried)');
  lines.push('');
  lines.push('| server | REGISTER/s (offered) | µs CPU / REGISTER | calls/s (offered) | µs CPU / call | µs CPU / call message |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    const reg = capacity(r.steps, 'register');
    const call = capacity(r.steps, 'call');
    lines.push(
      `| ${r.name} | ${reg ? `${n(reg.achievedRate)} (${reg.offeredRate})` : '–'} | ${reg ? n(reg.usPerOp) : '–'} | ` +
        `${call ? `${n(call.achievedRate)} (${call.offeredRate})` : '–'} | ${call ? n(call.usPerOp) : '–'} | ${call ? n(call.usPerMessage, 1) : '–'} |`,
    );
  }
  lines.push('');
  lines.push(...comparison(runs));
  lines.push('### Every step');
  lines.push('');
  lines.push(
    '| server | test | offered /s | ok / attempted | failed % | retrans | achieved /s | server CPU % | µs CPU / op | µs CPU / msg | SIPp CPU % | others CPU-s |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    for (const s of r.steps) {
      lines.push(
        `| ${s.server} | ${s.kind === 'register' ? 'REGISTER+auth' : 'call'}${s.attempt === 2 ? ' (repeat)' : ''} | ${s.offeredRate} | ${s.successful} / ${s.attempted} | ` +
          `${n(s.failurePct, 2)} | ${s.retransmissions} | ${n(s.achievedRate)} | ${n(s.serverCpuPct)} | ${n(s.usPerOp)} | ` +
          `${n(s.usPerMessage, 1)} | ${n(s.sippCpuPct)} | ${n(s.otherCpuSec, 2)} |`,
      );
    }
  }
  lines.push('');
  const notes = runs.filter((r) => r.note.length > 0).map((r) => `- ${r.name}: ${r.note}`);
  lines.push('### Notes');
  lines.push('');
  lines.push(...notes);
  lines.push(...boundNotes(runs));
  lines.push(
    '- Kamailio runs several UDP worker processes and can use both cores (server CPU % above 100); ' +
      'a single-process server tops out at one core (~100%), where its ramp then collapses through retransmissions.',
    '- The figures are from one shared 2-core machine: SIPp, the server and anything else running compete for the same cores; ' +
      'compare servers at the same offered rate (the table above), not across runs.',
  );
  lines.push('');
  // The profile-based analysis is written by hand and kept across runs (bench/sip/what-bounds-us.md).
  if (fs.existsSync(BOUNDS_DOC)) lines.push(fs.readFileSync(BOUNDS_DOC, 'utf8').trimEnd(), '');
  return lines.join('\n');
}

/** Ours against the reference at the same offered rates (steps both carried cleanly). */
function comparison(runs: readonly ServerRun[]): string[] {
  const ref = runs.find((r) => r.name === 'kamailio');
  const oursRuns = runs.filter((r) => r.name !== 'kamailio' && r.steps.length > 0);
  if (ref === undefined || oursRuns.length === 0) return [];
  const lines = [
    '### Ours against Kamailio at the same offered rate',
    '',
    '| test | offered /s | Kamailio µs CPU / op | ours µs CPU / op | ours / Kamailio | Kamailio CPU % | ours CPU % |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const ours of oursRuns) for (const s of ours.steps) {
    const k = ref.steps.findLast((x) => x.kind === s.kind && x.offeredRate === s.offeredRate);
    if (k === undefined || !clean(k) || !clean(s)) continue;
    const variant = ours.name === SIGNALLING_ONLY ? ' (ours: signalling only, PBX_MEDIA_ANCHOR=0)' : '';
    lines.push(
      `| ${s.kind === 'register' ? 'REGISTER+auth' : 'call'}${variant} | ${s.offeredRate} | ${n(k.usPerOp)} | ${n(s.usPerOp)} | ` +
        `${n(s.usPerOp / k.usPerOp, 2)}× | ${n(k.serverCpuPct)} | ${n(s.serverCpuPct)} |`,
    );
  }
  lines.push('');
  return lines;
}

/** What bounds each ramp's last good step, read from the figures. */
function boundNotes(runs: readonly ServerRun[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    for (const kind of ['register', 'call'] as const) {
      const steps = r.steps.filter((s) => s.kind === kind);
      const last = steps[steps.length - 1];
      const good = capacity(r.steps, kind);
      if (last === undefined) {
        if (r.name === SIGNALLING_ONLY && kind === 'register') continue; // REGISTER does not touch media: see ours
        out.push(`- ${r.name}, ${kind}: not measured.`);
        continue;
      }
      const what = kind === 'register' ? 'REGISTER' : 'call';
      const stopped = !clean(last);
      const othersPct = (100 * last.otherCpuSec) / last.wallSec;
      let bound: string;
      if (!stopped) bound = 'the ramp ended with every step clean (every offered rate was carried)';
      else if (last.successful === 0) bound = `nothing succeeded at ${last.offeredRate}/s (see the run note)`;
      else if (last.sippCpuPct >= 90) bound = `SIPp (${n(last.sippCpuPct)}% of a core at the failing step) is the limit, not the server`;
      else if (othersPct >= 50)
        bound = `the failing step at ${last.offeredRate}/s was disturbed: other processes used ${n(othersPct)}% of a core (server ${n(last.serverCpuPct)}%, SIPp ${n(last.sippCpuPct)}%)`;
      else if (last.serverCpuPct + last.sippCpuPct + othersPct >= 170)
        bound = `the two cores are saturated at ${last.offeredRate}/s (server ${n(last.serverCpuPct)}%, SIPp ${n(last.sippCpuPct)}%, others ${n(othersPct)}%)`;
      else
        bound = `at ${last.offeredRate}/s the server (${n(last.serverCpuPct)}% CPU, SIPp ${n(last.sippCpuPct)}%) fell behind and UDP retransmissions (${last.retransmissions}) collapsed the run to ${n(last.failurePct, 1)}% failures`;
      const disturbed = steps.filter((s) => s.otherCpuSec / s.wallSec > 0.15).map((s) => s.offeredRate);
      out.push(
        `- ${r.name}, ${what}: ${good ? `${n(good.achievedRate)}/s clean` : 'no clean step'}; ${bound}.` +
          (disturbed.length > 0 ? ` Other processes used > 15% of a core during the steps at ${disturbed.join(', ')}/s.` : ''),
      );
    }
  }
  return out;
}

const LAST_RUN = path.join(os.tmpdir(), 'bench-sip-last.json');
const liveServers = new Set<SipServerUnderTest>();

interface SavedRun {
  readonly started: string;
  readonly opts: Options;
  readonly runs: ServerRun[];
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.fromJson !== undefined) {
    const saved = JSON.parse(fs.readFileSync(opts.fromJson, 'utf8')) as SavedRun;
    const section = markdown(saved.runs, saved.opts, new Date(saved.started));
    log(section);
    writeSection(PERF_DOC, section);
    return;
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSipp();
      void Promise.all([...liveServers].map((s) => s.stop())).finally(() => process.exit(130));
    });
  }
  const started = new Date();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sip-'));
  const users = makeUsers(opts.users);
  const callee: BenchUser = { user: '3000', password: 'secret-3000' };
  const all = [...users, callee];
  const runs: ServerRun[] = [];
  const boundMs = PER_SERVER_BUDGET_MS * opts.servers.length + 3 * 60_000;
  exitAtBound('SIP bench', boundMs);
  try {
    for (const name of opts.servers) {
      if (name === 'kamailio') {
        runs.push(
          await benchServer('kamailio', () => startKamailio({ users: all, workDir: path.join(workDir, 'kamailio'), children: 4 }), users, callee, workDir, opts),
        );
      } else if (name === 'ours') {
        if (!pbxAvailable()) {
          runs.push({ name: 'ours (pbx-sip)', steps: [], note: 'not run: dist/services/pbx/main.js is not built' });
          continue;
        }
        runs.push(await benchServer('ours', () => startPbx({ users: all, workDir: path.join(workDir, 'ours') }), users, callee, workDir, opts));
      } else if (name === 'ours-signalling') {
        // Calls only (its REGISTER path is the same as ours): anchoring off, like Kamailio as a proxy.
        if (!pbxAvailable()) continue;
        const start = async (): Promise<SipServerUnderTest> => ({
          ...(await startPbx({ users: all, workDir: path.join(workDir, 'ours-signalling'), env: { PBX_MEDIA_ANCHOR: '0' } })),
          name: SIGNALLING_ONLY,
        });
        runs.push(await benchServer(name, start, users, callee, workDir, { ...opts, registerRates: [] }));
      } else {
        throw new Error(`unknown server ${name}`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    killAllSipp();
  }
  fs.writeFileSync(LAST_RUN, JSON.stringify({ started: started.toISOString(), opts, runs } satisfies SavedRun, null, 1));
  const section = markdown(runs, opts, started);
  log('');
  log(section);
  writeSection(PERF_DOC, section);
  log(`written to ${path.relative(REPO_ROOT, PERF_DOC)} (raw figures: ${LAST_RUN}; re-render with --from-json)`);
  fs.rmSync(workDir, { recursive: true, force: true });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    killAllSipp();
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
