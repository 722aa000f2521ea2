/**
 * RFC 3264 offer/answer for an anchoring B2BUA: we stand in the middle, so every SDP we emit is a
 * copy of the other side's with our address/port, the codecs both sides can share, and the
 * direction passed through (hold is the phones' business, we relay it).
 * Supported: PCMU (0), PCMA (8), telephone-event (RFC 4733), G.722 (9) passed through when both
 * ends have it. Only the first audio stream is anchored; other streams are rejected (port 0, §6).
 */
import type { Direction, MediaDescription, RtpMap, SessionDescription } from './types.js';
import { SdpError } from './types.js';

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'telephone-event';

export interface Codec {
  payloadType: number;
  name: CodecName;
  clockRate: number;
  fmtp?: string;
}

/** The audio stream of one side, as that side described it. */
export interface RemoteAudio {
  /** index of the audio m-line in the SDP */
  index: number;
  address: string;
  port: number;
  rtcpPort: number;
  /** as written by the phone */
  direction: Direction;
  /** RFC 2543 hold: c=0.0.0.0 */
  nullAddress: boolean;
  codecs: Codec[];
  ptime?: number;
  proto: string;
}

/** RFC 3551 static payload types we accept without a=rtpmap. */
const STATIC: ReadonlyMap<number, { name: CodecName; clockRate: number }> = new Map([
  [0, { name: 'PCMU', clockRate: 8000 }],
  [8, { name: 'PCMA', clockRate: 8000 }],
  [9, { name: 'G722', clockRate: 8000 }], // RFC 3551 §4.5.2: G.722's RTP clock is 8000 by mistake, kept
]);

function codecName(map: RtpMap): CodecName | undefined {
  const e = map.encoding.toUpperCase();
  if (e === 'PCMU' || e === 'PCMA' || e === 'G722') return map.clockRate === 8000 ? e : undefined;
  if (e === 'TELEPHONE-EVENT' && map.clockRate === 8000) return 'telephone-event';
  return undefined;
}

/** The codecs of an m-line that we support, in the phone's order of preference. */
export function supportedCodecs(m: MediaDescription): Codec[] {
  const out: Codec[] = [];
  for (const f of m.formats) {
    const pt = Number(f);
    if (!Number.isInteger(pt)) continue;
    const map = m.rtpmaps.find((r) => r.payloadType === pt);
    const known = map ? codecName(map) : STATIC.get(pt)?.name;
    if (!known) continue;
    const c: Codec = { payloadType: pt, name: known, clockRate: 8000 };
    const fmtp = m.fmtps.find((x) => x.payloadType === pt);
    if (fmtp) c.fmtp = fmtp.params;
    out.push(c);
  }
  return out;
}

export function isAudioCodec(c: Codec): boolean {
  return c.name !== 'telephone-event';
}

/** Finds and describes the audio stream we anchor. Rejected streams (port 0) give port 0. */
export function describeAudio(sdp: SessionDescription): RemoteAudio {
  const index = sdp.media.findIndex((m) => m.type === 'audio' && /^RTP\/AVPF?$/.test(m.proto));
  const m = sdp.media[index];
  if (!m) throw new SdpError('no RTP/AVP audio stream');
  const c = m.connection ?? sdp.connection;
  const address = c?.address.split('/')[0] ?? '0.0.0.0';
  if (c && c.addrType !== 'IP4') throw new SdpError('only IPv4 media is anchored');
  const out: RemoteAudio = {
    index,
    address,
    port: m.port,
    rtcpPort: m.rtcp?.port ?? (m.port > 0 ? m.port + 1 : 0),
    direction: m.direction ?? sdp.direction ?? 'sendrecv',
    nullAddress: address === '0.0.0.0',
    codecs: supportedCodecs(m),
    proto: m.proto,
  };
  if (m.ptime !== undefined) out.ptime = m.ptime;
  return out;
}

/** The direction that side really means: RFC 2543 hold (c=0.0.0.0) = "do not send to me". */
export function effectiveDirection(a: RemoteAudio): Direction {
  if (!a.nullAddress) return a.direction;
  if (a.direction === 'sendrecv') return 'sendonly';
  if (a.direction === 'recvonly') return 'inactive';
  return a.direction;
}

/** Whether that side wants to receive media from us (RFC 3264 §5.1). */
export function wantsToReceive(a: RemoteAudio): boolean {
  const d = effectiveDirection(a);
  return a.port !== 0 && (d === 'sendrecv' || d === 'recvonly');
}

/**
 * Codecs of an answer, restricted to what was offered (§6.1: the answer's formats must be a subset
 * of the offer's). Matching is by name, keeping the answer's order and payload types.
 */
export function answeredCodecs(offered: Codec[], answered: Codec[]): Codec[] {
  return answered.filter((a) => offered.some((o) => o.name === a.name && o.payloadType === a.payloadType));
}

export interface Negotiated {
  audio: Codec;
  dtmf?: Codec;
}

/** The codec in use is the first audio codec of the answer (§6.1); DTMF if both have telephone-event. */
export function negotiated(codecs: Codec[]): Negotiated {
  const audio = codecs.find(isAudioCodec);
  if (!audio) throw new SdpError('no common audio codec');
  const dtmf = codecs.find((c) => c.name === 'telephone-event');
  return dtmf ? { audio, dtmf } : { audio };
}

const ENCODING: Readonly<Record<CodecName, string>> = {
  PCMU: 'PCMU',
  PCMA: 'PCMA',
  G722: 'G722',
  'telephone-event': 'telephone-event',
};

export interface LocalSdpInput {
  /** the SDP of the other side: its m-lines are mirrored so their count and order match (§6) */
  template: SessionDescription;
  audioIndex: number;
  sessionId: string;
  sessionVersion: number;
  address: string;
  /** 0 rejects the audio stream */
  port: number;
  codecs: Codec[];
  direction: Direction;
  ptime?: number;
}

/** Builds the SDP we send: our address and port, the given codecs and direction. */
export function buildLocalSdp(i: LocalSdpInput): SessionDescription {
  const media = i.template.media.map((m, idx): MediaDescription => {
    if (idx !== i.audioIndex || i.port === 0) {
      return { type: m.type, port: 0, proto: m.proto, formats: m.formats.length > 0 ? m.formats : ['0'], bandwidths: [], rtpmaps: [], fmtps: [], attributes: [] };
    }
    const out: MediaDescription = {
      type: 'audio',
      port: i.port,
      proto: 'RTP/AVP',
      formats: i.codecs.map((c) => String(c.payloadType)),
      bandwidths: [],
      rtpmaps: i.codecs.map((c) => ({ payloadType: c.payloadType, encoding: ENCODING[c.name], clockRate: c.clockRate })),
      fmtps: i.codecs.filter((c) => c.fmtp !== undefined).map((c) => ({ payloadType: c.payloadType, params: c.fmtp ?? '' })),
      attributes: [],
      direction: i.direction,
    };
    if (i.ptime !== undefined) out.ptime = i.ptime;
    return out;
  });
  return {
    version: 0,
    origin: { username: '-', sessionId: i.sessionId, sessionVersion: String(i.sessionVersion), netType: 'IN', addrType: 'IP4', address: i.address },
    sessionName: '-',
    connection: { netType: 'IN', addrType: 'IP4', address: i.address },
    emails: [],
    phones: [],
    bandwidths: [],
    times: [{ start: '0', stop: '0', repeats: [] }],
    attributes: [],
    media,
  };
}
