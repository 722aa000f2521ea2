/**
 * A typed harness around SIPp 3.6 (Debian `sip-tester`): the phones of the SIP tests and the load
 * generator of the SIP benchmark. Every run is a real `sipp` child process on loopback, bounded by
 * SIPp's own `-timeout` and by a hard kill a few seconds later; every child is tracked so a test can
 * (and process exit does) kill what is left.
 *
 * Results come from SIPp's own accounting: the `-trace_stat` CSV (cumulative `(C)` columns of its
 * last row), the final screen (`-trace_screen`) and the exit code (0 all calls ok, 1 some failed,
 * 97 internal exit, 99 no call processed, 255/254 fatal).
 * SIPp's CPU time is read from its parent shell's cutime/cstime (`/proc/<sh>/stat` after `wait`),
 * so a benchmark can show when SIPp itself is the limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockTicks } from './proc.js';

/** SIPp transport modes (-t): UDP/TCP, one socket (1) or one socket per call (n). */
export type SippTransport = 'u1' | 'un' | 't1' | 'tn';
export type PortProto = 'udp' | 'tcp';

export interface SippOptions {
  /** A scenario file path, or SIPp's builtin 'uac' / 'uas'. */
  readonly scenario: string;
  /** 'host:port' of the system under test; required for UAC scenarios. */
  readonly target?: string;
  readonly localIp?: string;
  /** Local SIP port (-p); a free one is picked when omitted. */
  readonly localPort?: number;
  readonly transport?: SippTransport;
  /** Injection CSV (-inf); its first line must be SEQUENTIAL, RANDOM or USER. */
  readonly injectCsv?: string;
  /** Number of calls to process (-m); for a UAS the number of calls after which it exits. */
  readonly calls: number;
  /** Calls per second (-r with -rp 1000). */
  readonly rate?: number;
  /** With rateIncrease: ramp -r by rateIncrease every rateIntervalSec up to rateMax (-rate_max). */
  readonly rateMax?: number;
  readonly rateIncrease?: number;
  readonly rateIntervalSec?: number;
  /** Maximum simultaneous calls (-l). */
  readonly limit?: number;
  /** Global bound (-timeout, with -timeout_error); the child is SIGKILLed 5 s after it. */
  readonly timeoutSec: number;
  /**
   * Service part of the default Request-URI ([service], -s). With a target it also sets
   * `-auth_uri service@target`, so a digest answer names the Request-URI `sip:[service]@[remote_ip]:[remote_port]`.
   */
  readonly service?: string;
  /** Scenario keywords set with -key name value, used in the XML as [name]. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Socket buffers (-buff_size); 4 MiB by default (SIPp's 64 KB drops packets under load). */
  readonly buffSize?: number;
  /** Log unexpected messages (-trace_err); on by default, the first 64 KiB are returned. */
  readonly traceErrors?: boolean;
  /** Log every message sent and received (-trace_msg); the first 1 MiB is returned. Tests only. */
  readonly traceMessages?: boolean;
  readonly extraArgs?: readonly string[];
  /** Directory for the stat/screen/error files; a fresh temp dir when omitted (removed after). */
  readonly workDir?: string;
}

/** One row of SIPp's -trace_stat CSV, by column name (e.g. 'SuccessfulCall(C)'). */
export type SippStatRow = Readonly<Record<string, string>>;

export interface SippResult {
  /** SIPp's exit code; null when it was killed by a signal (see `signal`). */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly successful: number;
  readonly failed: number;
  readonly retransmissions: number;
  /** Calls created by this SIPp (outgoing for a UAC, incoming for a UAS). */
  readonly created: number;
  readonly stats: readonly SippStatRow[];
  readonly stderr: string;
  /** The last statistics screen (from -trace_screen, or stdout's tail). */
  readonly screen: string;
  /** Start of the -trace_err log (unexpected messages), '' when none. */
  readonly errors: string;
  /** Start of the -trace_msg log when traceMessages was set, else ''. */
  readonly messages: string;
  /** CPU seconds SIPp itself used (user + system). */
  readonly cpuSeconds: number;
  readonly wallMs: number;
  readonly localPort: number;
  readonly args: readonly string[];
  /** True when the harness had to SIGKILL it after timeoutSec + 5 s. */
  readonly killed: boolean;
}

export interface SippProgress {
  readonly successful: number;
  readonly failed: number;
  readonly created: number;
}

export interface SippUasHandle {
  readonly port: number;
  readonly pid: number;
  /** Settles when SIPp exits on its own (calls reached, timeout) or after stop(). */
  readonly done: Promise<SippResult>;
  /** Counters of the last stat row SIPp wrote (every second, -fd 1). */
  progress(): SippProgress;
  /** Resolve when successful + failed calls reach `calls` (false if timeoutMs passed first). */
  waitForCalls(calls: number, timeoutMs: number): Promise<boolean>;
  /** Soft exit (SIGUSR1: no new calls, ongoing ones finish), SIGKILL after graceMs (5 s). */
  stop(graceMs?: number): Promise<SippResult>;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCENARIO_DIR = path.join(REPO_ROOT, 'hw-tests', 'support', 'sipp-scenarios');
const TAIL_BYTES = 64 * 1024;
const HARD_KILL_GRACE_MS = 5000;

/** Absolute path of a scenario of hw-tests/support/sipp-scenarios (name with or without '.xml'). */
export function scenarioPath(name: string): string {
  const file = path.join(SCENARIO_DIR, name.endsWith('.xml') ? name : `${name}.xml`);
  if (!fs.existsSync(file)) throw new Error(`no SIPp scenario ${file}`);
  return file;
}

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILL every SIPp still running (call from a test's `after`). */
export function killAllSipp(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}
process.on('exit', killAllSipp);

/**
 * A benchmark's time bound: once `boundMs` has passed, it says so, kills every SIPp and exits 1
 * (the timer does not keep the process alive when the bench ends in time).
 */
export function exitAtBound(what: string, boundMs: number): void {
  setTimeout(() => {
    process.stdout.write(`${what}: ${Math.round(boundMs / 60_000)} minute bound reached, stopping\n`);
    killAllSipp();
    process.exit(1);
  }, boundMs).unref();
}

/** A port that was free on 127.0.0.1 a moment ago (bind 0, read, close). */
export async function freePort(proto: PortProto, host = '127.0.0.1'): Promise<number> {
  if (proto === 'udp') {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, host, () => resolve());
    });
    const { port } = sock.address();
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no TCP port');
  return addr.port;
}

/** Whether a port can be bound right now for the protocol (false: someone holds it). */
export async function portIsFree(proto: PortProto, port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    if (proto === 'udp') {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, host, () => resolve());
      });
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    } else {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, host, () => resolve());
      });
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
    return true;
  } catch {
    return false;
  }
}

/** A port free for both UDP and TCP (servers listen on both at one port). */
export async function freePortBoth(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort('udp', host);
    if (await portIsFree('tcp', port, host)) return port;
  }
  throw new Error('no port free for both UDP and TCP');
}

export function transportProto(t: SippTransport): PortProto {
  return t.startsWith('u') ? 'udp' : 'tcp';
}

/** Parse SIPp's -trace_stat CSV (';'-separated, one header line). */
export function parseStatCsv(text: string): SippStatRow[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const header = lines[0]?.split(';').map((h) => h.trim());
  if (header === undefined) return [];
  const rows: SippStatRow[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(';');
    const row: Record<string, string> = {};
    header.forEach((name, i) => {
      if (name.length > 0) row[name] = (cells[i] ?? '').trim();
    });
    rows.push(row);
  }
  return rows;
}

/** A numeric column of a stat row (0 when absent or not a number). */
export function statNumber(row: SippStatRow | undefined, column: string): number {
  const n = Number.parseFloat(row?.[column] ?? '');
  return Number.isFinite(n) ? n : 0;
}

function readHead(file: string, bytes: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const n = fs.readSync(fd, buf, 0, bytes, 0);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function lastScreen(text: string): string {
  // A screen file holds one or more dumps; keep the last one.
  const marker = text.lastIndexOf('------------------------------ Scenario Screen');
  return marker >= 0 ? text.slice(marker) : text;
}

/*
 * SIPp runs under a small shell so its CPU time can be read after it exits: the shell waits for
 * it and then prints its own cutime/cstime (which then include SIPp's). The shell forwards USR1
 * (soft exit) and TERM to SIPp; it is the leader of a process group, so a kill reaches both.
 */
const WRAPPER = [
  'sipp "$@" </dev/null & p=$!',
  "trap 'kill -USR1 $p 2>/dev/null' USR1",
  "trap 'kill -TERM $p 2>/dev/null' TERM",
  'while :; do wait $p; rc=$?; kill -0 $p 2>/dev/null || break; done',
  'read -r -a s < /proc/$$/stat',
  'echo "@@SIPP_CPU ${s[15]} ${s[16]}" >&2',
  'exit $rc',
].join('\n');

interface Spawned {
  readonly child: ChildProcess;
  readonly localPort: number;
  readonly statFile: string;
  readonly result: Promise<SippResult>;
}

async function spawnSipp(opts: SippOptions): Promise<Spawned> {
  const transport = opts.transport ?? 'u1';
  const localIp = opts.localIp ?? '127.0.0.1';
  const localPort = opts.localPort ?? (await freePort(transportProto(transport), localIp));
  const controlPort = await freePort('udp', localIp);
  const ownDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-'));
  const base = `${path.basename(opts.scenario, '.xml')}-${localPort}`;
  const statFile = path.join(workDir, `${base}.stat.csv`);
  const screenFile = path.join(workDir, `${base}.screen.log`);
  const errorFile = path.join(workDir, `${base}.errors.log`);
  const messageFile = path.join(workDir, `${base}.messages.log`);

  const args: string[] = [];
  if (opts.scenario === 'uac' || opts.scenario === 'uas') args.push('-sn', opts.scenario);
  else args.push('-sf', path.resolve(opts.scenario));
  if (opts.target !== undefined) args.push(opts.target);
  args.push('-i', localIp, '-p', String(localPort), '-t', transport, '-cp', String(controlPort));
  args.push('-m', String(opts.calls), '-nostdin');
  args.push('-timeout', `${opts.timeoutSec}s`, '-timeout_error');
  args.push('-buff_size', String(opts.buffSize ?? 4194304));
  if (opts.rate !== undefined) args.push('-r', String(opts.rate), '-rp', '1000');
  if (opts.rateIncrease !== undefined) {
    args.push('-rate_increase', String(opts.rateIncrease), '-rate_interval', `${opts.rateIntervalSec ?? 1}s`);
    if (opts.rateMax !== undefined) args.push('-rate_max', String(opts.rateMax));
  }
  if (opts.limit !== undefined) args.push('-l', String(opts.limit));
  if (opts.injectCsv !== undefined) args.push('-inf', path.resolve(opts.injectCsv));
  if (opts.service !== undefined) args.push('-s', opts.service);
  // SIPp's digest uri is sip:<remote_ip>:<remote_port> unless told; the box requires it to be the
  // Request-URI (RFC 3261 §22.4), which is sip:[service]@[remote_ip]:[remote_port] in our INVITE scenarios.
  if (opts.service !== undefined && opts.target !== undefined && !(opts.extraArgs ?? []).includes('-auth_uri')) {
    args.push('-auth_uri', `${opts.service}@${opts.target}`);
  }
  for (const [name, value] of Object.entries(opts.vars ?? {})) args.push('-key', name, value);
  args.push('-trace_stat', '-stf', statFile, '-fd', '1');
  args.push('-trace_screen', '-screen_file', screenFile);
  if (opts.traceErrors ?? true) args.push('-trace_err', '-error_file', errorFile);
  if (opts.traceMessages ?? false) args.push('-trace_msg', '-message_file', messageFile);
  args.push(...(opts.extraArgs ?? []));

  const started = Date.now();
  const child = spawn('bash', ['-c', WRAPPER, 'sipp-wrapper', ...args], {
    cwd: workDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdoutTail = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdoutTail = (stdoutTail + d.toString('utf8')).slice(-TAIL_BYTES);
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-TAIL_BYTES);
  });
  let killed = false;
  const hardKill = setTimeout(() => {
    killed = true;
    killGroup(child, 'SIGKILL');
  }, opts.timeoutSec * 1000 + HARD_KILL_GRACE_MS);

  const result = new Promise<SippResult>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(hardKill);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(hardKill);
      live.delete(child);
      const cpuMatch = /@@SIPP_CPU (\d+) (\d+)/.exec(stderr);
      const cpuSeconds = cpuMatch ? (Number(cpuMatch[1]) + Number(cpuMatch[2])) / clockTicks() : 0;
      let statText = '';
      try {
        statText = fs.readFileSync(statFile, 'utf8');
      } catch {
        // SIPp died before writing stats
      }
      const stats = parseStatCsv(statText);
      const last = stats[stats.length - 1];
      const screenText = readHead(screenFile, 4 * 1024 * 1024);
      const isUas = opts.scenario === 'uas' || isUasScenario(opts.scenario);
      const res: SippResult = {
        exitCode: code,
        signal,
        successful: statNumber(last, 'SuccessfulCall(C)'),
        failed: statNumber(last, 'FailedCall(C)'),
        retransmissions: statNumber(last, 'Retransmissions(C)'),
        created: statNumber(last, isUas ? 'IncomingCall(C)' : 'OutgoingCall(C)'),
        stats,
        stderr: stderr.replace(/@@SIPP_CPU.*\n?/, ''),
        screen: screenText.length > 0 ? lastScreen(screenText) : stdoutTail,
        errors: readHead(errorFile, TAIL_BYTES),
        messages: readHead(messageFile, 1024 * 1024),
        cpuSeconds,
        wallMs: Date.now() - started,
        localPort,
        args,
        killed,
      };
      if (ownDir) fs.rmSync(workDir, { recursive: true, force: true });
      resolve(res);
    });
  });
  return { child, localPort, statFile, result };
}

const uasCache = new Map<string, boolean>();
/** A scenario whose first message is received (SIPp then runs it as a server). */
function isUasScenario(file: string): boolean {
  if (file === 'uas') return true;
  if (file === 'uac') return false;
  let cached = uasCache.get(file);
  if (cached === undefined) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const first = /<(send|recv|nop|pause)\b/.exec(text.replace(/<!--[\s\S]*?-->/g, ''));
    cached = first?.[1] === 'recv';
    uasCache.set(file, cached);
  }
  return cached;
}

/** Run SIPp to completion (calls reached or timeoutSec) and collect its accounting. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  if (opts.target === undefined && !isUasScenario(opts.scenario)) {
    throw new Error('runSipp: a UAC scenario needs a target host:port');
  }
  for (let attempt = 1; ; attempt++) {
    const res = await (await spawnSipp(opts)).result;
    if (!lostPortRace(opts, res) || attempt === 3) return res;
  }
}

/**
 * A free port found by freePort() can be taken by another process before SIPp binds it (parallel
 * tests): SIPp then exits at once with errno 98. With a port of our choosing, try another.
 */
function lostPortRace(opts: Pick<SippOptions, 'localPort'>, res: SippResult): boolean {
  return opts.localPort === undefined && res.successful === 0 && res.created === 0 && /errno = 98|Address already in use/.test(res.stderr);
}

/**
 * Start a SIPp UAS in the background and resolve once its SIP port is bound. `calls` defaults to
 * a large number: the UAS then runs until stop() or timeoutSec.
 */
export async function startSippUas(
  opts: Omit<SippOptions, 'calls'> & { readonly calls?: number },
): Promise<SippUasHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSippUasOnce(opts);
    } catch (error) {
      if (!(error instanceof UasStartError) || !lostPortRace(opts, error.result) || attempt === 3) throw error;
    }
  }
}

class UasStartError extends Error {
  constructor(readonly result: SippResult) {
    super(`SIPp UAS exited at start (code ${result.exitCode}): ${result.stderr.slice(0, 2000)}`);
  }
}

async function startSippUasOnce(opts: Omit<SippOptions, 'calls'> & { readonly calls?: number }): Promise<SippUasHandle> {
  const transport = opts.transport ?? 'u1';
  const spawned = await spawnSipp({ ...opts, calls: opts.calls ?? 1_000_000_000 });
  const { child, localPort, statFile, result } = spawned;
  const progress = (): SippProgress => {
    let text = '';
    try {
      text = fs.readFileSync(statFile, 'utf8');
    } catch {
      // not written yet
    }
    const rows = parseStatCsv(text);
    const last = rows[rows.length - 1];
    return {
      successful: statNumber(last, 'SuccessfulCall(C)'),
      failed: statNumber(last, 'FailedCall(C)'),
      created: statNumber(last, 'IncomingCall(C)'),
    };
  };
  let exited = false;
  void result.then(
    () => {
      exited = true;
    },
    () => {
      exited = true;
    },
  );
  const deadline = Date.now() + 10_000;
  while (!exited && (await portIsFree(transportProto(transport), localPort, opts.localIp))) {
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`SIPp UAS did not bind port ${localPort} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (exited) throw new UasStartError(await result);
  const pid = child.pid ?? -1;
  return {
    port: localPort,
    pid,
    done: result,
    progress,
    async waitForCalls(calls: number, timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const p = progress();
        if (p.successful + p.failed >= calls) return true;
        if (exited || Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(graceMs = 5000): Promise<SippResult> {
      // To the wrapper shell only: it forwards one USR1 to SIPp (a second one would make SIPp
      // quit at once, aborting calls in progress).
      if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGUSR1');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      try {
        return await result;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Write a SIPp injection CSV: the first line is the read order, then one `;`-joined row per entry
 * (fields are [field0], [field1]... in the scenario).
 */
export function writeInjectionCsv(
  file: string,
  rows: readonly (readonly string[])[],
  order: 'SEQUENTIAL' | 'RANDOM' | 'USER' = 'SEQUENTIAL',
): string {
  const lines = [order, ...rows.map((r) => r.join(';'))];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A SIP message as logged by -trace_msg: direction and raw text. */
export interface TracedMessage {
  readonly direction: 'sent' | 'received';
  readonly text: string;
}

/** Split a -trace_msg log into its messages. */
export function parseMessageLog(log: string): TracedMessage[] {
  const out: TracedMessage[] = [];
  for (const chunk of log.split(/^-{20,} .*$/m)) {
    const m = /^\s*(?:UDP|TCP|TLS|SCTP) message (sent|received)[^\n]*\n([\s\S]*)$/.exec(chunk);
    if (m === null) continue;
    out.push({ direction: m[1] === 'sent' ? 'sent' : 'received', text: (m[2] ?? '').replace(/\r/g, '').trim() });
  }
  return out;
}

export interface SipCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * The injection CSV of the uac-* scenarios: [field0] = user, [field1] = the SIPp keyword
 * `[authentication username=U password=P]` (SIPp 3.6 does not expand [fieldN] inside
 * [authentication], but it does expand a keyword that a field holds).
 */
export function writeUserCsv(file: string, users: readonly SipCredentials[], order: 'SEQUENTIAL' | 'RANDOM' = 'SEQUENTIAL'): string {
  for (const u of users) {
    if (/[;\]\s]/.test(u.user) || /[;\]\s]/.test(u.password)) {
      throw new Error(`user/password unusable in a SIPp CSV: ${u.user}`);
    }
  }
  return writeInjectionCsv(
    file,
    users.map((u) => [u.user, `[authentication username=${u.user} password=${u.password}]`]),
    order,
  );
}
