/**
 * `make bench`, footprint: the memory of the whole appliance idle, summed over every process of
 * it (the pm2 supervisor and each app it runs, read from the supervisor's process tree, so an app
 * added to image/ecosystem.config.cjs is counted without touching this file), and how long
 * `scripts/run.sh` takes to be ready (the pbx logs "pbx started").
 *   1. the appliance as `make run` starts it (scripts/run.sh), several times: ready time and idle memory;
 *   2. the supervisor variants considered (plain pm2-runtime, with node flags), each with the same apps;
 *   3. Kamailio idle (the bench's configuration, 4 UDP workers) as the reference SIP server.
 * RSS counts a page shared by two processes (the node binary, libraries) in both. The stack's
 * resident memory counts every physical page of the tree once (pagemap, needs root); PSS sums are
 * given too but depend on the other node processes of the machine, which share the binary's pages.
 * Writes the '## Footprint' section of docs/performance.md.
 *
 *   node dist/bench/footprint/run.js [--idle-sec 15] [--runs 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortBoth } from '../../hw-tests/support/sipp.js';
import { startKamailio, makeUsers } from '../../hw-tests/support/sip-servers.js';
import { processTree, readProcStat } from '../../hw-tests/support/proc.js';
import { loadAverage, readMemory, replaceSection, sumMemory, uniqueResidentMb } from '../soak/memory.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PERF_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');
const PM2_RUNTIME = path.join(REPO_ROOT, 'node_modules', 'pm2', 'bin', 'pm2-runtime');
const ECOSYSTEM = path.join(REPO_ROOT, 'image', 'ecosystem.config.cjs');
const READY = /"msg":"pbx started"/;
/** The goal of issue 21: the whole stack idle. */
const GOAL_MB = 120;

interface ProcessFootprint {
  readonly pid: number;
  readonly name: string;
  readonly rssMb: number;
  readonly pssMb: number;
}

interface StackFootprint {
  readonly variant: string;
  readonly readyMs: number;
  readonly processes: ProcessFootprint[];
  readonly rssMb: number;
  readonly pssMb: number;
  /** Resident pages of the whole tree, each counted once (null without root). */
  readonly uniqueMb: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function processName(pid: number): string {
  const comm = readProcStat(pid)?.comm ?? '?';
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
    if (cmd.some((a) => a.endsWith('pm2-runtime'))) return 'pm2-runtime (supervisor)';
    if (cmd.length === 1) return cmd[0] ?? comm; // a process title (pbx-sip)
  } catch {
    // gone
  }
  return comm;
}

function measureTree(root: number): { processes: ProcessFootprint[]; rssMb: number; pssMb: number; uniqueMb: number | null } {
  const pids = processTree(root);
  const processes: ProcessFootprint[] = [];
  for (const pid of pids) {
    const m = readMemory(pid);
    if (m === undefined) continue;
    processes.push({ pid, name: processName(pid), rssMb: m.rssKb / 1024, pssMb: m.pssKb / 1024 });
  }
  const sum = sumMemory(pids);
  return { processes, rssMb: sum.rssKb / 1024, pssMb: sum.pssKb / 1024, uniqueMb: uniqueResidentMb(pids) };
}

/** Starts a command that runs the appliance, waits for "pbx started", idles, measures, stops. */
async function measureStack(variant: string, command: string, args: readonly string[], idleSec: number): Promise<StackFootprint> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-footprint-'));
  const port = await freePortBoth('127.0.0.1');
  const started = performance.now();
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PBX_DATA_DIR: dataDir,
      PM2_HOME: path.join(dataDir, 'pm2'),
      PBX_BIND: '127.0.0.1',
      PBX_SIP_PORT: String(port),
      PBX_SIP_TLS_PORT: '0',
      PBX_SIP_WS_PORT: '0',
      PBX_SIP_WSS_PORT: '0',
      PBX_HTTP_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let readyMs = Number.NaN;
  const onData = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-32_768);
    if (Number.isNaN(readyMs) && READY.test(out)) readyMs = performance.now() - started;
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  try {
    const deadline = performance.now() + 30_000;
    while (Number.isNaN(readyMs)) {
      if (child.exitCode !== null || performance.now() > deadline) throw new Error(`${variant}: not ready (exit ${child.exitCode}):\n${out.slice(-2000)}`);
      await sleep(20);
    }
    await sleep(idleSec * 1000);
    const tree = measureTree(child.pid ?? -1);
    return { variant, readyMs, ...tree };
  } finally {
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGINT');
    const timer = setTimeout(() => {
      for (const pid of processTree(child.pid ?? -1).reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, 10_000);
    await closed;
    clearTimeout(timer);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function fmt(mb: number): string {
  return `${mb.toFixed(1)} MB`;
}

function fmtOpt(mb: number | null): string {
  return mb === null ? 'n/a (not root)' : fmt(mb);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let idleSec = 15;
  let runs = 3;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--idle-sec') idleSec = Math.max(2, Math.min(120, Number(argv[i + 1])));
    else if (argv[i] === '--runs') runs = Math.max(1, Math.min(10, Number(argv[i + 1])));
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const when = new Date();
  const loadBefore = loadAverage();

  // 1. As `make run` starts it.
  const appliance: StackFootprint[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await measureStack('scripts/run.sh', 'bash', [path.join(REPO_ROOT, 'scripts', 'run.sh')], idleSec);
    appliance.push(r);
    log(`run.sh #${i + 1}: ready in ${r.readyMs.toFixed(0)} ms; resident ${fmtOpt(r.uniqueMb)}, RSS ${fmt(r.rssMb)}, PSS ${fmt(r.pssMb)}: ${r.processes.map((p) => `${p.name} ${fmt(p.rssMb)}/${fmt(p.pssMb)}`).join(', ')}`);
  }

  // 2. Supervisor variants, same apps (the pm2 app file as shipped).
  const variants: Array<[string, string[]]> = [
    ['pm2-runtime, default node', [PM2_RUNTIME, 'start', ECOSYSTEM]],
    ['pm2-runtime, node --max-semi-space-size=1', ['--max-semi-space-size=1', PM2_RUNTIME, 'start', ECOSYSTEM]],
    ['pm2-runtime, node --lite-mode --max-semi-space-size=1', ['--lite-mode', '--max-semi-space-size=1', PM2_RUNTIME, 'start', ECOSYSTEM]],
  ];
  const variantResults: StackFootprint[] = [];
  for (const [name, args] of variants) {
    const r = await measureStack(name, process.execPath, args, idleSec);
    variantResults.push(r);
    const sup = r.processes[0];
    log(`${name}: supervisor RSS ${fmt(sup?.rssMb ?? 0)} PSS ${fmt(sup?.pssMb ?? 0)}; stack resident ${fmtOpt(r.uniqueMb)} RSS ${fmt(r.rssMb)} PSS ${fmt(r.pssMb)}`);
  }

  // 3. Kamailio idle.
  const kamDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-footprint-kam-'));
  let kamailio: { rssMb: number; pssMb: number; uniqueMb: number | null; count: number } | null = null;
  try {
    const k = await startKamailio({ users: makeUsers(1000), workDir: kamDir, children: 4 });
    try {
      await sleep(idleSec * 1000);
      const m = sumMemory(k.pids());
      kamailio = { rssMb: m.rssKb / 1024, pssMb: m.pssKb / 1024, uniqueMb: uniqueResidentMb(k.pids()), count: k.pids().length };
      log(`kamailio idle: ${kamailio.count} processes, resident ${fmtOpt(kamailio.uniqueMb)}, RSS ${fmt(kamailio.rssMb)}, PSS ${fmt(kamailio.pssMb)}`);
    } finally {
      await k.stop();
    }
  } catch (error) {
    log(`kamailio not measured: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    fs.rmSync(kamDir, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();

  const lines: string[] = ['## Footprint', ''];
  lines.push(
    `Measured by \`node dist/bench/footprint/run.js\` (part of \`make bench\`) on ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs, Node ${process.version}; ` +
      `load average ${loadBefore} before, ${loadAfter} after (the machine is shared). Each stack is started in a fresh data dir, left idle ${idleSec} s after the pbx logs "pbx started", ` +
      `then every process of the supervisor's tree (read from /proc: the supervisor and each pm2 app, so apps added later are counted) is measured. ` +
      `"Resident" is the stack's memory with every physical page counted once (the union of the pages present in its processes, from /proc/PID/pagemap): what the stack takes from the machine, and the figure the goal is judged on. ` +
      `The RSS sum counts the pages two node processes share (the node binary's ~40 MB, libraries) in each; the PSS sum divides shared pages among every process of the machine that maps them, so on a machine running other node processes it reads low. ` +
      `Goal: the whole stack idle at most ${GOAL_MB} MB.`,
    '',
    `### The appliance as \`make run\` starts it (scripts/run.sh), ${runs} runs`,
    '',
    '| run | ready (run.sh to "pbx started") | processes (RSS / PSS each) | resident (pages once) | RSS sum | PSS sum |',
    '| --- | ---: | --- | ---: | ---: | ---: |',
  );
  appliance.forEach((r, i) => {
    lines.push(
      `| ${i + 1} | ${(r.readyMs / 1000).toFixed(2)} s | ${r.processes.map((p) => `${p.name} ${fmt(p.rssMb)} / ${fmt(p.pssMb)}`).join('; ')} | ${fmtOpt(r.uniqueMb)} | ${fmt(r.rssMb)} | ${fmt(r.pssMb)} |`,
    );
  });
  const uniques = appliance.map((r) => r.uniqueMb).filter((v): v is number => v !== null);
  lines.push(
    '',
    `Median: ready in ${(median(appliance.map((r) => r.readyMs)) / 1000).toFixed(2)} s; resident ${uniques.length > 0 ? fmt(median(uniques)) : 'n/a'} (goal ${GOAL_MB} MB); RSS sum ${fmt(median(appliance.map((r) => r.rssMb)))}; PSS sum ${fmt(median(appliance.map((r) => r.pssMb)))}.`,
    '',
    '### Supervisor variants (same apps)',
    '',
    '| supervisor | supervisor RSS | supervisor PSS | stack resident | stack RSS sum | stack PSS sum |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of variantResults) {
    const sup = r.processes[0];
    lines.push(`| ${r.variant} | ${fmt(sup?.rssMb ?? 0)} | ${fmt(sup?.pssMb ?? 0)} | ${fmtOpt(r.uniqueMb)} | ${fmt(r.rssMb)} | ${fmt(r.pssMb)} |`);
  }
  if (kamailio !== null) {
    lines.push(
      '',
      `Reference: Kamailio 5.6 idle (the SIP bench's configuration: 4 UDP workers, -m 512 -M 16), ${kamailio.count} processes: resident ${fmtOpt(kamailio.uniqueMb)}, RSS sum ${fmt(kamailio.rssMb)}, PSS sum ${fmt(kamailio.pssMb)}.`,
    );
  }
  const section = lines.join('\n') + '\n';
  log('');
  log(section);
  replaceSection(PERF_DOC, '## Footprint', section);
  log(`written to ${path.relative(REPO_ROOT, PERF_DOC)}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
