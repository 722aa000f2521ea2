/**
 * Structured logging: one JSON line per event, with call-id / port / extension as fields so a
 * technician can follow one call with `grep`. A child logger per call, leg or port carries them.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = ['secret', 'password', 'ha1', '*.secret', '*.password', '*.ha1', 'authorization', '*.authorization'];

export function createLogger(service: string, level: string = process.env.PBX_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that writes nothing, for tests and tools that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
