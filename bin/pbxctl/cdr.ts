/**
 * `pbxctl cdr list [--since ISO|DURATION] [--json]` and `pbxctl cdr export --csv [FILE]`: the call
 * detail records of services/store/cdr.ts, read straight from SQLite.
 */
import fs from 'node:fs';
import type { CallRecord, CdrLeg } from '../../services/store/index.js';
import { toCsv } from '../../services/store/cdr-csv.js';
import { Failure, out, printJson, table, UsageError, withStore, stringOption, type CliValues, type CommandGroup } from './cli.js';

export const cdrCommands: CommandGroup = {
  name: 'cdr',
  usage: [
    '  cdr list [--since ISO|DURATION] [--limit N] [--json]',
    '                           call records, oldest first (DURATION: 30m, 12h, 7d, 2w)',
    '  cdr export --csv [FILE] [--since ISO|DURATION]',
    '                           one CSV row per call, both legs\' RTP figures as columns (stdout without FILE)',
    '  cdr prune --before ISO|DURATION [--json]',
    '                           delete records of calls that ended before then (e.g. --before 400d)',
  ].join('\n'),
  options: {
    since: { type: 'string' },
    before: { type: 'string' },
    limit: { type: 'string' },
    csv: { type: 'boolean', default: false },
  },
  run({ config, values, json }, args) {
    const [sub, ...rest] = args;
    const since = parseSince(stringOption(values, 'since'));
    switch (sub) {
      case 'list':
        if (rest.length > 0) throw new UsageError(`cdr list takes no argument (got ${rest[0]})`);
        return withStore(config, (store) => {
          const records = store.cdr.list({ since, ...limitOf(values) });
          if (json) printJson(records);
          else printList(records);
        });
      case 'export': {
        if (values.csv !== true) throw new UsageError('cdr export needs --csv (the only format)');
        if (rest.length > 1) throw new UsageError(`unexpected argument: ${rest[1]}`);
        const file = rest[0];
        return withStore(config, (store) => {
          const records = store.cdr.list({ since, ...limitOf(values) });
          const text = toCsv(records);
          if (file === undefined) {
            process.stdout.write(text);
            return;
          }
          try {
            fs.writeFileSync(file, text);
          } catch (error) {
            throw new Failure(`cannot write ${file}: ${(error as Error).message}`);
          }
          out(`${records.length} call record(s) written to ${file}`);
        });
      }
      case 'prune': {
        if (rest.length > 0) throw new UsageError(`cdr prune takes no argument (got ${rest[0]})`);
        const before = parseSince(stringOption(values, 'before'));
        if (before === undefined) throw new UsageError('cdr prune needs --before ISO|DURATION');
        return withStore(config, (store) => {
          const deleted = store.cdr.prune(before);
          if (json) printJson({ deleted, before: new Date(before).toISOString() });
          else out(`${deleted} call record(s) that ended before ${new Date(before).toISOString()} deleted`);
        });
      }
      default:
        throw new UsageError(sub ? `unknown cdr command: ${sub}` : 'cdr needs list, export or prune');
    }
  },
};

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `--since`: an ISO date/time, or a duration back from now (30m, 12h, 7d, 2w). */
export function parseSince(text: string | undefined, now = Date.now()): number | undefined {
  if (text === undefined) return undefined;
  const duration = /^(\d{1,6})([smhdw])$/.exec(text);
  if (duration) return now - Number(duration[1]) * (UNITS[duration[2] as string] as number);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return at;
  }
  throw new UsageError(`--since/--before must be an ISO date (2026-12-01 or 2026-12-01T08:00:00Z) or a duration like 30m, 12h, 7d, 2w (got "${text}")`);
}

function limitOf(values: CliValues): { limit?: number } {
  const raw = stringOption(values, 'limit');
  if (raw === undefined) return {};
  if (!/^\d{1,7}$/.test(raw) || Number(raw) === 0) throw new UsageError(`--limit must be a positive number (got "${raw}")`);
  return { limit: Number(raw) };
}

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());
const seconds = (from: number | null, to: number | null): string => (from === null || to === null ? '' : String(Math.round((to - from) / 1000)));

function legText(leg: CdrLeg | undefined): string {
  if (leg === undefined || leg.quality === null) return '-';
  return `lost ${leg.quality.lost}/${leg.quality.packetsIn + leg.quality.lost} jitter ${leg.quality.jitterMs} ms`;
}

function printList(records: CallRecord[]): void {
  out(`call records: ${records.length}`);
  if (records.length === 0) return;
  out(
    table(
      ['START', 'FROM', 'TO', 'NUMBER', 'TRUNK', 'DISPOSITION', 'TALK', 'CALLER RTP', 'CALLEE RTP', 'CALL-ID'],
      records.map((r) => [
        iso(r.startedAt).replace('T', ' ').slice(0, 19),
        r.caller,
        r.callee,
        r.dialled ?? '-',
        r.trunk ?? '-',
        r.disposition ?? 'in progress',
        r.answeredAt === null ? '-' : `${seconds(r.answeredAt, r.endedAt ?? Date.now())} s`,
        legText(r.legs.find((l) => l.side === 'caller')),
        legText(r.legs.find((l) => l.side === 'callee')),
        r.callId,
      ]),
    ),
  );
}
