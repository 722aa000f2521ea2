/**
 * `make bench`, steady load (issue 21): "100,000 refreshes and 20,000 calls in steady load leave
 * every process's idle RSS where it was after the first 5,000 operations". The appliance runs as
 * shipped (image/supervisor.cjs and image/ecosystem.config.cjs); every process of the supervisor's
 * tree is measured (found in /proc, so apps added later are counted). SIPp on loopback: 200 phones
 * refresh their registration (REGISTER, 401, REGISTER with credentials, 200) at 200/s, always from
 * one address, and answer the pbx's keepalive OPTIONS between refreshes, as desk phones do; calls
 * go at 60/s to a registered SIPp callee, with media anchored in our relay: the caller streams
 * 200 ms of G.711 (SIPp rtp_stream) through the relay to the callee, which echoes it back through
 * the relay (-rtp_echo). The first 5,000 operations (refreshes and calls in the run's mix) come
 * first; then 60 s of quiet and each process's idle RSS (the mean of 5 samples a second apart);
 * then the rest in --checkpoints parts (4), each followed by the same quiet and figure: the curve
 * of idle memory over the run, with the pbx's own breakdown (V8 heap live and kept, code, outside
 * the heap: its `status`). Verdict: every process within --tolerance-mb (5 MB) of its figure after
 * the first 5,000, at the end.
 * Bounded: every SIPp run has a timeout, and the whole bench stops at a time bound.
 * Writes the '## Steady load' section of docs/performance.md.
 *
 * Steady, not a flood: at 1,000 refreshes/s and 80 calls/s this 2-core box shed load with 503 (the
 * transactions lingering 32 s filled the pbx's heap budget, services/sip/overload.ts), so the run
 * carried 31,301 of 60,000 refreshes; the flood is bench/soak/run.ts's job.
 *   node dist/bench/soak/steady.js [--refreshes 100000] [--calls 20000] [--refresh-rate 200] [--call-rate 60]
 *        [--phones 200] [--quiet-sec 60] [--tolerance-mb 5] [--checkpoints 4]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegisteredUas } from '../../hw-tests/support/sipp-callee.js';
import { exitAtBound, freePort, freePortBoth, killAllSipp, runSipp, scenarioPath, startSippUas, writeUserCsv, type SippResult, type SippUasHandle } from '../../hw-tests/support/sipp.js';
import { createPbxExtensions, makeUsers, type BenchUser } from '../../hw-tests/support/sip-servers.js';
import { applianceEnv } from '../../hw-tests/support/pbx-env.js';
import { captureOutput, interruptTree, processTree } from '../../hw-tests/support/proc.js';
import { CtlClient } from '../../services/ctl/client.js';
import type { MemoryBreakdown } from '../../services/memory/usage.js';
import { openStore } from '../../services/store/index.js';
import { loadAverage, readMemory, replaceSection, stackProcessName } from './memory.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PERF_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');
const SUPERVISOR = path.join(REPO_ROOT, 'image', 'supervisor.cjs');
const ECOSYSTEM = path.join(REPO_ROOT, 'image', 'ecosystem.config.cjs');
const FIRST_OPS = 5000;
const HOLD_MS = 200;

interface Options {
  refreshes: number;
  calls: number;
  refreshRate: number;
  callRate: number;
  phones: number;
  quietSec: number;
  toleranceMb: number;
  checkpoints: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { refreshes: 100_000, calls: 20_000, refreshRate: 200, callRate: 60, phones: 200, quietSec: 60, toleranceMb: 5, checkpoints: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const n = Number(argv[i + 1]);
    switch (argv[i]) {
      case '--refreshes':
        o.refreshes = Math.max(0, Math.min(1_000_000, n));
        break;
      case '--calls':
        o.calls = Math.max(0, Math.min(200_000, n));
        break;
      case '--refresh-rate':
        o.refreshRate = Math.max(1, Math.min(5000, n));
        break;
      case '--call-rate':
        o.callRate = Math.max(1, Math.min(500, n));
        break;
      case '--phones':
        o.phones = Math.max(1, Math.min(5000, n));
        break;
      case '--quiet-sec':
        o.quietSec = Math.max(5, Math.min(300, n));
        break;
      case '--checkpoints':
        o.checkpoints = Math.max(1, Math.min(10, Math.floor(n)));
        break;
      case '--tolerance-mb':
        o.toleranceMb = Math.max(0.5, Math.min(100, n));
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return o;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** 0.2 s of a 440 Hz tone, G.711 µ-law in a WAV file (what SIPp's rtp_stream plays). */
function writeToneWav(file: string): void {
  const samples = 1600;
  const data = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) data[i] = linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(7, 20); // WAVE_FORMAT_MULAW
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** ITU-T G.711 µ-law encoding of one 16-bit sample. */
function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = 0;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** The committed call scenario, with SIPp's RTP stream: its own port per call, the tone played after the ACK. */
function writeRtpScenario(dir: string, wav: string): string {
  let xml = fs.readFileSync(scenarioPath('uac-invite-auth-call'), 'utf8');
  xml = xml.replaceAll('m=audio [media_port] RTP/AVP 0 8 101', 'm=audio [rtpstream_audio_port] RTP/AVP 0 8 101');
  const pauses = xml.split('<pause/>').length - 1;
  if (pauses !== 1 || !xml.includes('[rtpstream_audio_port]')) throw new Error('uac-invite-auth-call.xml changed: the RTP variant needs its SDP media line and one <pause/>');
  xml = xml.replace('<pause/>', `<nop><action><exec rtp_stream="${wav},1,0"/></action></nop>\n  <pause/>`);
  const file = path.join(dir, 'uac-invite-auth-call-rtp.xml');
  fs.writeFileSync(file, xml);
  return file;
}

interface ProcessIdle {
  readonly pid: number;
  readonly name: string;
  readonly rssMb: number;
  readonly pssMb: number;
  /** Anonymous resident memory (heap, stacks, the relay's tables), the part that can grow. */
  readonly anonMb: number;
}

/** Every process of the tree, idle: the mean of 5 samples a second apart after `quietMs`. */
async function idleByProcess(root: number, quietMs: number): Promise<ProcessIdle[]> {
  await sleep(quietMs);
  const sums = new Map<number, { rss: number; pss: number; anon: number; n: number }>();
  for (let i = 0; i < 5; i++) {
    for (const pid of processTree(root)) {
      const m = readMemory(pid);
      if (m === undefined) continue;
      const s = sums.get(pid) ?? { rss: 0, pss: 0, anon: 0, n: 0 };
      s.rss += m.rssKb / 1024;
      s.pss += m.pssKb / 1024;
      s.anon += m.anonKb / 1024;
      s.n++;
      sums.set(pid, s);
    }
    await sleep(1000);
  }
  return [...sums.entries()].map(([pid, s]) => ({ pid, name: stackProcessName(pid), rssMb: s.rss / s.n, pssMb: s.pss / s.n, anonMb: s.anon / s.n }));
}

const COMPACTED = '"msg":"load ended: memory handed back"';

/** How many times the pbx has compacted after a busy spell (its own log, services/sip/overload.ts). */
function compactions(dataDir: string): number {
  const dir = path.join(dataDir, 'logs');
  let count = 0;
  for (const file of fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('pbx') && !f.includes('stderr')) : []) {
    count += fs.readFileSync(path.join(dir, file), 'utf8').split(COMPACTED).length - 1;
  }
  return count;
}

/**
 * Idle figures once the box has settled by itself: at least `quietSec` of quiet, and until the pbx
 * has handed a busy spell's memory back (it does so 40 s after load ends), at most 60 s more.
 */
async function settledIdle(root: number, dataDir: string, quietSec: number): Promise<{ idle: ProcessIdle[]; compacted: boolean; waitedSec: number }> {
  const before = compactions(dataDir);
  const start = performance.now();
  await sleep(quietSec * 1000);
  while (compactions(dataDir) <= before && performance.now() - start < (quietSec + 60) * 1000) await sleep(1000);
  const compacted = compactions(dataDir) > before;
  const waitedSec = Math.round((performance.now() - start) / 1000);
  return { idle: await idleByProcess(root, 0), compacted, waitedSec };
}

/** The pbx's own memory breakdown (its `status` over the control socket), null when it does not answer. */
async function pbxMemory(dataDir: string): Promise<MemoryBreakdown | null> {
  try {
    const client = await CtlClient.connect(path.join(dataDir, 'pbx.sock'), { timeoutMs: 5000, connectTimeoutMs: 2000 });
    try {
      return (await client.request('status')).memory ?? null;
    } finally {
      client.close();
    }
  } catch {
    return null;
  }
}

interface Appliance {
  readonly child: ChildProcess;
  readonly target: string;
  output(): string;
  stop(): Promise<void>;
}

async function startAppliance(dataDir: string): Promise<Appliance> {
  const port = await freePortBoth('127.0.0.1');
  const child = spawn(SUPERVISOR, ['start', '--no-auto-exit', ECOSYSTEM], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...applianceEnv(dataDir, port),
      // As on the appliance (image/pbx.service): the pbx's log goes to its files, not through pm2.
      PBX_LOG_STDOUT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const deadline = performance.now() + 60_000;
  while (!/SIP udp\s+sip:/.test(output())) {
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`the appliance did not start:\n${output().slice(-2000)}`);
    await sleep(50);
  }
  return {
    child,
    target: `127.0.0.1:${port}`,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await interruptTree(child, 15_000);
    },
  };
}

interface Counts {
  refreshesOk: number;
  refreshesTried: number;
  callsOk: number;
  callsTried: number;
}

function tried(r: SippResult): number {
  return Math.max(r.created, r.successful + r.failed);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const loadBefore = loadAverage();
  // Bounded: both phases at their rates, the quiet spells, start and stop, with margin.
  const boundMs = (opts.refreshes / opts.refreshRate + opts.calls / opts.callRate + (1 + opts.checkpoints) * (opts.quietSec + 70) + 300) * 1000;
  exitAtBound('steady bench', boundMs);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-steady-'));
  const dataDir = path.join(work, 'data');
  fs.mkdirSync(dataDir);
  const phones = makeUsers(opts.phones);
  const callee: BenchUser = { user: '3000', password: 'secret-3000' };
  await createPbxExtensions(dataDir, [...phones, callee]);
  const csv = writeUserCsv(path.join(work, 'phones.csv'), phones);
  const wav = path.join(work, 'tone.wav');
  writeToneWav(wav);
  const callScenario = writeRtpScenario(work, wav);

  let appliance: Appliance | null = null;
  const counts: Counts = { refreshesOk: 0, refreshesTried: 0, callsOk: 0, callsTried: 0 };
  let after5k: ProcessIdle[] = [];
  let firstOps = FIRST_OPS;
  const settled: string[] = [];
  let atEnd: ProcessIdle[] = [];
  /** The idle points: operations carried so far, every process, the pbx's own view. */
  const curve: Array<{ label: string; refreshes: number; calls: number; idle: ProcessIdle[]; pbx: MemoryBreakdown | null; settled: string }> = [];
  const warnings = new Map<string, number>();
  const media = { calls: 0, withPackets: 0, packetsIn: 0, packetsOut: 0 };
  try {
    appliance = await startAppliance(dataDir);
    const app = appliance;
    const root = app.child.pid ?? -1;
    log(`appliance up (${processTree(root).map((pid) => stackProcessName(pid)).join(', ')}); ${opts.phones} phones register`);
    // The phones keep one address, as desk phones do: every REGISTER run comes from this port (a
    // SIPp run from a new port would add a binding per phone, 200 more each part, and the pbx's
    // idle work would grow with them), and between the runs they answer the pbx's keepalive
    // OPTIONS there (hw-tests/support/sipp-scenarios/uas-answer-options.xml).
    const phonePort = await freePort('udp');
    let answering: SippUasHandle | null = null;
    const phonesAnswer = async (): Promise<void> => {
      answering = await startSippUas({ scenario: scenarioPath('uas-answer-options'), localPort: phonePort, timeoutSec: boundMs / 1000, traceErrors: false, extraArgs: ['-nd'] });
    };
    const phonesStopAnswering = async (): Promise<void> => {
      const a: SippUasHandle | null = answering;
      answering = null;
      if (a !== null) await a.stop(1000);
    };
    const register = async (count: number, rate: number): Promise<SippResult> => {
      await phonesStopAnswering();
      try {
        return await runSipp({ scenario: scenarioPath('uac-register-auth'), target: app.target, localPort: phonePort, injectCsv: csv, calls: count, rate, timeoutSec: count / rate + 60, traceErrors: false, extraArgs: ['-nd', '-recv_timeout', '8000'] });
      } finally {
        await phonesAnswer();
      }
    };
    await register(opts.phones, 200);
    const echoPort = await freePort('udp');
    const uas = await startRegisteredUas({
      target: app.target,
      ...callee,
      scenario: scenarioPath('uas-answer'),
      timeoutSec: opts.calls / opts.callRate + opts.refreshes / opts.refreshRate + 2 * opts.quietSec + 600,
      workDir: work,
      extraArgs: ['-rtp_echo', '-mp', String(echoPort)],
    });
    try {
      const refresh = async (count: number): Promise<void> => {
        if (count <= 0) return;
        const r = await register(count, opts.refreshRate);
        counts.refreshesOk += r.successful;
        counts.refreshesTried += tried(r);
      };
      const call = async (count: number): Promise<void> => {
        if (count <= 0) return;
        const rtpBase = await freePort('udp');
        const r = await runSipp({
          scenario: callScenario,
          target: app.target,
          injectCsv: csv,
          service: callee.user,
          calls: count,
          rate: opts.callRate,
          timeoutSec: count / opts.callRate + 60,
          traceErrors: false,
          extraArgs: ['-d', String(HOLD_MS), '-recv_timeout', '8000', '-mp', String(rtpBase)],
        });
        counts.callsOk += r.successful;
        counts.callsTried += tried(r);
      };
      // The first 5,000 operations (half the run when it is shorter), in the run's mix.
      const total = opts.refreshes + opts.calls;
      firstOps = Math.min(FIRST_OPS, Math.floor(total / 2));
      const firstRefreshes = Math.round((firstOps * opts.refreshes) / Math.max(1, total));
      const firstCalls = firstOps - firstRefreshes;
      await refresh(firstRefreshes);
      await call(firstCalls);
      log(`first ${firstOps} operations done (${counts.refreshesOk} refreshes, ${counts.callsOk} calls ok); ${opts.quietSec} s of quiet`);
      const first = await settledIdle(root, dataDir, opts.quietSec);
      after5k = first.idle;
      const how = (s: { compacted: boolean; waitedSec: number }): string => (s.compacted ? `compacted, measured after ${s.waitedSec} s` : `no compaction logged within ${s.waitedSec} s`);
      settled.push(how(first));
      curve.push({ label: `first ${firstOps.toLocaleString('en-US')}`, refreshes: counts.refreshesOk, calls: counts.callsOk, idle: first.idle, pbx: await pbxMemory(dataDir), settled: how(first) });
      log(`idle after ${firstOps}: ${after5k.map((p) => `${p.name} ${p.rssMb.toFixed(1)} MB`).join(', ')}`);
      // The rest in parts, each in the run's mix, with an idle point after each: the curve.
      let refreshesLeft = opts.refreshes - firstRefreshes;
      let callsLeft = opts.calls - firstCalls;
      let end = first;
      for (let k = opts.checkpoints; k >= 1; k--) {
        const r = Math.round(refreshesLeft / k);
        const c = Math.round(callsLeft / k);
        await refresh(r);
        await call(c);
        refreshesLeft -= r;
        callsLeft -= c;
        log(`part ${opts.checkpoints - k + 1}/${opts.checkpoints} done (${counts.refreshesOk}/${counts.refreshesTried} refreshes, ${counts.callsOk}/${counts.callsTried} calls ok); ${opts.quietSec} s of quiet`);
        end = await settledIdle(root, dataDir, opts.quietSec);
        curve.push({ label: k === 1 ? 'end' : `part ${opts.checkpoints - k + 1}`, refreshes: counts.refreshesOk, calls: counts.callsOk, idle: end.idle, pbx: await pbxMemory(dataDir), settled: how(end) });
        log(`idle: ${end.idle.map((p) => `${p.name} ${p.rssMb.toFixed(1)} MB (anon ${p.anonMb.toFixed(1)})`).join(', ')}`);
      }
      atEnd = end.idle;
      settled.push(how(end));
    } finally {
      await uas.stop(3000);
      await phonesStopAnswering();
    }
    // What the pbx warned about meanwhile (shed load, blocks, timeouts), from its own log files.
    const logDir = path.join(dataDir, 'logs');
    for (const file of fs.existsSync(logDir) ? fs.readdirSync(logDir).filter((f) => f.startsWith('pbx') && !f.includes('stderr')) : []) {
      for (const line of fs.readFileSync(path.join(logDir, file), 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string };
          if ((entry.level ?? 0) >= 40) warnings.set(entry.msg ?? '?', (warnings.get(entry.msg ?? '?') ?? 0) + 1);
        } catch {
          // a line cut by rotation
        }
      }
    }
    // Media went through the relay: the call records' RTP counts of the last calls.
    const store = openStore(dataDir);
    try {
      const records = store.cdr.list({ limit: 200 });
      for (const record of records) {
        media.calls++;
        const legs = record.legs.map((l) => l.quality).filter((q) => q !== null);
        if (legs.some((q) => q.packetsIn > 0)) media.withPackets++;
        for (const q of legs) {
          media.packetsIn += q.packetsIn;
          media.packetsOut += q.packetsOut;
        }
      }
    } finally {
      store.close();
    }
  } finally {
    killAllSipp();
    await appliance?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();

  const rows = after5k.map((first) => {
    const end = atEnd.find((p) => p.pid === first.pid);
    return { first, end, delta: end === undefined ? Number.NaN : end.rssMb - first.rssMb };
  });
  const restarted = atEnd.filter((p) => !after5k.some((f) => f.pid === p.pid));
  const ok = rows.every((r) => r.end !== undefined && Math.abs(r.delta) <= opts.toleranceMb) && restarted.length === 0;
  const lines: string[] = ['## Steady load', ''];
  lines.push(
    `Measured by \`node dist/bench/soak/steady.js\` (part of \`make bench\`) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs, Node ${process.version}; ` +
      `load average ${loadBefore} before, ${loadAfter} after (the machine is shared). The appliance as shipped (image/supervisor.cjs, image/ecosystem.config.cjs), every process of its tree measured. ` +
      `SIPp on loopback: ${opts.phones} phones refresh their registration with digest authentication at ${opts.refreshRate}/s, always from one address (${opts.phones} bindings), and answer the pbx's keepalive OPTIONS between refreshes; calls at ${opts.callRate}/s to a registered SIPp callee, ` +
      `media anchored in our relay: ${HOLD_MS} ms of G.711 from the caller (SIPp rtp_stream) through the relay to the callee, which echoes it back (-rtp_echo). ` +
      `The first ${firstOps.toLocaleString('en-US')} operations (refreshes and calls in the run's mix), at least ${opts.quietSec} s of quiet and until the pbx has compacted (at most 60 s more), idle RSS of each process (mean of 5 samples); ` +
      `then the rest, the same quiet and figure. Verdict: every process within ${opts.toleranceMb} MB.`,
    '',
    `Carried: ${counts.refreshesOk.toLocaleString('en-US')} of ${opts.refreshes.toLocaleString('en-US')} refreshes (${counts.refreshesTried.toLocaleString('en-US')} attempted), ` +
      `${counts.callsOk.toLocaleString('en-US')} of ${opts.calls.toLocaleString('en-US')} calls (${counts.callsTried.toLocaleString('en-US')} attempted). ` +
      `Media: of the last ${media.calls} call records, ${media.withPackets} carried RTP through the relay (${media.packetsIn.toLocaleString('en-US')} packets in, ${media.packetsOut.toLocaleString('en-US')} out over their legs).`,
    '',
    `Quiet before each idle figure (the pbx hands a busy spell's memory back 40 s after it): after the first operations ${settled[0] ?? '–'}; at the end ${settled[1] ?? '–'}. ` +
    `Warnings the pbx logged during the run: ${warnings.size === 0 ? 'none' : [...warnings.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([m, n]) => `"${m}" × ${n.toLocaleString('en-US')}`).join('; ')}.`,
    '',
    `| process | idle RSS after the first ${firstOps.toLocaleString('en-US')} | idle RSS at the end | change | of which anonymous | idle PSS after / at the end | within ${opts.toleranceMb} MB |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const r of rows) {
    lines.push(
      `| ${r.first.name} (pid ${r.first.pid}) | ${r.first.rssMb.toFixed(1)} MB | ${r.end === undefined ? 'gone (restarted?)' : `${r.end.rssMb.toFixed(1)} MB`} | ${Number.isNaN(r.delta) ? '–' : `${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(1)} MB`} | ${r.end === undefined ? '–' : `${r.end.anonMb - r.first.anonMb >= 0 ? '+' : ''}${(r.end.anonMb - r.first.anonMb).toFixed(1)} MB`} | ${r.first.pssMb.toFixed(1)} / ${r.end?.pssMb.toFixed(1) ?? '–'} MB | ${r.end !== undefined && Math.abs(r.delta) <= opts.toleranceMb ? 'yes' : 'no'} |`,
    );
  }
  for (const p of restarted) lines.push(`| ${p.name} (pid ${p.pid}, new) | – | ${p.rssMb.toFixed(1)} MB | – | – | – / ${p.pssMb.toFixed(1)} MB | no (a process restarted) |`);
  const carriedAll = counts.refreshesOk === opts.refreshes && counts.callsOk === opts.calls;
  lines.push(
    '',
    `Verdict: ${ok ? `**every process's idle RSS stayed within ${opts.toleranceMb} MB**` : `**not met**: a process moved more than ${opts.toleranceMb} MB or restarted`}` +
      `${carriedAll ? '' : ` (the run carried ${counts.refreshesOk.toLocaleString('en-US')} refreshes and ${counts.callsOk.toLocaleString('en-US')} calls, not the full count: see load average)`}.`,
  );
  lines.push(
    '',
    `The curve: each process's idle RSS (anonymous part in brackets) at every idle point, and the pbx's own breakdown then (\`status\`, services/memory/usage.ts: V8's heap live / pages kept, old space live / kept, compiled code, memory outside the heap).`,
    '',
    `| idle point | refreshes, calls carried | ${after5k.map((p) => p.name).join(' | ')} | pbx: JS heap live / kept | old space live / kept | code | outside the heap | settled |`,
    `| --- | ---: | ${after5k.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | --- |`,
  );
  for (const point of curve) {
    const cells = after5k.map((f) => {
      const p = point.idle.find((q) => q.pid === f.pid);
      return p === undefined ? 'gone' : `${p.rssMb.toFixed(1)} MB (${p.anonMb.toFixed(1)})`;
    });
    const m = point.pbx;
    const mb = (kb: number): string => `${(kb / 1024).toFixed(1)}`;
    lines.push(
      `| ${point.label} | ${point.refreshes.toLocaleString('en-US')}, ${point.calls.toLocaleString('en-US')} | ${cells.join(' | ')} | ${m === null ? '–' : `${mb(m.heapUsedKb)} / ${mb(m.heapTotalKb)} MB`} | ${m === null ? '–' : `${mb(m.oldSpaceUsedKb)} / ${mb(m.oldSpaceKb)} MB`} | ${m === null ? '–' : `${mb(m.codeSpaceKb)} MB`} | ${m === null ? '–' : `${mb(m.externalKb)} MB`} | ${point.settled} |`,
    );
  }
  const section = lines.join('\n') + '\n';
  log('');
  log(section);
  replaceSection(PERF_DOC, '## Steady load', section);
  log(`written to ${path.relative(REPO_ROOT, PERF_DOC)}`);
  process.exitCode = 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    killAllSipp();
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
