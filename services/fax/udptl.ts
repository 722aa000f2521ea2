/**
 * UDPTL, the UDP framing of T.38 IFP packets (ITU-T T.38 §9.1, ASN.1 PER aligned), as Asterisk's
 * udptl.c and spandsp's peers speak it:
 *
 *   UDPTLPacket ::= SEQUENCE { seq-number INTEGER (0..65535), primary-ifp-packet OPEN TYPE,
 *                              error-recovery CHOICE { secondary-ifp-packets SEQUENCE OF OPEN TYPE,
 *                                                      fec-info SEQUENCE {...} } }
 *
 * We send redundancy (the previous N packets, newest first) and never FEC; we read both, using the
 * redundant copies to fill gaps and ignoring FEC data (its primary still counts). Input from the
 * network: a malformed datagram is dropped whole (null), never thrown.
 */

/** One IFP packet and the UDPTL sequence number it travelled under. */
export interface UdptlIfp {
  seq: number;
  ifp: Buffer;
}

/** T.38 §D.2.4 leaves the depth to the implementation; 3 is what Asterisk and FreeSWITCH send for image data. */
export const DEFAULT_REDUNDANCY = 3;
/** Larger IFP packets are not produced by spandsp (max datagram 400) and are refused on input. */
const MAX_IFP = 1024;

/** PER length determinant (X.691 §10.9) for lengths below 16384. */
function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x4000) return Buffer.from([0x80 | (n >> 8), n & 0xff]);
  throw new RangeError('UDPTL: length above 16383 is not supported');
}

interface Cursor {
  buf: Buffer;
  off: number;
}

function decodeLength(c: Cursor): number | null {
  const first = c.buf[c.off];
  if (first === undefined) return null;
  if ((first & 0x80) === 0) {
    c.off += 1;
    return first;
  }
  if ((first & 0xc0) === 0x80) {
    const second = c.buf[c.off + 1];
    if (second === undefined) return null;
    c.off += 2;
    return ((first & 0x3f) << 8) | second;
  }
  // Fragmented (≥ 16K) lengths never occur in T.38: refuse the datagram.
  return null;
}

function decodeOpenType(c: Cursor): Buffer | null {
  const len = decodeLength(c);
  if (len === null || len > MAX_IFP || c.off + len > c.buf.length) return null;
  const out = Buffer.from(c.buf.subarray(c.off, c.off + len));
  c.off += len;
  return out;
}

/** Parses one datagram: the primary and the redundant packets it carries (newest first), or null. */
export function parseUdptl(datagram: Buffer): { seq: number; primary: Buffer; secondary: Buffer[] } | null {
  if (datagram.length < 4) return null;
  const c: Cursor = { buf: datagram, off: 2 };
  const seq = datagram.readUInt16BE(0);
  const primary = decodeOpenType(c);
  if (primary === null) return null;
  const choice = datagram[c.off];
  if (choice === undefined) return { seq, primary, secondary: [] };
  c.off += 1;
  if ((choice & 0x80) !== 0) return { seq, primary, secondary: [] }; // FEC: not used for recovery
  const count = decodeLength(c);
  if (count === null || count > 16) return null;
  const secondary: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const packet = decodeOpenType(c);
    if (packet === null) return null;
    secondary.push(packet);
  }
  return { seq, primary, secondary };
}

/** One direction pair of a UDPTL session: numbering and redundancy out, ordering and recovery in. */
export class UdptlSession {
  readonly redundancy: number;
  #txSeq = 0;
  /** the last packets sent, newest last */
  #history: Buffer[] = [];
  /** the next sequence number expected, -1 before the first packet */
  #rxNext = -1;
  /** datagrams refused as malformed */
  malformed = 0;
  /** packets filled in from redundancy */
  recovered = 0;

  /** the far end's T38FaxMaxDatagram: redundant copies that would not fit are left out */
  readonly maxDatagram: number;

  constructor(redundancy = DEFAULT_REDUNDANCY, maxDatagram = 1400) {
    this.redundancy = Math.max(0, Math.min(redundancy, 8));
    this.maxDatagram = Math.max(72, maxDatagram);
  }

  /** The datagram carrying `ifp` with the previous packets as redundancy (T.38 §9.1). */
  encode(ifp: Buffer): Buffer {
    if (ifp.length > MAX_IFP) throw new RangeError('UDPTL: IFP packet too large');
    const seq = this.#txSeq;
    this.#txSeq = (this.#txSeq + 1) & 0xffff;
    const parts: Buffer[] = [Buffer.from([seq >> 8, seq & 0xff]), encodeLength(ifp.length), ifp];
    // Newest first, as many as fit in the far end's datagram (Asterisk trims its redundancy the same way).
    const previous: Buffer[] = [];
    let size = 2 + encodeLength(ifp.length).length + ifp.length + 2;
    for (const p of this.#history.slice(-this.redundancy).reverse()) {
      const cost = encodeLength(p.length).length + p.length;
      if (size + cost > this.maxDatagram) break;
      size += cost;
      previous.push(p);
    }
    parts.push(Buffer.from([0x00]), encodeLength(previous.length));
    for (const p of previous) parts.push(encodeLength(p.length), p);
    this.#history.push(ifp);
    if (this.#history.length > this.redundancy) this.#history.shift();
    return Buffer.concat(parts);
  }

  /**
   * A received datagram → the IFP packets to hand to T.38, oldest first: the ones lost before it
   * (recovered from its redundancy, when it carries them), then its primary. Duplicates and packets
   * older than what was already delivered give nothing (spandsp wants each sequence number once).
   */
  decode(datagram: Buffer): UdptlIfp[] {
    const packet = parseUdptl(datagram);
    if (packet === null) {
      this.malformed++;
      return [];
    }
    const { seq, primary, secondary } = packet;
    if (this.#rxNext < 0) {
      this.#rxNext = (seq + 1) & 0xffff;
      return [{ seq, ifp: primary }];
    }
    // Distance ahead of the next expected, modulo 2^16: 0 = in order, small = a gap, large = old/duplicate.
    const ahead = (seq - this.#rxNext) & 0xffff;
    if (ahead >= 0x8000) return [];
    const out: UdptlIfp[] = [];
    for (let back = Math.min(ahead, secondary.length); back >= 1; back--) {
      const ifp = secondary[back - 1];
      if (ifp === undefined) continue;
      out.push({ seq: (seq - back) & 0xffff, ifp });
      this.recovered++;
    }
    out.push({ seq, ifp: primary });
    this.#rxNext = (seq + 1) & 0xffff;
    return out;
  }
}
