/**
 * `make bench`, footprint: the memory of the whole appliance idle, summed over every process of
 * it (the supervisor and each app it runs, read from the supervisor's process tree, so an app added
 * to image/ecosystem.config.cjs is counted without touching this file), and how long
 * `scripts/run.sh` (`make run` on a built tree) takes to be ready (the pbx logs "pbx started").
 *   1. the appliance as `make run` starts it (scripts/run.sh → image/supervisor.cjs): one first
 *      start in a fresh data dir (it creates the database, the admin's scrypt hash, the TLS key),
 *      then several starts of the same, initialised data dir (every later boot of a box): ready time
 *      (wall clock, recorded, and the CPU the stack used until ready, which a busy machine inflates
 *      less) and idle memory;
 *   2. the supervisor and app settings considered, each with the same apps and data dir;
 *   3. Kamailio idle (the bench's configuration, 4 UDP workers) as the reference SIP server.
 * RSS counts a page shared by two processes (the node binary, libraries) in both. The stack's
 * resident memory counts every physical page of the tree once (pagemap, needs root); PSS sums are
 * given too but depend on the other node processes of the machine, which share the binary's pages.
 * Writes the '## Footprint' section of docs/performance.md.
 *
 *   node dist/bench/footprint/run.js [--idle-sec 15] [--runs 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortBoth } from '../../hw-tests/support/sipp.js';
import { startKamailio, makeUsers } from '../../hw-tests/support/sip-servers.js';
import { applianceEnv } from '../../hw-tests/support/pbx-env.js';
import { captureOutput, clockTicks, interruptTree, processTree, readProcStat } from '../../hw-tests/support/proc.js';
import { isSimulatedHardware, loadAverage, readMemory, replaceSection, stackProcessName, sumMemory, uniqueResidentMb } from '../soak/memory.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PERF_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');
const PM2_RUNTIME = path.join(REPO_ROOT, 'node_modules', 'pm2', 'bin', 'pm2-runtime');
const SUPERVISOR = path.join(REPO_ROOT, 'image', 'supervisor.cjs');
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
  /** From the start to the first 200 OK to a SIP OPTIONS (sent every 20 ms over UDP). */
  readonly optionsMs: number;
  /** CPU seconds the stack's processes (and run.sh's configuration check) used until ready. */
  readonly cpuToReadyS: number;
  /** The machine's load average when the stack was ready. */
  readonly load: string;
  readonly processes: ProcessFootprint[];
  /** The simulated hardware (virtual board, socat): measured, not in the sums. */
  readonly simulated: ProcessFootprint[];
  readonly rssMb: number;
  readonly pssMb: number;
  /** Resident pages of the whole tree, each counted once (null without root). */
  readonly uniqueMb: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function measureTree(root: number): { processes: ProcessFootprint[]; simulated: ProcessFootprint[]; rssMb: number; pssMb: number; uniqueMb: number | null } {
  const all = processTree(root);
  // The virtual analog board of simulation mode (and its socat pty pair) stands in for the
  // hardware: on the appliance the board is a microcontroller behind the serial port. Shown, not summed.
  const simulatedPids = new Set(all.filter(isSimulatedHardware).flatMap((pid) => processTree(pid)));
  const pids = all.filter((pid) => !simulatedPids.has(pid));
  const footprint = (pid: number): ProcessFootprint | undefined => {
    const m = readMemory(pid);
    return m === undefined ? undefined : { pid, name: stackProcessName(pid), rssMb: m.rssKb / 1024, pssMb: m.pssKb / 1024 };
  };
  const present = (list: readonly number[]): ProcessFootprint[] => list.map(footprint).filter((f): f is ProcessFootprint => f !== undefined);
  const sum = sumMemory(pids);
  return { processes: present(pids), simulated: present([...simulatedPids]), rssMb: sum.rssKb / 1024, pssMb: sum.pssKb / 1024, uniqueMb: uniqueResidentMb(pids) };
}

/** CPU seconds of a process tree: each live process, and what the root's waited children used. */
function treeCpuSeconds(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) {
    sum += readProcStat(pid)?.cpuSeconds ?? 0;
    if (pid !== root) continue;
    try {
      // cutime + cstime (fields 16, 17): run.sh's configuration check, a child bash waited for.
      const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      sum += (Number(rest[13]) + Number(rest[14])) / clockTicks();
    } catch {
      // gone
    }
  }
  return sum;
}

/**
 * Asks the SIP port with an OPTIONS every 20 ms until a 200 OK comes back: the box answers phones.
 * Each try is a new transaction (branch) from the same socket.
 */
function probeOptions(port: number, started: number): { readyMs(): number; stop(): void } {
  const socket = createSocket('udp4');
  let readyMs = Number.NaN;
  let n = 0;
  let stopped = false;
  socket.on('message', (msg) => {
    if (Number.isNaN(readyMs) && msg.subarray(0, 16).toString('latin1').startsWith('SIP/2.0 200')) readyMs = performance.now() - started;
  });
  socket.on('error', () => undefined);
  socket.bind(0, '127.0.0.1');
  const timer = setInterval(() => {
    if (!Number.isNaN(readyMs)) return;
    const local = socket.address().port;
    n++;
    const text =
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-fp-${process.pid}-${n};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=fp${n}\r\nTo: <sip:127.0.0.1:${port}>\r\n` +
      `Call-ID: fp-${process.pid}-${n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    socket.send(text, port, '127.0.0.1');
  }, 20);
  return {
    readyMs: () => readyMs,
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      socket.close();
    },
  };
}

/**
 * Starts a command that runs the appliance on `dataDir`, waits for "pbx started", idles, measures,
 * stops. The data dir is kept (a later start of the same dir is a box's every boot).
 */
async function measureStack(variant: string, command: string, args: readonly string[], idleSec: number, dataDir: string): Promise<StackFootprint> {
  const port = await freePortBoth('127.0.0.1');
  const started = performance.now();
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...applianceEnv(dataDir, port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let readyMs = Number.NaN;
  let cpuToReadyS = Number.NaN;
  let load = '';
  const options = probeOptions(port, started);
  const output = captureOutput(child, 32_768, (out) => {
    if (Number.isNaN(readyMs) && READY.test(out)) {
      readyMs = performance.now() - started;
      cpuToReadyS = treeCpuSeconds(child.pid ?? -1);
      load = loadAverage();
    }
  });
  try {
    const deadline = performance.now() + 60_000;
    while (Number.isNaN(readyMs) || Number.isNaN(options.readyMs())) {
      if (child.exitCode !== null || performance.now() > deadline) throw new Error(`${variant}: not ready (exit ${child.exitCode}):\n${output().slice(-2000)}`);
      await sleep(20);
    }
    options.stop();
    await sleep(idleSec * 1000);
    const tree = measureTree(child.pid ?? -1);
    return { variant, readyMs, optionsMs: options.readyMs(), cpuToReadyS, load, ...tree };
  } finally {
    options.stop();
    await interruptTree(child, 10_000);
  }
}

/**
 * An app file like the appliance's, but with pm2's defaults for its agent and source maps (what
 * the appliance ran before issue 21's footprint work), to show what those two settings cost.
 */
function ecosystemWithPm2Defaults(dir: string): string {
  // pm2 reads a file as an app list only when its name ends in .config.cjs (else it runs it as an app).
  const file = path.join(dir, 'pm2-defaults.config.cjs');
  fs.writeFileSync(
    file,
    `const eco = require(${JSON.stringify(ECOSYSTEM)});\n` +
      `module.exports = { apps: eco.apps.map((app) => { const { pmx, disable_source_map_support, ...rest } = app; return rest; }) };\n`,
  );
  return file;
}

/** --appliance-only: the variants and Kamailio are left out (a quick look, not for the doc). */
class SkipRest extends Error {}

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

function processesCell(r: StackFootprint): string {
  return r.processes.map((p) => `${p.name} ${fmt(p.rssMb)} / ${fmt(p.pssMb)}`).join('; ');
}

function simulatedCell(r: StackFootprint): string {
  return r.simulated.length === 0 ? 'none' : r.simulated.map((p) => `${p.name} ${fmt(p.rssMb)} / ${fmt(p.pssMb)}`).join('; ');
}

function verdict(mb: number): string {
  return mb <= GOAL_MB ? `**${fmt(mb)}** (within ${GOAL_MB} MB)` : `**${fmt(mb)}** (over ${GOAL_MB} MB by ${fmt(mb - GOAL_MB)})`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let idleSec = 15;
  let runs = 5;
  let applianceOnly = false;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--idle-sec') idleSec = Math.max(2, Math.min(120, Number(argv[i + 1])));
    else if (argv[i] === '--runs') runs = Math.max(1, Math.min(10, Number(argv[i + 1])));
    else if (argv[i] === '--appliance-only') {
      applianceOnly = true;
      i--;
    }
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const when = new Date();
  const loadBefore = loadAverage();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-footprint-'));
  const dataDir = path.join(work, 'data');
  const runSh = ['bash', [path.join(REPO_ROOT, 'scripts', 'run.sh')]] as const;
  const show = (r: StackFootprint): void =>
    log(`${r.variant}: ready in ${r.readyMs.toFixed(0)} ms, OPTIONS answered 200 at ${r.optionsMs.toFixed(0)} ms (CPU ${r.cpuToReadyS.toFixed(2)} s, load ${r.load}); resident ${fmtOpt(r.uniqueMb)}, RSS ${fmt(r.rssMb)}, PSS ${fmt(r.pssMb)}: ${processesCell(r)}`);

  const appliance: StackFootprint[] = [];
  const variantResults: StackFootprint[] = [];
  let kamailio: { rssMb: number; pssMb: number; uniqueMb: number | null; count: number } | null = null;
  try {
    // 1. As `make run` starts it: a first start, then starts of the initialised data dir.
    fs.mkdirSync(dataDir);
    const first = await measureStack('run.sh, first start', runSh[0], runSh[1], idleSec, dataDir);
    show(first);
    for (let i = 0; i < runs; i++) {
      const r = await measureStack(`run.sh, start ${i + 1}`, runSh[0], runSh[1], idleSec, dataDir);
      appliance.push(r);
      show(r);
    }
    appliance.unshift(first);

    // 2. Supervisor and app settings, same apps, same (initialised) data dir.
    const variants: Array<[string, string, string[]]> = [
      ['plain pm2-runtime; apps with pm2 defaults (its agent, source maps)', process.execPath, [PM2_RUNTIME, 'start', '--no-auto-exit', ecosystemWithPm2Defaults(work)]],
      ['plain pm2-runtime; apps as shipped (pmx off, no source maps)', process.execPath, [PM2_RUNTIME, 'start', '--no-auto-exit', ECOSYSTEM]],
      ['pm2-runtime with the supervisor node flags only', process.execPath, [...supervisorFlags(), PM2_RUNTIME, 'start', '--no-auto-exit', ECOSYSTEM]],
      ['image/supervisor.cjs (node flags + deferred modules), as shipped', SUPERVISOR, ['start', '--no-auto-exit', ECOSYSTEM]],
    ];
    for (const [name, command, args] of applianceOnly ? [] : variants) {
      const r = await measureStack(name, command, args, idleSec, dataDir);
      variantResults.push(r);
      show(r);
    }

    // 3. Kamailio idle.
    if (applianceOnly) throw new SkipRest();
    const kamDir = path.join(work, 'kamailio');
    fs.mkdirSync(kamDir);
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
    }
  } catch (error) {
    if (!(error instanceof SkipRest)) throw error;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();

  const boots = appliance.slice(1);
  const uniques = boots.map((r) => r.uniqueMb).filter((v): v is number => v !== null);
  const medRss = median(boots.map((r) => r.rssMb));
  const medPss = median(boots.map((r) => r.pssMb));
  const lines: string[] = ['## Footprint', ''];
  lines.push(
    `Measured by \`node dist/bench/footprint/run.js\` (part of \`make bench\`) on ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs, Node ${process.version}; ` +
      `load average ${loadBefore} before, ${loadAfter} after (the machine is shared). Each stack is left idle ${idleSec} s after the pbx logs "pbx started", ` +
      `then every process of the supervisor's tree (read from /proc: the supervisor and each pm2 app, so apps added later are counted) is measured. ` +
      `In simulation (\`make run\`) the tree also holds the virtual analog board and its socat pty pair, which stand in for the hardware (on the appliance the board is a microcontroller behind the serial port): they are shown in their own column and left out of the sums. ` +
      `"RSS sum" is what \`ps\`/\`top\` show, added up: a page two processes share (the node binary's ~35–45 MB, libraries) counts in each. ` +
      `"PSS sum" divides each shared page among every process of the machine that maps it, so on a machine running other node processes (this one runs many) it reads low. ` +
      `"Resident" counts every physical page of the stack once (the union of the pages present in its processes, /proc/PID/pagemap). ` +
      `Ready: wall clock from starting \`scripts/run.sh\` (or the supervisor, in the second table) to the pbx's "pbx started" log line, and to the first 200 OK to a SIP OPTIONS sent every 20 ms over UDP (recorded, not a test: it depends on the machine's load, given beside it), and the CPU the stack used until "pbx started". ` +
      `Goal: the whole stack idle at most ${GOAL_MB} MB.`,
    '',
    `### The appliance as \`make run\` starts it (scripts/run.sh → image/supervisor.cjs)`,
    '',
    '| start | "pbx started" (wall) | OPTIONS answered 200 (wall) | CPU until ready | load average then | processes (RSS / PSS each) | RSS sum | PSS sum | resident (pages once) | simulated hardware, not summed (RSS / PSS) |',
    '| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |',
  );
  for (const r of appliance) {
    lines.push(`| ${r.variant.replace('run.sh, ', '')} | ${(r.readyMs / 1000).toFixed(2)} s | ${(r.optionsMs / 1000).toFixed(2)} s | ${r.cpuToReadyS.toFixed(2)} s | ${r.load} | ${processesCell(r)} | ${fmt(r.rssMb)} | ${fmt(r.pssMb)} | ${fmtOpt(r.uniqueMb)} | ${simulatedCell(r)} |`);
  }
  lines.push(
    '',
    `Starts of an initialised data dir (median of ${boots.length}): "pbx started" after ${(median(boots.map((r) => r.readyMs)) / 1000).toFixed(2)} s wall, OPTIONS answered 200 after ${(median(boots.map((r) => r.optionsMs)) / 1000).toFixed(2)} s, ${median(boots.map((r) => r.cpuToReadyS)).toFixed(2)} s of CPU; ` +
      `RSS sum ${verdict(medRss)}; PSS sum ${verdict(medPss)}; resident ${uniques.length > 0 ? verdict(median(uniques)) : 'n/a'}.`,
    '',
    '### Supervisor and app settings (same apps, same data dir)',
    '',
    '| setting | OPTIONS answered 200 | load average then | supervisor RSS | supervisor PSS | apps (RSS / PSS each) | stack RSS sum | stack PSS sum | stack resident |',
    '| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |',
  );
  for (const r of variantResults) {
    const sup = r.processes[0];
    lines.push(`| ${r.variant} | ${(r.optionsMs / 1000).toFixed(2)} s | ${r.load} | ${fmt(sup?.rssMb ?? 0)} | ${fmt(sup?.pssMb ?? 0)} | ${r.processes.slice(1).map((p) => `${p.name} ${fmt(p.rssMb)} / ${fmt(p.pssMb)}`).join('; ')} | ${fmt(r.rssMb)} | ${fmt(r.pssMb)} | ${fmtOpt(r.uniqueMb)} |`);
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
  if (applianceOnly) return;
  replaceSection(PERF_DOC, '## Footprint', section);
  log(`written to ${path.relative(REPO_ROOT, PERF_DOC)}`);
}

/** The supervisor's node flags, from the first line of image/supervisor.cjs (`#!/usr/bin/env -S node ...`). */
function supervisorFlags(): string[] {
  const first = fs.readFileSync(SUPERVISOR, 'utf8').split('\n')[0] ?? '';
  return first.split(/\s+/).filter((a) => a.startsWith('--'));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
