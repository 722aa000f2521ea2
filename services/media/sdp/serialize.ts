/** RFC 4566 serializer: §5 line order, CRLF endings. */
import type { Attribute, Connection, MediaDescription, SessionDescription } from './types.js';

function conn(c: Connection): string {
  return `${c.netType} ${c.addrType} ${c.address}`;
}

function attr(a: Attribute): string {
  return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

function serializeMedia(m: MediaDescription, out: string[]): void {
  const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
  out.push(`m=${m.type} ${port} ${m.proto}${m.formats.map((f) => ` ${f}`).join('')}`);
  if (m.info !== undefined) out.push(`i=${m.info}`);
  if (m.connection) out.push(`c=${conn(m.connection)}`);
  for (const b of m.bandwidths) out.push(`b=${b}`);
  for (const r of m.rtpmaps) {
    out.push(`a=rtpmap:${r.payloadType} ${r.encoding}/${r.clockRate}${r.channels === undefined ? '' : `/${r.channels}`}`);
  }
  for (const f of m.fmtps) out.push(`a=fmtp:${f.payloadType} ${f.params}`);
  if (m.ptime !== undefined) out.push(`a=ptime:${m.ptime}`);
  if (m.maxptime !== undefined) out.push(`a=maxptime:${m.maxptime}`);
  if (m.rtcp) out.push(`a=rtcp:${m.rtcp.port}${m.rtcp.connection ? ` ${conn(m.rtcp.connection)}` : ''}`);
  for (const a of m.attributes) out.push(attr(a));
  if (m.direction) out.push(`a=${m.direction}`);
}

export function serializeSdp(s: SessionDescription): string {
  const o = s.origin;
  const out: string[] = [
    `v=${s.version}`,
    `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`,
    `s=${s.sessionName}`,
  ];
  if (s.info !== undefined) out.push(`i=${s.info}`);
  if (s.uri !== undefined) out.push(`u=${s.uri}`);
  for (const e of s.emails) out.push(`e=${e}`);
  for (const p of s.phones) out.push(`p=${p}`);
  if (s.connection) out.push(`c=${conn(s.connection)}`);
  for (const b of s.bandwidths) out.push(`b=${b}`);
  for (const t of s.times) {
    out.push(`t=${t.start} ${t.stop}`);
    for (const r of t.repeats) out.push(`r=${r}`);
  }
  if (s.timezones !== undefined) out.push(`z=${s.timezones}`);
  if (s.key !== undefined) out.push(`k=${s.key}`);
  for (const a of s.attributes) out.push(attr(a));
  if (s.direction) out.push(`a=${s.direction}`);
  for (const m of s.media) serializeMedia(m, out);
  return out.join('\r\n') + '\r\n';
}
