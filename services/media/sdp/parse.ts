/**
 * RFC 4566 parser into typed values. Strict on structure (line order of §5, mandatory v/o/s/t/m
 * fields), lenient on what we do not use (unknown attributes are kept verbatim). Throws SdpError,
 * never anything else, whatever the input.
 */
import type { Attribute, Connection, Direction, MediaDescription, Origin, RtpMap, SessionDescription } from './types.js';
import { SdpError } from './types.js';

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const MAX_SDP_BYTES = 64 * 1024;

function parseAddrType(v: string | undefined, line: number): 'IP4' | 'IP6' {
  if (v === 'IP4' || v === 'IP6') return v;
  throw new SdpError(`unsupported address type ${JSON.stringify(v)}`, line);
}

function parseConnection(value: string, line: number): Connection {
  const [netType, addrType, address, ...rest] = value.split(' ');
  if (!netType || !address || rest.length > 0) throw new SdpError('malformed c= line', line);
  // Multicast TTL/count suffixes (a.b.c.d/ttl) are kept in the address string.
  return { netType, addrType: parseAddrType(addrType, line), address };
}

/** /^\d+$/ without a regex: this runs for every SDP of every anchored call. */
function isDigits(s: string, maxLen = Infinity): boolean {
  if (s.length === 0 || s.length > maxLen) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function parseOrigin(value: string, line: number): Origin {
  const p = value.split(' ');
  if (p.length !== 6) throw new SdpError('malformed o= line', line);
  const [username, sessionId, sessionVersion, netType, addrType, address] = p as [string, string, string, string, string, string];
  if (!isDigits(sessionId) || !isDigits(sessionVersion)) throw new SdpError('o= session id/version not numeric', line);
  return { username, sessionId, sessionVersion, netType, addrType: parseAddrType(addrType, line), address };
}

function parseInteger(s: string | undefined, line: number, what: string, max = 65535): number {
  if (s === undefined || !isDigits(s, 10)) throw new SdpError(`bad ${what}`, line);
  const n = Number(s);
  if (n > max) throw new SdpError(`${what} out of range`, line);
  return n;
}

function parseMediaLine(value: string, line: number): MediaDescription {
  const p = value.split(' ');
  if (p.length < 4) throw new SdpError('malformed m= line', line);
  const [type, portSpec, proto, ...formats] = p as [string, string, string, ...string[]];
  const [portStr, countStr] = portSpec.split('/');
  const media: MediaDescription = {
    type,
    port: parseInteger(portStr, line, 'media port'),
    proto,
    formats,
    bandwidths: [],
    rtpmaps: [],
    fmtps: [],
    attributes: [],
  };
  if (countStr !== undefined) media.portCount = parseInteger(countStr, line, 'port count');
  if (proto.includes('RTP')) {
    for (const f of formats) parseInteger(f, line, 'payload type', 127);
  }
  return media;
}

function parseRtpMap(value: string, line: number): RtpMap {
  const m = /^(\d{1,3}) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(value);
  if (!m) throw new SdpError('malformed a=rtpmap', line);
  const map: RtpMap = {
    payloadType: parseInteger(m[1], line, 'payload type', 127),
    encoding: m[2] ?? '',
    clockRate: parseInteger(m[3], line, 'clock rate', 10_000_000),
  };
  if (m[4] !== undefined) map.channels = parseInteger(m[4], line, 'channels', 255);
  return map;
}

/** Applies an a= line to the media section (or session level when media is undefined). */
function applyAttribute(target: MediaDescription | SessionDescription, isMedia: boolean, raw: string, line: number): void {
  const colon = raw.indexOf(':');
  const name = colon < 0 ? raw : raw.slice(0, colon);
  const value = colon < 0 ? undefined : raw.slice(colon + 1);
  if (name.length === 0) throw new SdpError('empty attribute', line);
  if (value === undefined && DIRECTIONS.has(name)) {
    target.direction = name as Direction;
    return;
  }
  if (isMedia && value !== undefined) {
    const media = target as MediaDescription;
    switch (name) {
      case 'rtpmap':
        media.rtpmaps.push(parseRtpMap(value, line));
        return;
      case 'fmtp': {
        const m = /^(\d{1,3}) (.*)$/.exec(value);
        if (!m) throw new SdpError('malformed a=fmtp', line);
        media.fmtps.push({ payloadType: parseInteger(m[1], line, 'payload type', 127), params: m[2] ?? '' });
        return;
      }
      case 'ptime':
        media.ptime = parseInteger(value, line, 'ptime', 10_000);
        return;
      case 'maxptime':
        media.maxptime = parseInteger(value, line, 'maxptime', 10_000);
        return;
      case 'rtcp': {
        const [port, ...c] = value.split(' ');
        media.rtcp = { port: parseInteger(port, line, 'rtcp port') };
        if (c.length > 0) media.rtcp.connection = parseConnection(c.join(' '), line);
        return;
      }
      default:
        break;
    }
  }
  const attr: Attribute = { name };
  if (value !== undefined) attr.value = value;
  target.attributes.push(attr);
}

export function parseSdp(text: string): SessionDescription {
  if (text.length > MAX_SDP_BYTES) throw new SdpError('SDP too large');
  // split('\n') then a trailing '\r' off each line: /\r?\n/ split, without the regex engine
  const lines = text.split('\n');
  for (let i = 0; i < lines.length - 1; i++) {
    const l = lines[i] as string;
    if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let version: number | undefined;
  let origin: Origin | undefined;
  let sessionName: string | undefined;
  const session: Omit<SessionDescription, 'version' | 'origin' | 'sessionName'> = {
    emails: [],
    phones: [],
    bandwidths: [],
    times: [],
    attributes: [],
    media: [],
  };
  let media: MediaDescription | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    const n = i + 1;
    if (l.length < 2 || l[1] !== '=') throw new SdpError(`malformed line ${JSON.stringify(l.slice(0, 40))}`, n);
    const type = l[0];
    const value = l.slice(2);
    if (i === 0 && type !== 'v') throw new SdpError('SDP must start with v=', n);
    if (media) {
      switch (type) {
        case 'm':
          media = parseMediaLine(value, n);
          session.media.push(media);
          continue;
        case 'i':
          media.info = value;
          continue;
        case 'c':
          media.connection = parseConnection(value, n);
          continue;
        case 'b':
          media.bandwidths.push(value);
          continue;
        case 'k':
          continue; // RFC 4566 §5.12 k= is obsolete; dropped
        case 'a':
          applyAttribute(media, true, value, n);
          continue;
        default:
          throw new SdpError(`unexpected ${type}= in media section`, n);
      }
    }
    switch (type) {
      case 'v':
        if (value !== '0') throw new SdpError('unsupported SDP version', n);
        version = 0;
        continue;
      case 'o':
        origin = parseOrigin(value, n);
        continue;
      case 's':
        sessionName = value;
        continue;
      case 'i':
        session.info = value;
        continue;
      case 'u':
        session.uri = value;
        continue;
      case 'e':
        session.emails.push(value);
        continue;
      case 'p':
        session.phones.push(value);
        continue;
      case 'c':
        session.connection = parseConnection(value, n);
        continue;
      case 'b':
        session.bandwidths.push(value);
        continue;
      case 't': {
        const [start, stop, ...rest] = value.split(' ');
        if (start === undefined || stop === undefined || rest.length > 0) throw new SdpError('malformed t= line', n);
        session.times.push({ start, stop, repeats: [] });
        continue;
      }
      case 'r': {
        const last = session.times[session.times.length - 1];
        if (!last) throw new SdpError('r= without t=', n);
        last.repeats.push(value);
        continue;
      }
      case 'z':
        session.timezones = value;
        continue;
      case 'k':
        session.key = value;
        continue;
      case 'a':
        applyAttribute(session as SessionDescription, false, value, n);
        continue;
      case 'm':
        media = parseMediaLine(value, n);
        session.media.push(media);
        continue;
      default:
        throw new SdpError(`unknown line type ${type}=`, n);
    }
  }
  if (version === undefined) throw new SdpError('missing v=');
  if (!origin) throw new SdpError('missing o=');
  if (sessionName === undefined) throw new SdpError('missing s=');
  if (session.times.length === 0) session.times.push({ start: '0', stop: '0', repeats: [] });
  for (const m of session.media) {
    if (!m.connection && !session.connection && m.port !== 0) throw new SdpError(`no c= for m=${m.type}`);
  }
  return { version, origin, sessionName, ...session };
}
