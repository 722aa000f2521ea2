/**
 * CPU accounting per process from /proc (Linux): utime + stime of a process tree, read before and
 * after a benchmark step, so each server is charged only for its own processes (never
 * system-wide figures).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

let ticks: number | undefined;
/** Clock ticks per second of /proc's CPU times, from `getconf CLK_TCK` (never assumed). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const value = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK gave ${value}`);
    ticks = value;
  }
  return ticks;
}

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime in seconds. */
  readonly cpuSeconds: number;
}

/** /proc/<pid>/stat parsed; undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may contain spaces: split after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { pid, comm, ppid, cpuSeconds: (utime + stime) / clockTicks() };
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** The pid and all its live descendants. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const st = readProcStat(pid);
    if (st === undefined) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Pids whose command line (process title) contains `title`. */
export function pidsByTitle(title: string): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(title)) found.push(pid);
    } catch {
      // gone
    }
  }
  return found;
}

/** Pids whose environment holds `entry` (`NAME=value`): a stack's processes by its data dir, whatever their titles. */
export function pidsWithEnv(entry: string): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry)) found.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Sum of CPU seconds of these pids (those gone count 0: read them while they live). */
export function cpuSecondsOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readProcStat(pid)?.cpuSeconds ?? 0;
  return sum;
}

/**
 * Process CPU seconds of the whole machine (user + nice + system, all cores) from /proc/stat, to
 * spot other processes disturbing a step. irq/softirq are left out: loopback packet processing
 * lands there and grows with the load (and a retransmission storm) of the step itself.
 */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0);
  return busy / clockTicks();
}

export function cpuModel(): string {
  const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return m?.[1]?.trim() ?? 'unknown';
}

/**
 * What a child wrote on stdout and stderr, its last `limit` characters (a long run stays bounded);
 * `onData` sees that text after each chunk (to spot a line as soon as it comes).
 */
export function captureOutput(child: ChildProcess, limit = 32_768, onData?: (out: string) => void): () => string {
  let out = '';
  const append = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-limit);
    onData?.(out);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => out;
}

/**
 * SIGINT to `child` (a supervisor stops its apps on it), then after `graceMs` SIGKILL to every process
 * left in its tree, leaves first; resolves when the child has closed.
 */
export async function interruptTree(child: ChildProcess, graceMs: number): Promise<void> {
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
  }, graceMs);
  await closed;
  clearTimeout(timer);
}
