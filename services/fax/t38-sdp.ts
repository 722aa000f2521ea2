/**
 * T.38 in SDP: `m=image <port> udptl t38` with the attributes of ITU-T T.38 Annex D.2.3 / RFC 3362
 * (T38FaxVersion, T38MaxBitRate, T38FaxRateManagement, T38FaxMaxBuffer, T38FaxMaxDatagram,
 * T38FaxUdpEC). Offers and answers of our own; the far end's read into a typed value.
 */
import { parseSdp } from '../media/sdp/parse.js';
import type { Attribute, SessionDescription } from '../media/sdp/types.js';

export type RateManagement = 'transferredTCF' | 'localTCF';
export type UdpEc = 't38UDPRedundancy' | 't38UDPFEC' | 'none';

export interface T38Params {
  version: number;
  maxBitRate: number;
  rateManagement: RateManagement;
  maxBuffer: number;
  maxDatagram: number;
  udpEc: UdpEc;
}

export interface T38Remote {
  address: string;
  port: number;
  params: T38Params;
}

/** What we offer: version 0 (what spandsp 0.0.6 speaks), V.17 14 400 bit/s, TCF end to end, redundancy. */
export const OUR_T38: T38Params = {
  version: 0,
  maxBitRate: 14400,
  rateManagement: 'transferredTCF',
  maxBuffer: 1800,
  maxDatagram: 400,
  udpEc: 't38UDPRedundancy',
};

function attr(attributes: Attribute[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return attributes.find((a) => a.name.toLowerCase() === lower)?.value?.trim();
}

function int(value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return fallback;
  return Math.min(Math.max(Number(value), min), max);
}

/** True when the SDP text has an `m=image ... udptl t38` line with a port (accepted T.38). */
export function isT38Sdp(text: string): boolean {
  try {
    return describeT38(parseSdp(text)) !== null;
  } catch {
    return false;
  }
}

/** The far end's T.38 stream, or null when the SDP has none (or refused it with port 0). */
export function describeT38(sdp: SessionDescription): T38Remote | null {
  const m = sdp.media.find((media) => media.type === 'image' && media.proto.toLowerCase() === 'udptl' && media.formats.some((f) => f.toLowerCase() === 't38'));
  if (m === undefined || m.port === 0) return null;
  const connection = m.connection ?? sdp.connection;
  if (connection === undefined || connection.addrType !== 'IP4') return null;
  const ec = attr(m.attributes, 'T38FaxUdpEC');
  // Annex D.2.3: a boolean attribute may appear bare or as ":1"; rate management names are case-insensitive in practice.
  const rate = attr(m.attributes, 'T38FaxRateManagement')?.toLowerCase();
  return {
    address: connection.address,
    port: m.port,
    params: {
      version: int(attr(m.attributes, 'T38FaxVersion'), 0, 0, 3),
      maxBitRate: int(attr(m.attributes, 'T38MaxBitRate'), 14400, 2400, 33600),
      rateManagement: rate === 'localtcf' ? 'localTCF' : 'transferredTCF',
      maxBuffer: int(attr(m.attributes, 'T38FaxMaxBuffer'), 1800, 72, 65535),
      maxDatagram: int(attr(m.attributes, 'T38FaxMaxDatagram'), 400, 72, 65535),
      udpEc: ec === 't38UDPRedundancy' ? 't38UDPRedundancy' : ec === 't38UDPFEC' ? 't38UDPFEC' : 'none',
    },
  };
}

/** RFC 3264 §6 for T.38: our answer takes the lower version and bit rate, the offer's rate management, redundancy if any EC was offered. */
export function answerParams(offer: T38Params): T38Params {
  return {
    version: Math.min(offer.version, OUR_T38.version),
    maxBitRate: Math.min(offer.maxBitRate, OUR_T38.maxBitRate),
    rateManagement: offer.rateManagement,
    maxBuffer: OUR_T38.maxBuffer,
    maxDatagram: OUR_T38.maxDatagram,
    udpEc: offer.udpEc === 'none' ? 'none' : 't38UDPRedundancy',
  };
}

export interface T38SdpInput {
  /** o= of the dialog's earlier SDP: same user and session id, next version (RFC 3264 §8) */
  origin: { username: string; sessionId: string; sessionVersion: string };
  address: string;
  /** 0 refuses the stream */
  port: number;
  params: T38Params;
}

export function buildT38Sdp(i: T38SdpInput): string {
  const lines = [
    'v=0',
    `o=${i.origin.username} ${i.origin.sessionId} ${i.origin.sessionVersion} IN IP4 ${i.address}`,
    's=-',
    `c=IN IP4 ${i.address}`,
    't=0 0',
    `m=image ${i.port} udptl t38`,
    `a=T38FaxVersion:${i.params.version}`,
    `a=T38MaxBitRate:${i.params.maxBitRate}`,
    'a=T38FaxFillBitRemoval:0',
    'a=T38FaxTranscodingMMR:0',
    'a=T38FaxTranscodingJBIG:0',
    `a=T38FaxRateManagement:${i.params.rateManagement}`,
    `a=T38FaxMaxBuffer:${i.params.maxBuffer}`,
    `a=T38FaxMaxDatagram:${i.params.maxDatagram}`,
    ...(i.params.udpEc === 'none' ? [] : [`a=T38FaxUdpEC:${i.params.udpEc}`]),
  ];
  return lines.join('\r\n') + '\r\n';
}

/** The next o= of a dialog whose last SDP of ours was `previous` (version + 1); a fresh one if it does not parse. */
export function nextOrigin(previous: string | null): { username: string; sessionId: string; sessionVersion: string } {
  if (previous !== null) {
    try {
      const o = parseSdp(previous).origin;
      return { username: o.username, sessionId: o.sessionId, sessionVersion: (BigInt(o.sessionVersion) + 1n).toString() };
    } catch {
      // fall through
    }
  }
  const id = String(Date.now());
  return { username: '-', sessionId: id, sessionVersion: id };
}
