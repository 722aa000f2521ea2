/**
 * `pbxctl logs [--follow] [--call CALL-ID] [--level LEVEL] [--lines N] [--json]`: the JSON log
 * lines of every process in `<dataDir>/logs/` (current and rotated files), merged by time and shown
 * one per line for a technician, or as they are with --json.
 *
 * --call finds one call: the lines whose callId is the caller's Call-ID or the Call-ID of any other
 * leg of that call (from its call record), so the whole B2BUA call shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DB_FILE } from '../../services/store/db.js';
import { isLogLevel, LOG_DIR, LOG_LEVELS, type LogLevel } from '../../services/log.js';
import { openStore } from '../../services/store/index.js';
import { Failure, out, stringOption, UsageError, type CommandGroup } from './cli.js';

const LEVEL_NUMBERS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const LEVEL_NAMES = new Map<number, string>([[10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO'], [40, 'WARN'], [50, 'ERROR'], [60, 'FATAL']]);
/** Fields shown in the line's head, not repeated among the key=value pairs. */
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

export const logsCommands: CommandGroup = {
  name: 'logs',
  usage: '  logs [--follow] [--call CALL-ID] [--level LEVEL] [--lines N] [--json]\n                           the processes\' logs (<data-dir>/logs), merged by time',
  options: {
    follow: { type: 'boolean', default: false },
    call: { type: 'string' },
    level: { type: 'string' },
    lines: { type: 'string' },
  },
  async run({ config, values, json }, args) {
    if (args.length > 0) throw new UsageError(`logs takes no argument (got ${args[0]})`);
    const dir = path.join(config.dataDir, LOG_DIR);
    const levelText = stringOption(values, 'level') ?? 'debug';
    if (!isLogLevel(levelText)) throw new UsageError(`--level must be one of ${LOG_LEVELS.join(', ')}`);
    const minLevel = LEVEL_NUMBERS[levelText];
    const linesText = stringOption(values, 'lines');
    if (linesText !== undefined && !/^\d{1,7}$/.test(linesText)) throw new UsageError('--lines must be a number');
    const callId = stringOption(values, 'call');
    const callIds = callId === undefined ? null : legsOf(config.dataDir, callId);
    // A whole call is shown by default; otherwise the last 100 lines, like `tail`.
    const lines = linesText !== undefined ? Number(linesText) : callIds !== null ? Infinity : 100;

    const keep = (entry: Entry): boolean => entry.level >= minLevel && (callIds === null || (entry.callId !== null && callIds.has(entry.callId)));
    const show = (entry: Entry): void => out(json ? entry.raw : format(entry));

    if (!fs.existsSync(dir)) {
      if (values.follow !== true) throw new Failure(`no logs yet in ${dir}`);
      fs.mkdirSync(dir, { recursive: true });
    }
    const entries = readAll(dir).filter(keep);
    for (const entry of lines === Infinity ? entries : entries.slice(Math.max(0, entries.length - lines))) show(entry);
    if (values.follow === true) await follow(dir, (entry) => keep(entry) && (show(entry), true));
  },
};

interface Entry {
  time: number;
  level: number;
  callId: string | null;
  raw: string;
  parsed: Record<string, unknown> | null;
}

/** The caller's Call-ID and those of the call's other legs (call record), so a B2BUA call shows whole. */
function legsOf(dataDir: string, callId: string): Set<string> {
  const ids = new Set([callId]);
  if (!fs.existsSync(path.join(dataDir, DB_FILE))) return ids;
  const store = openStore(dataDir);
  try {
    for (const record of store.cdr.findByCallId(callId)) {
      ids.add(record.callId);
      for (const leg of record.legs) ids.add(leg.callId);
    }
  } finally {
    store.close();
  }
  return ids;
}

/** Current and rotated files per service: `pbx.log.4` … `pbx.log.1`, `pbx.log`. */
function logFiles(dir: string): string[] {
  const names = fs.readdirSync(dir).filter((n) => /^[\w.-]+\.log(\.\d+)?$/.test(n));
  const rank = (name: string): number => {
    const match = /\.log\.(\d+)$/.exec(name);
    return match ? Number(match[1]) : 0;
  };
  return names.sort((a, b) => rank(b) - rank(a) || a.localeCompare(b)).map((n) => path.join(dir, n));
}

function parse(line: string): Entry | null {
  if (line.trim() === '') return null;
  try {
    const value = JSON.parse(line) as unknown;
    if (value === null || typeof value !== 'object') return null;
    const record = value as Record<string, unknown>;
    const time = typeof record.time === 'string' ? Date.parse(record.time) : typeof record.time === 'number' ? record.time : NaN;
    return {
      time: Number.isNaN(time) ? 0 : time,
      level: typeof record.level === 'number' ? record.level : 30,
      callId: typeof record.callId === 'string' ? record.callId : null,
      raw: line,
      parsed: record,
    };
  } catch {
    // Not ours (a stray line): shown as it is, at info.
    return { time: 0, level: 30, callId: null, raw: line, parsed: null };
  }
}

function readAll(dir: string): Entry[] {
  const entries: Entry[] = [];
  for (const file of logFiles(dir)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const entry = parse(line);
      if (entry) entries.push(entry);
    }
  }
  // Stable: lines of one file keep their order; files interleave by time.
  return entries.map((e, i) => [e, i] as const).sort((a, b) => a[0].time - b[0].time || a[1] - b[1]).map(([e]) => e);
}

export function format(entry: Entry): string {
  const r = entry.parsed;
  if (r === null) return entry.raw;
  const time = typeof r.time === 'string' ? r.time : new Date(entry.time).toISOString();
  const level = (LEVEL_NAMES.get(entry.level) ?? String(entry.level)).padEnd(5);
  const name = typeof r.name === 'string' ? r.name : '-';
  const fields = Object.entries(r)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  return `${time} ${level} ${name}: ${typeof r.msg === 'string' ? r.msg : ''}${fields.length > 0 ? '  ' + fields.join(' ') : ''}`;
}

/** Prints lines appended to the current files until interrupted; follows rotation (a new inode or a shorter file). */
async function follow(dir: string, onEntry: (entry: Entry) => unknown): Promise<void> {
  const positions = new Map<string, { ino: number; offset: number; partial: string }>();
  const current = (): string[] => fs.readdirSync(dir).filter((n) => /^[\w.-]+\.log$/.test(n)).map((n) => path.join(dir, n));
  for (const file of current()) {
    const stat = fs.statSync(file);
    positions.set(file, { ino: stat.ino, offset: stat.size, partial: '' });
  }
  let stop = false;
  const interrupt = (): void => {
    stop = true;
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  while (!stop) {
    for (const file of current()) {
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue;
      }
      let position = positions.get(file);
      if (position === undefined || position.ino !== stat.ino || stat.size < position.offset) {
        position = { ino: stat.ino, offset: 0, partial: '' };
        positions.set(file, position);
      }
      if (stat.size === position.offset) continue;
      const fd = fs.openSync(file, 'r');
      try {
        const buffer = Buffer.alloc(stat.size - position.offset);
        const read = fs.readSync(fd, buffer, 0, buffer.length, position.offset);
        position.offset += read;
        const text = position.partial + buffer.subarray(0, read).toString('utf8');
        const parts = text.split('\n');
        position.partial = parts.pop() ?? '';
        for (const line of parts) {
          const entry = parse(line);
          if (entry) onEntry(entry);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
