/**
 * Our offer with one audio codec kept (and telephone-event), so both legs of a call the relay
 * joins carry the same codec (the relay does not transcode). Static payload types without an
 * rtpmap (RFC 3551) are matched by number.
 */
import { parseSdp } from './parse.js';
import { serializeSdp } from './serialize.js';

const STATIC_PT: Readonly<Record<string, number>> = { PCMU: 0, PCMA: 8 };

export function onlyCodec(offer: string, codec: string | undefined): string {
  if (codec === undefined) return offer;
  const sdp = parseSdp(offer);
  for (const m of sdp.media) {
    if (m.type !== 'audio') continue;
    const keep = (pt: number): boolean => {
      const map = m.rtpmaps.find((r) => r.payloadType === pt);
      if (map === undefined) return STATIC_PT[codec] === pt;
      const name = map.encoding.toLowerCase();
      return name === codec.toLowerCase() || name === 'telephone-event';
    };
    m.formats = m.formats.filter((f) => keep(Number(f)));
    m.rtpmaps = m.rtpmaps.filter((r) => keep(r.payloadType));
    m.fmtps = m.fmtps.filter((f) => keep(f.payloadType));
  }
  return serializeSdp(sdp);
}
