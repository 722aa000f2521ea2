/**
 * Media benchmark: N concurrent G.711 calls (50 packets/s each way, 172-byte packets) through
 * (a) our media engine (bench/media/relay-server.ts, a process of its own) and (b) rtpengine in
 * userspace (--table=-1), in the same run, ramping N. The load comes from build/media/loadgen (C).
 * Prints a table and writes it under '## Media' in docs/performance.md.
 *
 * Honest numbers (issue 15): which relay runs first alternates from step to step; a step that
 * fails its limits while the box was busy with other work (others' CPU, or the generator itself
 * late) is run again, every run shown; the headline is the largest step with every smaller step
 * within limits; rtpengine's calls of a step are confirmed deleted (ng `list`) and ours closed
 * before the next step; CLK_TCK comes from `getconf`.
 *
 * Env: PBX_BENCH_MEDIA_STEPS="250,500,750,1000,1250,1500", PBX_BENCH_MEDIA_SECONDS=6 (measured per step),
 * PBX_BENCH_MEDIA_COALESCE_US (our relay's pass period), PBX_BENCH_MEDIA_THREADS (our relay threads; default one per CPU under SCHED_RR, else 1 on up to 2 CPUs and CPUs - 1 above, at most 4),
 * PBX_BENCH_MEDIA_GEN_CPU=any (generator not pinned to the last CPU), PBX_BENCH_MEDIA_DEBUG=1 (setup/teardown times),
 * PBX_BENCH_MEDIA_ONLY=ours|rtpengine (tuning: one relay; the doc is not written then).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bdecode, bencode, type BValue } from './bencode.js';

const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const LOADGEN = join(ROOT, 'build/media/loadgen');
const STEPS = (process.env.PBX_BENCH_MEDIA_STEPS ?? '250,500,750,1000,1250,1500').split(',').map(Number).filter((n) => n > 0 && n <= 5000);
const SECONDS = Math.min(30, Number(process.env.PBX_BENCH_MEDIA_SECONDS ?? 6));
const WARMUP = 2;
/**
 * The box is shared (builds, other tests). As root, the load generator runs SCHED_RR 20 (its sends
 * and timestamps are on time whatever else runs) and the run is done twice: both relays' media
 * threads SCHED_RR 10 (outside load cannot disturb them; RT wake-ups cost them CPU), then at nice -15
 * (CPU per packet closer to normal scheduling; outside load can add jitter). Each relay raises its
 * own media threads, as it does in production: ours through the engine's realtimePriority/relayNice,
 * rtpengine through its --scheduling/--priority (its poller threads). Raising a whole process
 * (chrt/nice on it) also raised our JS thread to the relay's level: its garbage collection, ~8 s
 * after a step's set-up, then held the relay's CPU for up to 100 ms (a 25–95 ms stall in the first
 * step, even under SCHED_RR). PBX_BENCH_MEDIA_PRIO=rt|nice picks one; PBX_BENCH_MEDIA_RT=0 runs
 * everything at normal priority.
 */
const ROOTED = process.getuid?.() === 0 && process.env.PBX_BENCH_MEDIA_RT !== '0';
type Sched = 'rt' | 'nice' | 'normal';
let relaySched: Sched = 'normal';
/**
 * With sched_autogroup (Debian's default) a nice value counts only inside its session: a relay at
 * nice -15 still gets just its session's share against other sessions' builds. So each relay gets
 * a session of its own (spawned detached = setsid) whose autogroup gets the same nice.
 */
function ownSessionNice(pid: number | undefined): void {
  if (!ROOTED || relaySched !== 'nice' || pid === undefined) return;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, '-15');
  } catch {
    /* no autogroup (kernel without it): the process nice is all there is */
  }
}
/**
 * The generator stands for the phones on the LAN, whose packets cost a real box nothing but the NIC's
 * softirqs. Pinned to the last CPU (taskset), it keeps off the CPU the relay wakes on instead of
 * preempting it there at random; both relays see the same placement and are themselves not pinned.
 * PBX_BENCH_MEDIA_GEN_CPU=any leaves it free, as earlier runs had it.
 */
const GEN_CPU = process.env.PBX_BENCH_MEDIA_GEN_CPU === 'any' || cpus().length < 2 ? undefined : cpus().length - 1;
const RELAY_RT_PRIORITY = 10;
const RELAY_NICE = -15;
function prioritized(cmd: string, args: string[], generator = false): [string, string[]] {
  const prefix = ROOTED && generator ? ['chrt', '-r', '20'] : [];
  const pin = GEN_CPU === undefined ? [] : generator ? ['taskset', '-c', String(GEN_CPU)] : ['taskset', '-c', `0-${GEN_CPU - 1}`];
  const full = [...pin, ...prefix, cmd, ...args];
  return [full[0] as string, full.slice(1)];
}
const CLK_TCK = (() => {
  const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!(v > 0)) throw new Error('getconf CLK_TCK gave no number');
  return v;
})();
/** Others' CPU (cores) during a step above which a failed step counts as disturbed and is run again. */
const DISTURBED_CORES = 0.3;
const DISTURBED_LATE_US = 2000;
/** Less idle CPU than this on the box during a step: saturated, the relay waited for a core. */
const MIN_IDLE_CORES = 0.1;
const REPEATS = 2;
/** PBX_BENCH_MEDIA_ONLY=ours|rtpengine: one relay alone (tuning runs; the doc wants both). */
const ONLY = process.env.PBX_BENCH_MEDIA_ONLY === 'ours' || process.env.PBX_BENCH_MEDIA_ONLY === 'rtpengine' ? process.env.PBX_BENCH_MEDIA_ONLY : undefined;
const LOSS_LIMIT = 0.001;
const JITTER_LIMIT_US = 2000;

interface GenResult {
  calls: number;
  sent: number;
  received: number;
  loss: number;
  jitterP50us: number;
  jitterP99us: number;
  jitterP999us: number;
  delayP50us: number;
  delayP99us: number;
  sendLateP99us: number;
}

interface Row extends GenResult {
  relay: 'ours' | 'rtpengine';
  sched: Sched;
  cpuSeconds: number;
  cpuPercent: number;
  usPerPacket: number;
  /** cores used by other processes than the relay and the generator during the measured window */
  othersCores: number;
  /** cores left idle on the box meanwhile */
  idleCores: number;
  /** 1 = first run of the step, 2+ = repeats after a disturbed failure */
  attempt: number;
  /** ran before the other relay in this step */
  first: boolean;
  stepSeconds?: number;
}

/** Busy and idle jiffies of the whole machine (/proc/stat): busy = user+nice+system+irq+softirq+steal. */
function machine(): { busy: number; idle: number } {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: cpu.reduce((a, b) => a + b, 0) - idle, idle };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15 of proc(5))
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const p = s.address().port;
  s.close();
  return p;
}

/** True when a sample of UDP ports across the range (every 64th) can be bound. */
async function udpFree(base: number, size: number): Promise<boolean> {
  for (let p = base; p < base + size; p += 64) {
    const s = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.bind(p, '127.0.0.1', () => resolve(true));
    });
    s.close();
    if (!bound) return false;
  }
  return true;
}

/** A free, even-aligned range of `size` ports: probes a TCP listen on its base and UDP binds across it. */
async function freeRange(size: number, avoid: [number, number][]): Promise<[number, number]> {
  // Below the kernel's ephemeral range (32768+), where the load generator's own sockets live;
  // scanned in order so two large ranges (up to ~2,000 calls each) still fit side by side.
  for (let base = 10000; base + size <= 32000; base += 250) {
    if (avoid.some(([a, b]) => base <= b && base + size >= a)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(base, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    // another bench (another checkout's rtpengine or relay) may hold UDP ports all over a range
    if (ok && (await udpFree(base, size))) return [base, base + size - 1];
  }
  throw new Error('no free port range');
}

function lines(child: ChildProcess): Interface {
  if (!child.stdout) throw new Error('no stdout');
  return createInterface({ input: child.stdout });
}

function nextLine(rl: Interface, match: (l: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      rl.off('line', on);
      reject(new Error('timeout waiting for a line'));
    }, timeoutMs);
    const on = (l: string): void => {
      if (!match(l)) return;
      clearTimeout(t);
      rl.off('line', on);
      resolve(l);
    };
    rl.on('line', on);
  });
}

// ---------- our engine ----------

class OursRelay {
  readonly child: ChildProcess;
  readonly rl: Interface;
  constructor(readonly range: [number, number]) {
    this.child = spawn(...prioritized(process.execPath, [join(ROOT, 'dist/bench/media/relay-server.js')]), { stdio: ['pipe', 'pipe', 'inherit'], detached: ROOTED });
    ownSessionNice(this.child.pid);
    this.rl = lines(this.child);
  }
  get pid(): number {
    return this.child.pid ?? 0;
  }
  async setup(phones: [number, number][]): Promise<[number, number][]> {
    const reply = nextLine(this.rl, (l) => l.startsWith('{'), 60_000);
    const coalesce = process.env.PBX_BENCH_MEDIA_COALESCE_US;
    const threads = process.env.PBX_BENCH_MEDIA_THREADS;
    const sched = !ROOTED ? {} : relaySched === 'rt' ? { realtimePriority: RELAY_RT_PRIORITY } : relaySched === 'nice' ? { relayNice: RELAY_NICE } : {};
    const opts = { ...sched, ...(coalesce === undefined ? {} : { coalesceUs: Number(coalesce) }), ...(threads === undefined ? {} : { relayThreads: Number(threads) }) };
    this.child.stdin?.write(JSON.stringify({ op: 'setup', portMin: this.range[0], portMax: this.range[1], phones, ...opts }) + '\n');
    return (JSON.parse(await reply) as { relay: [number, number][] }).relay;
  }
  async teardown(): Promise<void> {
    const reply = nextLine(this.rl, (l) => l.startsWith('{'), 60_000);
    this.child.stdin?.write('{"op":"teardown"}\n');
    const r = JSON.parse(await reply) as { sessions?: number };
    if (r.sessions !== 0) throw new Error(`our relay still has ${r.sessions} sessions after teardown`);
  }
  async stop(): Promise<void> {
    this.child.stdin?.write('{"op":"exit"}\n');
    await Promise.race([once(this.child, 'exit'), new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

// ---------- rtpengine over ng ----------

class RtpEngine {
  readonly child: ChildProcess;
  readonly #sock = createSocket('udp4');
  readonly #pending = new Map<string, (v: Record<string, BValue>) => void>();
  #cookie = 0;
  constructor(readonly ngPort: number, readonly range: [number, number]) {
    this.child = spawn(
      ...prioritized('rtpengine', [
        '--config-file=none', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`,
        `--port-min=${range[0]}`, `--port-max=${range[1]}`, '--foreground', '--log-stderr', '--log-level=3',
        '--timeout=600', '--delete-delay=0',
        ...(!ROOTED ? [] : relaySched === 'rt' ? ['--scheduling=rr', `--priority=${RELAY_RT_PRIORITY}`] : relaySched === 'nice' ? ['--scheduling=other', `--priority=${RELAY_NICE}`] : []),
      ]),
      { stdio: ['ignore', 'ignore', 'ignore'], detached: ROOTED },
    );
    ownSessionNice(this.child.pid);
    this.#sock.on('message', (msg) => {
      const sp = msg.indexOf(0x20);
      const cookie = msg.subarray(0, sp).toString();
      const cb = this.#pending.get(cookie);
      if (!cb) return;
      this.#pending.delete(cookie);
      cb(bdecode(msg.subarray(sp + 1)) as Record<string, BValue>);
    });
  }
  get pid(): number {
    return this.child.pid ?? 0;
  }
  async ready(): Promise<void> {
    this.#sock.bind(0, '127.0.0.1');
    await once(this.#sock, 'listening');
    for (let i = 0; i < 50; i++) {
      try {
        await this.ng({ command: 'ping' }, 200);
        return;
      } catch {
        /* not up yet */
      }
    }
    throw new Error('rtpengine did not answer ng ping');
  }
  ng(cmd: Record<string, BValue>, timeoutMs = 5000): Promise<Record<string, BValue>> {
    const cookie = `c${++this.#cookie}`;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#pending.delete(cookie);
        reject(new Error(`ng ${String(cmd.command)} timeout`));
      }, timeoutMs);
      this.#pending.set(cookie, (v) => {
        clearTimeout(t);
        resolve(v);
      });
      this.#sock.send(Buffer.concat([Buffer.from(cookie + ' '), bencode(cmd)]), this.ngPort, '127.0.0.1');
    });
  }
  #calls: string[] = [];
  async setup(phones: [number, number][]): Promise<[number, number][]> {
    const out: [number, number][] = [];
    const tag = Date.now();
    const batch = 50;
    for (let i = 0; i < phones.length; i += batch) {
      const part = await Promise.all(
        phones.slice(i, i + batch).map(async ([pa, pb], k) => {
          const callId = `rb-${tag}-${i + k}`;
          this.#calls.push(callId);
          const offer = await this.ng({ command: 'offer', 'call-id': callId, 'from-tag': 'fa', sdp: sdp(pa), replace: ['origin'] });
          const answer = await this.ng({ command: 'answer', 'call-id': callId, 'from-tag': 'fa', 'to-tag': 'tb', sdp: sdp(pb), replace: ['origin'] });
          if (offer.result !== 'ok' || answer.result !== 'ok') throw new Error(`rtpengine: ${JSON.stringify(offer)} ${JSON.stringify(answer)}`);
          return [portOf(String(answer.sdp)), portOf(String(offer.sdp))] as [number, number];
        }),
      );
      out.push(...part);
    }
    return out;
  }
  async teardown(): Promise<void> {
    const calls = this.#calls.splice(0);
    // rtpengine 10.5 does not always answer a delete in userspace mode here: do not wait for each
    // long, but confirm with `list` that none is left (their ports would still relay and cost CPU)
    let left = calls;
    for (let round = 0; round < 5 && left.length > 0; round++) {
      for (let i = 0; i < left.length; i += 250) {
        await Promise.all(left.slice(i, i + 250).map((c) => this.ng({ command: 'delete', 'call-id': c, 'from-tag': 'fa' }, 300).catch(() => undefined)));
      }
      const listed = await this.listCalls();
      const mine = new Set(left);
      left = listed.filter((c) => mine.has(c));
      if (left.length > 0) await new Promise((r) => setTimeout(r, 500));
    }
    if (left.length > 0) throw new Error(`rtpengine still lists ${left.length} calls of the previous step`);
    const total = await this.listCalls();
    if (total.length > 0) throw new Error(`rtpengine still lists ${total.length} calls`);
  }
  async listCalls(): Promise<string[]> {
    const r = await this.ng({ command: 'list', limit: 100000 });
    if (r.result !== 'ok' || !Array.isArray(r.calls)) throw new Error(`rtpengine list: ${JSON.stringify(r)}`);
    return r.calls.map((c) => String(c));
  }
  async stop(): Promise<void> {
    this.#sock.close();
    this.child.kill('SIGTERM');
    await Promise.race([once(this.child, 'exit'), new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function sdp(port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;
}

function portOf(s: string): number {
  const m = /^m=audio (\d+)/m.exec(s);
  if (!m) throw new Error(`no m=audio in ${s}`);
  return Number(m[1]);
}

/**
 * Each relay raises its own media threads (see prioritized): a flag it ignored would make the
 * comparison silently unequal, so the threads are read back from /proc (proc(5) stat fields 19 nice,
 * 41 policy) once the calls are set up.
 */
function assertMediaThreads(kind: Row['relay'], pid: number): void {
  if (!ROOTED || relaySched === 'normal') return;
  const threads = readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { nice: Number(f[16]), policy: Number(f[38]) };
  });
  const raised = threads.filter((t) => (relaySched === 'rt' ? t.policy === 2 : t.policy === 0 && t.nice === RELAY_NICE)).length;
  if (raised === 0) throw new Error(`${kind}: none of its ${threads.length} threads runs ${relaySched === 'rt' ? 'SCHED_RR' : `at nice ${RELAY_NICE}`}`);
}

// ---------- one step ----------

interface Relay {
  readonly pid: number;
  setup(phones: [number, number][]): Promise<[number, number][]>;
  teardown(): Promise<void>;
}

async function step(kind: Row['relay'], relay: Relay, calls: number, attempt: number, first: boolean): Promise<Row> {
  const gen = spawn(...prioritized(LOADGEN, [String(calls), String(SECONDS), String(WARMUP)], true), { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = lines(gen);
  const phones: [number, number][] = [];
  const ports = new Promise<void>((resolve) => {
    const on = (l: string): void => {
      const m = /^PORTS (\d+) (\d+)$/.exec(l);
      if (!m) return;
      phones.push([Number(m[1]), Number(m[2])]);
      if (phones.length === calls) {
        rl.off('line', on);
        resolve();
      }
    };
    rl.on('line', on);
  });
  await ports;
  const tSetup = performance.now();
  const relayPorts = await relay.setup(phones);
  assertMediaThreads(kind, relay.pid);
  const setupMs = performance.now() - tSetup;
  let cpu0 = 0;
  let cpu1 = 0;
  let gen0 = 0;
  let gen1 = 0;
  let m0 = { busy: 0, idle: 0 };
  let m1 = { busy: 0, idle: 0 };
  let t0 = 0;
  let t1 = 0;
  const result = new Promise<GenResult>((resolve, reject) => {
    rl.on('line', (l) => {
      if (l === 'MEASURE_START') {
        cpu0 = cpuTicks(relay.pid);
        gen0 = cpuTicks(gen.pid ?? 0);
        m0 = machine();
        t0 = performance.now();
      } else if (l === 'MEASURE_END') {
        cpu1 = cpuTicks(relay.pid);
        gen1 = cpuTicks(gen.pid ?? 0);
        m1 = machine();
        t1 = performance.now();
      } else if (l.startsWith('{')) resolve(JSON.parse(l) as GenResult);
    });
    gen.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`loadgen exited ${code}`))));
  });
  gen.stdin?.write(relayPorts.map(([a, b]) => `127.0.0.1 ${a} ${b}`).join('\n') + '\n');
  gen.stdin?.end();
  const r = await result;
  const tDown = performance.now();
  await relay.teardown();
  if (process.env.PBX_BENCH_MEDIA_DEBUG) console.log(`  setup ${setupMs.toFixed(0)} ms, teardown ${(performance.now() - tDown).toFixed(0)} ms`);
  const cpuSeconds = (cpu1 - cpu0) / CLK_TCK;
  const wall = (t1 - t0) / 1000;
  // everything busy on the box minus the relay and the generator (this driver is idle meanwhile)
  const others = (m1.busy - m0.busy - (cpu1 - cpu0) - (gen1 - gen0)) / CLK_TCK;
  const idle = (m1.idle - m0.idle) / CLK_TCK;
  return {
    ...r,
    relay: kind,
    sched: relaySched,
    cpuSeconds,
    cpuPercent: wall > 0 ? (100 * cpuSeconds) / wall : 0,
    usPerPacket: r.received > 0 ? (cpuSeconds * 1e6) / r.received : 0,
    othersCores: wall > 0 ? Math.max(0, others / wall) : 0,
    idleCores: wall > 0 ? Math.max(0, idle / wall) : 0,
    attempt,
    first,
  };
}

function clean(r: Row): boolean {
  return r.loss < LOSS_LIMIT && r.jitterP99us < JITTER_LIMIT_US;
}

/** A failure that the box, not the relay, may have caused: others ran, no CPU was left idle, or the generator was late. */
function disturbed(r: Row): boolean {
  return r.othersCores > DISTURBED_CORES || r.idleCores < MIN_IDLE_CORES || r.sendLateP99us > DISTURBED_LATE_US;
}

function table(rows: Row[]): string {
  const head =
    '| relay | calls | run | packets relayed/s | loss | one-way delay p50 | p99 added jitter | p99.9 | CPU of relay | CPU µs / relayed packet | generator late p99 | others\' CPU | idle CPU | within limits |\n' +
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';
  const body = rows.map(
    (r) =>
      `| ${r.relay === 'ours' ? 'ours (native relay)' : 'rtpengine 10.5 userspace'} | ${r.calls} | ${r.attempt > 1 ? `repeat ${r.attempt - 1}` : 'first'}${r.first ? ', ran 1st' : ', ran 2nd'} | ${Math.round(r.received / SECONDS)} | ${(r.loss * 100).toFixed(3)}% | ${r.delayP50us} µs | ${(r.jitterP99us / 1000).toFixed(2)} ms | ${(r.jitterP999us / 1000).toFixed(2)} ms | ${r.cpuPercent.toFixed(0)}% | ${r.usPerPacket.toFixed(2)} | ${(r.sendLateP99us / 1000).toFixed(1)} ms | ${r.othersCores.toFixed(2)} cores | ${r.idleCores.toFixed(2)} cores | ${clean(r) ? 'yes' : disturbed(r) ? 'no (disturbed)' : 'no'} |`,
  );
  return [head, ...body].join('\n');
}

function writeDoc(md: string): void {
  const file = join(ROOT, 'docs/performance.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n';
  const start = old.search(/^## Media\s*$/m);
  let next: string;
  if (start < 0) next = `${old.replace(/\s*$/, '')}\n\n${md}\n`;
  else {
    const after = old.slice(start + 1).search(/^## /m);
    const end = after < 0 ? old.length : start + 1 + after;
    next = `${old.slice(0, start)}${md}\n${after < 0 ? '' : '\n'}${old.slice(end)}`;
  }
  writeFileSync(file, next);
}

async function runMode(sched: Sched, deadline: number): Promise<Row[]> {
  relaySched = sched;
  const maxCalls = Math.max(...STEPS);
  // Four ports a call (two legs, RTP and RTCP each), with a margin.
  const oursRange = await freeRange(5 * maxCalls + 64, []);
  const rtpeRange = await freeRange(5 * maxCalls + 64, [oursRange]);
  const ours = new OursRelay(oursRange);
  const rtpe = new RtpEngine(await freeUdpPort(), rtpeRange);
  const rows: Row[] = [];
  try {
    await rtpe.ready();
    const alive = { ours: true, rtpengine: true };
    for (const [index, n] of STEPS.entries()) {
      // which relay runs first alternates: neither always gets the box fresh (or warm)
      const order = index % 2 === 0 ? ([['ours', ours], ['rtpengine', rtpe]] as const) : ([['rtpengine', rtpe], ['ours', ours]] as const);
      for (const [pos, [kind, relay]] of order.entries()) {
        for (let attempt = 1; attempt <= 1 + REPEATS; attempt++) {
          if (!alive[kind] || Date.now() > deadline || (ONLY !== undefined && ONLY !== kind)) break;
          const started = Date.now();
          const row = await step(kind, relay, n, attempt, pos === 0);
          row.stepSeconds = (Date.now() - started) / 1000;
          rows.push(row);
          console.log(
            `[${sched}] ${kind.padEnd(9)} calls=${n} run=${attempt} relayed=${Math.round(row.received / SECONDS)}/s loss=${(row.loss * 100).toFixed(3)}% p99 jitter=${(row.jitterP99us / 1000).toFixed(2)}ms cpu=${row.cpuPercent.toFixed(0)}% ${row.usPerPacket.toFixed(2)} µs/pkt (p50 jitter ${row.jitterP50us} µs, delay p50 ${row.delayP50us} µs, sender late p99 ${row.sendLateP99us} µs, others ${row.othersCores.toFixed(2)} cores, idle ${row.idleCores.toFixed(2)}; step ${row.stepSeconds?.toFixed(0)} s)`,
          );
          if (row.loss > 0.05) alive[kind] = false; // collapsed: larger steps tell nothing more
          if (clean(row) || !disturbed(row)) break; // a clean run, or a failure on a quiet box: final
        }
      }
    }
  } finally {
    await ours.stop();
    await rtpe.stop();
  }
  return rows;
}

const SCHED_TEXT: Readonly<Record<Sched, string>> = {
  rt: 'both relays\' media threads SCHED_RR 10 (ours: realtimePriority 10; rtpengine: --scheduling=rr --priority=10), load generator SCHED_RR 20',
  nice: 'both relays\' media threads nice -15, no SCHED_RR (ours: relayNice -15; rtpengine: --scheduling=other --priority=-15; each relay in a session of its own whose autogroup is nice -15 too), load generator SCHED_RR 20',
  normal: 'normal scheduling for all',
};

/** The final run of each step (the last repeat), per relay. */
function finals(rows: Row[], k: Row['relay']): Map<number, Row> {
  const m = new Map<number, Row>();
  for (const r of rows) if (r.relay === k) m.set(r.calls, r);
  return m;
}

/** The headline: the largest step with it and every smaller step within limits (final runs). */
function headline(rows: Row[], k: Row['relay']): number {
  const f = finals(rows, k);
  let best = 0;
  for (const n of STEPS) {
    const r = f.get(n);
    if (!r || !clean(r)) break;
    best = n;
  }
  return best;
}

function summary(rows: Row[]): string {
  const fo = finals(rows, 'ours');
  const fr = finals(rows, 'rtpengine');
  const both = STEPS.filter((n) => fo.has(n) && fr.has(n));
  const repeats = rows.filter((r) => r.attempt > 1).length;
  const dist = rows.filter((r) => !clean(r) && disturbed(r) && r.attempt === 1 + REPEATS).length;
  return (
    `Headline (largest step with every smaller step within limits, final runs): ours ${headline(rows, 'ours')} calls, rtpengine ${headline(rows, 'rtpengine')} calls. ` +
    `One-way delay p50, ours vs rtpengine: ${both.map((n) => `${n} calls ${fo.get(n)?.delayP50us} vs ${fr.get(n)?.delayP50us} µs`).join('; ')}. ` +
    `CPU µs per relayed packet, ours vs rtpengine: ${both.map((n) => `${n} calls ${fo.get(n)?.usPerPacket.toFixed(2)} vs ${fr.get(n)?.usPerPacket.toFixed(2)}`).join('; ')}. ` +
    `${repeats} run(s) were repeats of a disturbed failure${dist > 0 ? `; ${dist} step(s) still failed disturbed after ${REPEATS} repeats (their verdict says less about the relay than about the box)` : ''}.`
  );
}

async function main(): Promise<void> {
  if (!existsSync(LOADGEN)) throw new Error(`${LOADGEN} missing: run make build`);
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  const env = process.env.PBX_BENCH_MEDIA_PRIO;
  const modes: Sched[] = !ROOTED ? ['normal'] : env === 'rt' || env === 'nice' ? [env] : ['rt', 'nice'];
  const perMode = (12 * 60_000) / modes.length; // repeats of disturbed steps need room
  const sections: string[] = [];
  const others: number[] = [];
  for (const m of modes) {
    const rows = await runMode(m, Date.now() + perMode);
    others.push(...rows.map((r) => r.othersCores));
    sections.push(`### ${SCHED_TEXT[m]}\n\n${table(rows)}\n\n${summary(rows)}`);
  }
  const sorted = others.slice().sort((a, b) => a - b);
  const quiet =
    sorted.length === 0
      ? ''
      : `How quiet the box was: other processes used ${(sorted.reduce((a, b) => a + b, 0) / sorted.length).toFixed(2)} cores on average during the measured windows ` +
        `(median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2)}, max ${(sorted[sorted.length - 1] ?? 0).toFixed(2)}, of 2); ` +
        `${sorted.filter((x) => x > DISTURBED_CORES).length} of ${sorted.length} runs had more than ${DISTURBED_CORES} cores of others' work.`;
  const md = [
    '## Media',
    '',
    `Measured by \`node dist/bench/media/run.js\` (part of \`make bench\`) on ${new Date().toISOString().slice(0, 16)}Z, 2 cores, loopback only; load average at start ${loadStart}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (the box is shared with builds and other test suites, hence the raised priorities).`,
    `Load: N concurrent G.711 calls, 50 packets/s each way (172-byte RTP), from \`bench/media/loadgen.c\` (one UDP socket per phone, kernel receive timestamps);`,
    `each step runs ${WARMUP} s of warm-up then ${SECONDS} s measured. CPU is utime+stime of the relay process alone (/proc/<pid>/stat, all its threads) over the measured window,`,
    'divided by the packets that came out of it. "Added jitter" is the p99 (and p99.9) over all packets of (one-way delay − that stream\'s minimum delay).',
    `Limits: loss < ${LOSS_LIMIT * 100}% and p99 added jitter < ${JITTER_LIMIT_US / 1000} ms. rtpengine 10.5 runs userspace (\`--table=-1\`, its default threads), calls set up over its ng protocol.`,
    `Which relay runs first alternates by step ("ran 1st/2nd"). Before the next step, rtpengine's calls are deleted and confirmed gone with ng \`list\`, ours with its session count.`,
    `"others' CPU" is what the rest of the box used meanwhile (/proc/stat minus the relay and the generator; CLK_TCK ${CLK_TCK} from \`getconf\`), "idle CPU" what was left. A step that fails while others used more than ${DISTURBED_CORES} cores,`,
    `less than ${MIN_IDLE_CORES} cores stayed idle, or the generator was more than ${DISTURBED_LATE_US / 1000} ms late is "disturbed" and run again (up to ${REPEATS} times); every run is listed, the last one is the step's verdict.`,
    GEN_CPU === undefined ? 'The load generator was not pinned.' : `The load generator (standing for the phones on the LAN) is pinned to CPU ${GEN_CPU} with taskset, so it does not preempt a relay on the CPU that relay woke on; the relays are not pinned.`,
    '"one-way delay p50" is phone → relay → phone on loopback (send stamp to kernel receive stamp), so it is what the relay adds plus two loopback hops.',
    '"generator late p99" is how late the load generator sent (its send stamp is the real send time, so lateness itself is not counted as jitter; a large value means',
    'the real-time tasks of the step together hit the kernel\'s RT throttling, which also stalls the relay). Real-time wake-ups cost both relays CPU at low load.',
    '',
    quiet,
    '',
    ...sections.flatMap((x) => [x, '']),
  ].join('\n');
  console.log(`\n${md}`);
  if (ONLY === undefined) writeDoc(md);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
