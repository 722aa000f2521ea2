// ITU-T G.711 (11/1988) μ-law and A-law companding.
// Encoders follow the standard's segment tables (Tables 1a/2a) in the form of the ITU-T G.191 STL reference
// (μ-law: 14-bit magnitude with bias 33, clip at 8191; A-law: 13-bit magnitude, even-bit inversion XOR 0x55). Both are driven by lookup tables built once at module load so
// the per-sample cost is one table read (encode: 14-bit index; decode: 8-bit index).

export type G711Law = 'PCMU' | 'PCMA';
export const SAMPLE_RATE = 8000;
export const FRAME_SAMPLES = 160; // 20 ms at 8 kHz

/** RTP static payload types (RFC 3551 §6). */
export const PAYLOAD_TYPE: Readonly<Record<G711Law, number>> = { PCMU: 0, PCMA: 8 };

/** Code words of digital silence for each law (positive zero). */
export const SILENCE_BYTE: Readonly<Record<G711Law, number>> = { PCMU: 0xff, PCMA: 0xd5 };

const MULAW_BIAS14 = 33; // 0x84 >> 2: the bias in the 14-bit magnitude domain

// Negative samples use the one's complement (~x), as the ITU-T G.191 reference (g711.c) does, so that
// -1..-4 share a code word with 0..3 mirrored and the quantiser is symmetric.

/** Reference (table-free) μ-law encoder for one 16-bit linear sample; builds the table, used in tests. */
export function muLawEncodeSample(sample: number): number {
  const x = sample | 0;
  let absno = ((x < 0 ? ~x : x) >> 2) + MULAW_BIAS14;
  if (absno > 0x1fff) absno = 0x1fff;
  let segno = 1;
  for (let i = absno >> 6; i !== 0; i >>= 1) segno++;
  const high = 8 - segno;
  const low = 15 - ((absno >> segno) & 0x0f);
  const code = (high << 4) | low;
  return x >= 0 ? code | 0x80 : code;
}

/** Reference μ-law decoder for one code word. */
export function muLawDecodeSample(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude | 0 : magnitude; // | 0: no negative zero
}

/** Reference A-law encoder for one 16-bit linear sample (13-bit resolution, G.191 form). */
export function aLawEncodeSample(sample: number): number {
  const x = sample | 0;
  let ix = (x < 0 ? ~x : x) >> 4;
  if (ix > 15) {
    let iexp = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      iexp++;
    }
    ix -= 16;
    ix += iexp << 4;
  }
  if (x >= 0) ix |= 0x80;
  return ix ^ 0x55;
}

/** Reference A-law decoder for one code word. */
export function aLawDecodeSample(code: number): number {
  const a = (code ^ 0x55) & 0xff;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = (mantissa << 4) + 8;
  if (exponent !== 0) magnitude = (magnitude + 0x100) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

// Encode tables are indexed by the sample arithmetically shifted right by 2 (14-bit, 16384 entries):
// the μ-law and A-law quantisers never distinguish values finer than 4 (μ-law: 14-bit; A-law: 13-bit),
// so the shifted index loses nothing. Index = (s >> 2) + 8192.
const MU_ENC = new Uint8Array(16384);
const A_ENC = new Uint8Array(16384);
const MU_DEC = new Int16Array(256);
const A_DEC = new Int16Array(256);

for (let i = 0; i < 16384; i++) {
  const s = (i - 8192) << 2;
  MU_ENC[i] = muLawEncodeSample(s);
  A_ENC[i] = aLawEncodeSample(s);
}
for (let c = 0; c < 256; c++) {
  MU_DEC[c] = muLawDecodeSample(c);
  A_DEC[c] = aLawDecodeSample(c);
}

function outBytes(n: number, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return new Uint8Array(n);
  if (out.length < n) throw new RangeError(`g711: output buffer too small (${out.length} < ${n})`);
  return out;
}

function outPcm(n: number, out: Int16Array | undefined): Int16Array {
  if (out === undefined) return new Int16Array(n);
  if (out.length < n) throw new RangeError(`g711: output buffer too small (${out.length} < ${n})`);
  return out;
}

export function muLawEncode(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  const n = pcm.length;
  const dst = outBytes(n, out);
  for (let i = 0; i < n; i++) dst[i] = MU_ENC[((pcm[i] as number) >> 2) + 8192] as number;
  return dst;
}

export function muLawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length;
  const dst = outPcm(n, out);
  for (let i = 0; i < n; i++) dst[i] = MU_DEC[bytes[i] as number] as number;
  return dst;
}

export function aLawEncode(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  const n = pcm.length;
  const dst = outBytes(n, out);
  for (let i = 0; i < n; i++) dst[i] = A_ENC[((pcm[i] as number) >> 2) + 8192] as number;
  return dst;
}

export function aLawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length;
  const dst = outPcm(n, out);
  for (let i = 0; i < n; i++) dst[i] = A_DEC[bytes[i] as number] as number;
  return dst;
}

/** Law-generic helpers for callers that carry the negotiated codec as a value. */
export function g711Encode(law: G711Law, pcm: Int16Array, out?: Uint8Array): Uint8Array {
  return law === 'PCMU' ? muLawEncode(pcm, out) : aLawEncode(pcm, out);
}

export function g711Decode(law: G711Law, bytes: Uint8Array, out?: Int16Array): Int16Array {
  return law === 'PCMU' ? muLawDecode(bytes, out) : aLawDecode(bytes, out);
}

/** Direct PCMU↔PCMA transcoding through linear (G.711 §4 tables; exact on the shared code points). */
export function muLawToALaw(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const dst = outBytes(bytes.length, out);
  for (let i = 0; i < bytes.length; i++) dst[i] = MU_TO_A[bytes[i] as number] as number;
  return dst;
}

export function aLawToMuLaw(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const dst = outBytes(bytes.length, out);
  for (let i = 0; i < bytes.length; i++) dst[i] = A_TO_MU[bytes[i] as number] as number;
  return dst;
}

const MU_TO_A = new Uint8Array(256);
const A_TO_MU = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  MU_TO_A[c] = aLawEncodeSample(MU_DEC[c] as number);
  A_TO_MU[c] = muLawEncodeSample(A_DEC[c] as number);
}
