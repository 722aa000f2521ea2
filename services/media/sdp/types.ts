/** Typed SDP (RFC 4566). Parse at the edge (parse.ts), serialize back (serialize.ts). */

/** RFC 3264 §5.1 / RFC 4566 §6 media direction. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface Origin {
  username: string;
  sessionId: string;
  /** kept as a decimal string: it may exceed 2^53 */
  sessionVersion: string;
  netType: string;
  addrType: 'IP4' | 'IP6';
  address: string;
}

export interface Connection {
  netType: string;
  addrType: 'IP4' | 'IP6';
  address: string;
}

/** a=rtpmap:<pt> <encoding>/<clock>[/<channels>] */
export interface RtpMap {
  payloadType: number;
  encoding: string;
  clockRate: number;
  channels?: number;
}

/** An attribute we do not model: kept verbatim, in order. */
export interface Attribute {
  name: string;
  value?: string;
}

export interface MediaDescription {
  /** audio, video, application ... */
  type: string;
  port: number;
  portCount?: number;
  /** RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF ... */
  proto: string;
  /** payload types for RTP profiles (as strings, e.g. "0", "8", "101") */
  formats: string[];
  info?: string;
  connection?: Connection;
  bandwidths: string[];
  rtpmaps: RtpMap[];
  /** a=fmtp by payload type */
  fmtps: { payloadType: number; params: string }[];
  direction?: Direction;
  ptime?: number;
  maxptime?: number;
  /** a=rtcp (RFC 3605) */
  rtcp?: { port: number; connection?: Connection };
  attributes: Attribute[];
}

export interface SessionDescription {
  version: number;
  origin: Origin;
  sessionName: string;
  info?: string;
  uri?: string;
  emails: string[];
  phones: string[];
  connection?: Connection;
  bandwidths: string[];
  /** t= lines with their r= lines */
  times: { start: string; stop: string; repeats: string[] }[];
  timezones?: string;
  key?: string;
  direction?: Direction;
  attributes: Attribute[];
  media: MediaDescription[];
}

export class SdpError extends Error {
  readonly code = 'ERR_SDP';
  constructor(message: string, readonly line?: number) {
    super(line === undefined ? message : `${message} (line ${line})`);
    this.name = 'SdpError';
  }
}
