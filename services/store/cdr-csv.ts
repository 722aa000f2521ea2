/** The call log as CSV, the same file from `pbxctl cdr export --csv` and the web UI's export. */
import type { CallRecord, CdrLeg } from './cdr.js';

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());
const seconds = (from: number | null, to: number | null): string => (from === null || to === null ? '' : String(Math.round((to - from) / 1000)));

const CSV_HEADER = [
  'id', 'call_id', 'caller', 'callee', 'dialled', 'trunk', 'started_at', 'answered_at', 'ended_at', 'ring_seconds', 'talk_seconds',
  'disposition', 'sip_status', 'reason',
  'caller_address', 'caller_packets_in', 'caller_packets_out', 'caller_lost', 'caller_jitter_ms',
  'callee_call_id', 'callee_address', 'callee_packets_in', 'callee_packets_out', 'callee_lost', 'callee_jitter_ms',
];

/** RFC 4180 CSV. A cell a spreadsheet would run as a formula is prefixed with ' (OWASP CSV injection). */
export function toCsv(records: CallRecord[]): string {
  const rows = records.map((r) => {
    const caller = r.legs.find((l) => l.side === 'caller');
    const callee = r.legs.find((l) => l.side === 'callee');
    const q = (leg: CdrLeg | undefined): string[] =>
      leg?.quality ? [String(leg.quality.packetsIn), String(leg.quality.packetsOut), String(leg.quality.lost), String(leg.quality.jitterMs)] : ['', '', '', ''];
    return [
      String(r.id), r.callId, r.caller, r.callee, r.dialled ?? '', r.trunk ?? '', iso(r.startedAt), iso(r.answeredAt), iso(r.endedAt),
      seconds(r.startedAt, r.answeredAt ?? r.endedAt), seconds(r.answeredAt, r.endedAt),
      r.disposition ?? 'in-progress', r.status === null ? '' : String(r.status), r.reason ?? '',
      caller?.address ?? '', ...q(caller),
      callee?.callId ?? '', callee?.address ?? '', ...q(callee),
    ];
  });
  return [CSV_HEADER, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function csvCell(value: string): string {
  let text = value;
  // E.164 numbers (+15551234) stay as they are; any other leading = + - @ could start a formula.
  if (/^[=+\-@\t\r]/.test(text) && !/^\+\d+$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
