/** Minimal bencode (BitTorrent BEP 3) for rtpengine's ng control protocol. */
export type BValue = string | number | BValue[] | { [key: string]: BValue };

export function bencode(v: BValue): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k] as BValue)]), Buffer.from('e')]);
}

export function bdecode(buf: Buffer): BValue {
  let i = 0;
  const read = (): BValue => {
    const c = buf[i];
    if (c === 0x69) {
      const end = buf.indexOf(0x65, i);
      const n = Number(buf.subarray(i + 1, end).toString());
      i = end + 1;
      return n;
    }
    if (c === 0x6c) {
      i++;
      const out: BValue[] = [];
      while (buf[i] !== 0x65) {
        if (i >= buf.length) throw new Error('bencode: truncated list');
        out.push(read());
      }
      i++;
      return out;
    }
    if (c === 0x64) {
      i++;
      const out: Record<string, BValue> = {};
      while (buf[i] !== 0x65) {
        if (i >= buf.length) throw new Error('bencode: truncated dict');
        const k = read();
        if (typeof k !== 'string') throw new Error('bencode: non-string key');
        out[k] = read();
      }
      i++;
      return out;
    }
    const colon = buf.indexOf(0x3a, i);
    if (colon < 0) throw new Error('bencode: bad string');
    const len = Number(buf.subarray(i, colon).toString());
    const s = buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
    i = colon + 1 + len;
    return s;
  };
  return read();
}
