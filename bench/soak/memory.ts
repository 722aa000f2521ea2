/**
 * Memory of processes from /proc (Linux): RSS (what `ps` and `top` show, shared pages counted in
 * every process that maps them) and PSS (each shared page divided among the processes sharing it,
 * so a sum over processes counts every page once). Sampled over time for the soak bench, summed
 * over a process tree for the footprint bench; an SVG line chart of the samples.
 */
import fs from 'node:fs';

export interface MemoryReading {
  /** kB. */
  readonly rssKb: number;
  readonly pssKb: number;
  readonly anonKb: number;
}

function statusField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

/**
 * A process of the appliance's tree by what it is: the supervisor (pm2-runtime, as
 * image/supervisor.cjs or plain), an app by its process title (pbx-sip), else its command name.
 */
export function stackProcessName(pid: number): string {
  let comm = '?';
  try {
    comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
    if (cmd.some((a) => a.endsWith('pm2-runtime') || a.endsWith('supervisor.cjs'))) return 'supervisor (pm2-runtime)';
    if (cmd.length === 1) return cmd[0] ?? comm; // a process title (pbx-sip)
  } catch {
    // gone
  }
  return comm;
}

/** The virtual analog board of simulation mode (device/sim/main.ts): hardware stand-in, not the appliance. */
export function isSimulatedHardware(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('/device/sim/main.js'));
  } catch {
    return false;
  }
}

/** One process now, or undefined when it is gone. */
export function readMemory(pid: number): MemoryReading | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    let pssKb = 0;
    try {
      pssKb = statusField(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // smaps_rollup needs the same user or CAP_SYS_PTRACE; PSS then reads 0.
    }
    return { rssKb: statusField(status, 'VmRSS'), pssKb, anonKb: statusField(status, 'RssAnon') };
  } catch {
    return undefined;
  }
}

/** Sum over processes (those gone count nothing). */
export function sumMemory(pids: readonly number[]): MemoryReading {
  let rssKb = 0;
  let pssKb = 0;
  let anonKb = 0;
  for (const pid of pids) {
    const m = readMemory(pid);
    if (m === undefined) continue;
    rssKb += m.rssKb;
    pssKb += m.pssKb;
    anonKb += m.anonKb;
  }
  return { rssKb, pssKb, anonKb };
}

export interface Sample {
  /** Seconds since the series began. */
  readonly t: number;
  readonly rssMb: number;
  readonly pssMb: number;
}

/** Samples `pids()` every `intervalMs` until stopped. */
export function startSampler(pids: () => readonly number[], intervalMs = 1000): { samples: Sample[]; mark(): number; stop(): Sample[] } {
  const samples: Sample[] = [];
  const start = performance.now();
  const take = (): void => {
    const m = sumMemory(pids());
    samples.push({ t: (performance.now() - start) / 1000, rssMb: m.rssKb / 1024, pssMb: m.pssKb / 1024 });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    samples,
    mark: () => (performance.now() - start) / 1000,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<{ t: number; mb: number }>;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A line chart: MB over seconds, one line per series, shaded spans (the flood), a dashed limit. */
export function svgChart(options: {
  title: string;
  series: readonly Series[];
  spans?: ReadonlyArray<{ from: number; to: number; label: string }>;
  limitMb?: { mb: number; label: string };
}): string {
  const W = 900;
  const H = 420;
  const left = 60;
  const right = 20;
  const top = 40;
  const bottom = 50;
  const all = options.series.flatMap((s) => s.points);
  const tMax = Math.max(1, ...all.map((p) => p.t));
  const yMax = Math.ceil(Math.max(10, options.limitMb?.mb ?? 0, ...all.map((p) => p.mb)) / 50) * 50;
  const x = (t: number): number => left + ((W - left - right) * t) / tMax;
  const y = (mb: number): number => top + (H - top - bottom) * (1 - mb / yMax);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`);
  for (const span of options.spans ?? []) {
    parts.push(`<rect x="${x(span.from).toFixed(1)}" y="${top}" width="${(x(span.to) - x(span.from)).toFixed(1)}" height="${H - top - bottom}" fill="#f3e6c8"/>`);
    parts.push(`<text x="${((x(span.from) + x(span.to)) / 2).toFixed(1)}" y="${top + 14}" text-anchor="middle" fill="#8a6d1f">${escapeXml(span.label)}</text>`);
  }
  for (let mb = 0; mb <= yMax; mb += 50) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(mb).toFixed(1)}" y2="${y(mb).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(mb) + 4).toFixed(1)}" text-anchor="end">${mb}</text>`);
  }
  const tStep = tMax > 300 ? 60 : 30;
  for (let t = 0; t <= tMax; t += tStep) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle">seconds</text>`);
  parts.push(`<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">MB</text>`);
  if (options.limitMb !== undefined) {
    const ly = y(options.limitMb.mb).toFixed(1);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${ly}" y2="${ly}" stroke="#c00" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - right - 4}" y="${(Number(ly) - 4).toFixed(1)}" text-anchor="end" fill="#c00">${escapeXml(options.limitMb.label)}</text>`);
  }
  options.series.forEach((s, i) => {
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.mb).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<rect x="${left + 10}" y="${top + 24 + i * 18}" width="14" height="4" fill="${s.color}"/>`);
    parts.push(`<text x="${left + 30}" y="${top + 30 + i * 18}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Replace (or append) the section starting with `heading` ('## Memory soak') of a Markdown file. */
export function replaceSection(file: string, heading: string, section: string): void {
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance\n';
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const start = text.search(new RegExp(`^${escaped}\\s*$`, 'm'));
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section.trimEnd()}\n`;
  } else {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    const end = next < 0 ? text.length : start + 1 + next;
    text = `${text.slice(0, start)}${section.trimEnd()}\n${next < 0 ? '' : `\n${text.slice(end)}`}`;
  }
  fs.writeFileSync(file, text);
}

/** The machine's load average now (1, 5, 15 min), for figures taken on a shared machine. */
export function loadAverage(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

const PAGE = 4096;
const PFN_MASK = (1n << 55n) - 1n;
const PRESENT = 1n << 63n;

/**
 * The resident memory of a group of processes with every page counted once (MB): the union of the
 * physical pages (PFNs, /proc/PID/pagemap) their mappings have present. Unlike an RSS sum it does
 * not count the node binary twice for two node processes; unlike PSS it does not depend on which
 * other processes of the machine happen to map the same files. Needs root (PFNs read as 0
 * otherwise): returns null then.
 */
export function uniqueResidentMb(pids: readonly number[]): number | null {
  const frames = new Set<bigint>();
  let sawFrame = false;
  for (const pid of pids) {
    let maps: string;
    let fd: number;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue;
    }
    try {
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (m === null || line.endsWith('[vsyscall]')) continue;
        const start = Number.parseInt(m[1] ?? '0', 16) / PAGE;
        const end = Number.parseInt(m[2] ?? '0', 16) / PAGE;
        // Read the range's entries in chunks (reserved, never touched ranges are large).
        const CHUNK = 65536;
        const buf = Buffer.allocUnsafe(CHUNK * 8);
        for (let page = start; page < end; page += CHUNK) {
          const count = Math.min(CHUNK, end - page);
          let read = 0;
          try {
            read = fs.readSync(fd, buf, 0, count * 8, page * 8);
          } catch {
            break;
          }
          for (let i = 0; i + 8 <= read; i += 8) {
            const entry = buf.readBigUInt64LE(i);
            if ((entry & PRESENT) === 0n) continue;
            const pfn = entry & PFN_MASK;
            if (pfn !== 0n) {
              sawFrame = true;
              frames.add(pfn);
            }
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return sawFrame ? (frames.size * PAGE) / 1048576 : null;
}
