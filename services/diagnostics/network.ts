/**
 * What an installer asks when "the phone rings but nobody hears anything": findings drawn from what
 * the box already records, each with the fix in plain words (the UI translates the code).
 *
 * - One-way audio: an answered call during which the box received no RTP from one side, while it
 *   did from the other. The usual causes are a NAT that drops the phone's media, a firewall, or a
 *   router's SIP ALG rewriting the SDP (Asterisk's and 3CX's troubleshooting guides say the same).
 * - SIP ALG: a router that rewrites SIP. Seen from the box, a phone whose Contact carries its
 *   public address (what only a rewriting router or STUN produces) but with a port other than the
 *   one its packets come from: a half-done rewrite, the classic ALG symptom.
 */
import net from 'node:net';
import type { CallRecord } from '../store/cdr.js';

export type DiagnosisCode = 'one-way-audio' | 'no-audio' | 'sip-alg';

export interface Diagnosis {
  code: DiagnosisCode;
  /** The extension or party concerned. */
  party: string;
  /** The call (Call-ID) or the phone's address the finding is about. */
  subject: string;
  /** Epoch ms of the evidence. */
  at: number;
  detail: Record<string, string>;
}

/** RFC 1918, loopback, CGNAT (RFC 6598), link-local and IPv6 unique-local addresses. */
export function isPrivateAddress(address: string): boolean {
  if (net.isIPv4(address)) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  const lower = address.toLowerCase();
  return lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80:');
}

/** Answered calls that lasted at least `minTalkMs` with no RTP received from one leg (or both). */
export function audioFindings(records: readonly CallRecord[], minTalkMs = 3000): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const r of records) {
    if (r.answeredAt === null || r.endedAt === null || r.endedAt - r.answeredAt < minTalkMs) continue;
    const legs = r.legs.filter((l) => l.quality !== null);
    if (legs.length < 2) continue;
    const silent = legs.filter((l) => l.quality?.packetsIn === 0);
    if (silent.length === 0) continue;
    if (silent.length === legs.length) {
      out.push({ code: 'no-audio', party: `${r.caller} → ${r.callee}`, subject: r.callId, at: r.answeredAt, detail: { caller: r.caller, callee: r.callee } });
      continue;
    }
    for (const leg of silent) {
      out.push({ code: 'one-way-audio', party: leg.party, subject: r.callId, at: r.answeredAt, detail: { party: leg.party, address: leg.address ?? '?', other: leg.side === 'caller' ? r.callee : r.caller } });
    }
  }
  return out;
}

export interface BindingFacts {
  aor: string;
  contactUri: string;
  sourceAddress: string;
  sourcePort: number;
  registeredAt: number;
}

/** Phones whose Contact shows a half-done rewrite by a router (SIP ALG). */
export function algFindings(bindings: readonly BindingFacts[]): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const b of bindings) {
    const m = /^sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?/i.exec(b.contactUri);
    if (m === null) continue;
    const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
    const port = m[2] === undefined ? 5060 : Number(m[2]);
    if (host === b.sourceAddress && !isPrivateAddress(host) && port !== b.sourcePort) {
      out.push({
        code: 'sip-alg',
        party: b.aor,
        subject: `${b.sourceAddress}:${b.sourcePort}`,
        at: b.registeredAt,
        detail: { extension: b.aor, contact: `${host}:${port}`, source: `${b.sourceAddress}:${b.sourcePort}` },
      });
    }
  }
  return out;
}
