/**
 * Structured logging: one JSON line per event, with call-id / port / extension as fields so a
 * technician can follow one call with `grep` or `pbxctl logs --call`. A child logger per call, leg
 * or port carries them.
 *
 * Where lines go: `<dataDir>/logs/<service>.log`, rotated by size (rotating-file-stream, classic
 * logrotate numbering `.1` … `.N`, so the total is bounded), and stdout unless turned off (pm2 hands
 * stdout to the terminal under `make run`, to the journal under systemd). Both streams are written
 * in this thread: no transport worker per process (footprint).
 *
 * Levels (docs/operations.md): warn = failed login, a block, a lost call, a crash; info = lifecycle
 * and calls; debug = everything else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { destination, multistream, pino, type Logger, type StreamEntry } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One file reaches this size, then is renamed `.1` (and `.1` → `.2` …). */
export const LOG_FILE_SIZE = '10M';
/** Rotated files kept per service: the total is (1 + LOG_ROTATIONS) × LOG_FILE_SIZE = 50 MB. */
export const LOG_ROTATIONS = 4;
export const LOG_DIR = 'logs';

const REDACT = ['secret', 'password', 'ha1', '*.secret', '*.password', '*.ha1', 'authorization', '*.authorization'];

export interface LoggerOptions {
  level?: LogLevel;
  /** Directory of the rotated log files (`<dataDir>/logs`); none: stdout only. */
  dir?: string | null;
  /** Also write to stdout (default true). */
  stdout?: boolean;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

const files = new Set<RotatingFileStream>();

export function createLogger(service: string, options: LoggerOptions | LogLevel = {}): Logger {
  const opts: LoggerOptions = typeof options === 'string' ? { level: options } : options;
  const envLevel = process.env.PBX_LOG_LEVEL;
  const level: LogLevel = opts.level ?? (envLevel !== undefined && envLevel !== '' ? checkedLevel(envLevel) : 'info');
  if (level === 'silent') return pino({ level });
  const base = { name: service, level, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime };
  const streams: StreamEntry[] = [];
  if (opts.dir) streams.push({ level, stream: logFile(opts.dir, service) });
  if (opts.stdout !== false) streams.push({ level, stream: destination({ fd: 1, sync: true }) });
  if (streams.length === 1 && opts.stdout !== false && !opts.dir) return pino(base);
  return pino(base, multistream(streams));
}

function checkedLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new Error(`PBX_LOG_LEVEL=${JSON.stringify(value)}: must be one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

function logFile(dir: string, service: string): RotatingFileStream {
  fs.mkdirSync(dir, { recursive: true });
  const stream = createStream(`${service}.log`, { path: dir, size: LOG_FILE_SIZE, rotate: LOG_ROTATIONS });
  // A full disk or a removed directory must not take the process down: the line is lost, not the call.
  stream.on('error', (error) => process.stderr.write(`log file ${path.join(dir, service)}.log: ${error.message}\n`));
  stream.on('warning', (error) => process.stderr.write(`log file ${path.join(dir, service)}.log: ${error.message}\n`));
  files.add(stream);
  return stream;
}

/**
 * Waits until every log file has written what it was given (file writes are asynchronous): called
 * before a deliberate exit so the last lines, the reason of a crash above all, reach the disk.
 */
export function flushLogs(timeoutMs = 1000): Promise<void> {
  const pending = [...files].map(
    (stream) =>
      new Promise<void>((resolve) => {
        files.delete(stream);
        stream.end(() => resolve());
      }),
  );
  return Promise.race([Promise.all(pending).then(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}

/** A logger that writes nothing, for tests and tools that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
