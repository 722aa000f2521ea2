// RIFF WAVE reader and writer (Microsoft "Multimedia Programming Interface and Data Specifications 1.0",
// 1991, and the WAVE_FORMAT_EXTENSIBLE addendum). The appliance's own files are 8 kHz mono: 16-bit PCM
// (format 1), A-law (format 6) or μ-law (format 7). Uploaded files may be anything common — 8/16/24/32-bit
// PCM, 32-bit float, any rate, stereo — and are decoded to 16-bit, downmixed and resampled.
// Every malformed input ends in a WavError with a code and a message naming what is wrong.
import * as fsp from 'node:fs/promises';
import { aLawDecode, aLawEncode, muLawDecode, muLawEncode, SAMPLE_RATE } from '../codec/g711.js';
import { downmix, resample } from '../resample.js';
import { writeFileAtomic } from './atomic-file.js';

export type WavEncoding = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'alaw' | 'mulaw';
/** Encodings the appliance writes. */
export type WavWriteEncoding = 'pcm16' | 'alaw' | 'mulaw';

export type WavErrorCode =
  | 'too-short'
  | 'not-riff'
  | 'not-wave'
  | 'bad-chunk'
  | 'no-fmt'
  | 'bad-fmt'
  | 'unsupported-format'
  | 'no-data'
  | 'truncated';

export class WavError extends Error {
  override readonly name = 'WavError';
  constructor(
    readonly code: WavErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface WavInfo {
  readonly encoding: WavEncoding;
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
  readonly blockAlign: number;
  /** Sample frames (one sample per channel) in the data chunk as present in the file. */
  readonly frames: number;
  readonly dataOffset: number;
  readonly dataBytes: number;
  /** True when the data chunk declared more bytes than the file holds (accepted only with allowTruncated). */
  readonly truncated: boolean;
}

export interface DecodedWav {
  readonly info: WavInfo;
  /** One Int16Array per channel. */
  readonly channels: Int16Array[];
}

export interface ParseOptions {
  /** Accept a data chunk cut short (e.g. a recording interrupted by a crash), keeping whole frames. */
  readonly allowTruncated?: boolean;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;
/** Streaming writers put this in a size field they could not fill in. */
const SIZE_UNKNOWN = 0xffffffff;

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off] ?? 0, b[off + 1] ?? 0, b[off + 2] ?? 0, b[off + 3] ?? 0);
}

/** Reads the header and locates the samples; does not decode. */
export function parseWavHeader(buf: Uint8Array, opts: ParseOptions = {}): WavInfo {
  if (buf.length < 12) throw new WavError('too-short', `not a WAV file: ${buf.length} bytes, a RIFF header needs 12`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (fourcc(buf, 0) !== 'RIFF') {
    throw new WavError('not-riff', `not a WAV file: starts with ${JSON.stringify(fourcc(buf, 0))}, expected "RIFF"`);
  }
  if (fourcc(buf, 8) !== 'WAVE') {
    throw new WavError('not-wave', `RIFF file of type ${JSON.stringify(fourcc(buf, 8))}, expected "WAVE"`);
  }
  let fmt: Omit<WavInfo, 'frames' | 'dataOffset' | 'dataBytes' | 'truncated'> | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = fourcc(buf, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (!/^[\x20-\x7e]{4}$/.test(id)) {
      throw new WavError('bad-chunk', `corrupt WAV: unreadable chunk id at byte ${off}`);
    }
    if (id === 'fmt ') {
      if (size < 16 || body + size > buf.length) {
        throw new WavError('bad-fmt', `corrupt WAV: fmt chunk of ${size} bytes at byte ${off} (needs 16, file has ${buf.length - body} left)`);
      }
      fmt = parseFmt(dv, body, size);
    } else if (id === 'data') {
      if (!fmt) throw new WavError('no-fmt', 'corrupt WAV: data chunk before any fmt chunk');
      const available = buf.length - body;
      let dataBytes = size;
      let truncated = false;
      if (size === SIZE_UNKNOWN || (size === 0 && available > 0)) {
        dataBytes = available; // unfinished streaming header: take the rest of the file
      } else if (size > available) {
        if (!opts.allowTruncated) {
          throw new WavError(
            'truncated',
            `truncated WAV: data chunk declares ${size} bytes but only ${available} follow (file cut short?)`,
          );
        }
        dataBytes = available;
        truncated = true;
      }
      const frames = Math.floor(dataBytes / fmt.blockAlign);
      return { ...fmt, frames, dataOffset: body, dataBytes: frames * fmt.blockAlign, truncated };
    }
    off = body + size + (size & 1); // chunks are word aligned
  }
  if (!fmt) throw new WavError('no-fmt', 'corrupt WAV: no fmt chunk found');
  throw new WavError('no-data', 'WAV file has no data chunk (truncated header?)');
}

function parseFmt(dv: DataView, at: number, size: number): Omit<WavInfo, 'frames' | 'dataOffset' | 'dataBytes' | 'truncated'> {
  let tag = dv.getUint16(at, true);
  const channels = dv.getUint16(at + 2, true);
  const sampleRate = dv.getUint32(at + 4, true);
  const blockAlign = dv.getUint16(at + 12, true);
  const bitsPerSample = dv.getUint16(at + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (size < 40) throw new WavError('bad-fmt', `corrupt WAV: WAVE_FORMAT_EXTENSIBLE fmt chunk of ${size} bytes, needs 40`);
    tag = dv.getUint16(at + 24, true); // first two bytes of the SubFormat GUID are the format tag
  }
  if (channels < 1 || channels > 16) throw new WavError('bad-fmt', `corrupt WAV: ${channels} channels`);
  if (sampleRate < 1000 || sampleRate > 384_000) throw new WavError('bad-fmt', `corrupt WAV: sample rate ${sampleRate} Hz`);
  let encoding: WavEncoding;
  let bytes: number;
  if (tag === FORMAT_PCM) {
    const map: Record<number, WavEncoding> = { 8: 'pcm8', 16: 'pcm16', 24: 'pcm24', 32: 'pcm32' };
    const e = map[bitsPerSample];
    if (!e) throw new WavError('unsupported-format', `unsupported WAV: ${bitsPerSample}-bit integer PCM`);
    encoding = e;
    bytes = bitsPerSample / 8;
  } else if (tag === FORMAT_FLOAT && bitsPerSample === 32) {
    encoding = 'float32';
    bytes = 4;
  } else if (tag === FORMAT_ALAW && bitsPerSample === 8) {
    encoding = 'alaw';
    bytes = 1;
  } else if (tag === FORMAT_MULAW && bitsPerSample === 8) {
    encoding = 'mulaw';
    bytes = 1;
  } else {
    throw new WavError('unsupported-format', `unsupported WAV: format tag ${tag} with ${bitsPerSample} bits per sample`);
  }
  if (blockAlign !== bytes * channels) {
    throw new WavError('bad-fmt', `corrupt WAV: block align ${blockAlign}, expected ${bytes * channels} for ${channels}×${bitsPerSample} bits`);
  }
  return { encoding, sampleRate, channels, bitsPerSample, blockAlign };
}

/** Decodes every channel to 16-bit linear PCM at the file's own rate. */
export function decodeWav(buf: Uint8Array, opts: ParseOptions = {}): DecodedWav {
  const info = parseWavHeader(buf, opts);
  const { frames, channels: nch, dataOffset, blockAlign } = info;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const channels: Int16Array[] = [];
  for (let c = 0; c < nch; c++) channels.push(new Int16Array(frames));
  const bytesPer = blockAlign / nch;
  const lawScratch = info.encoding === 'alaw' || info.encoding === 'mulaw' ? new Uint8Array(frames) : undefined;
  for (let c = 0; c < nch; c++) {
    const out = channels[c] as Int16Array;
    let p = dataOffset + c * bytesPer;
    switch (info.encoding) {
      case 'pcm8': // unsigned, 128 = silence
        for (let i = 0; i < frames; i++, p += blockAlign) out[i] = ((buf[p] ?? 128) - 128) << 8;
        break;
      case 'pcm16':
        for (let i = 0; i < frames; i++, p += blockAlign) out[i] = dv.getInt16(p, true);
        break;
      case 'pcm24':
        for (let i = 0; i < frames; i++, p += blockAlign) out[i] = dv.getInt16(p + 1, true);
        break;
      case 'pcm32':
        for (let i = 0; i < frames; i++, p += blockAlign) out[i] = dv.getInt32(p, true) >> 16;
        break;
      case 'float32':
        for (let i = 0; i < frames; i++, p += blockAlign) {
          const v = Math.round(dv.getFloat32(p, true) * 32768);
          out[i] = Number.isNaN(v) ? 0 : v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
        break;
      case 'alaw':
      case 'mulaw': {
        const s = lawScratch as Uint8Array;
        for (let i = 0; i < frames; i++, p += blockAlign) s[i] = buf[p] ?? 0;
        if (info.encoding === 'alaw') aLawDecode(s, out);
        else muLawDecode(s, out);
        break;
      }
    }
  }
  return { info, channels };
}

/** Decodes, downmixes to mono and resamples to `targetRate` (8 kHz by default; 16 kHz for G.722). */
export function decodeWavMono(buf: Uint8Array, targetRate: number = SAMPLE_RATE, opts: ParseOptions = {}): Int16Array {
  const { info, channels } = decodeWav(buf, opts);
  const mono = channels.length === 1 ? (channels[0] as Int16Array) : downmix(channels);
  return info.sampleRate === targetRate ? mono : resample(mono, info.sampleRate, targetRate);
}

/** Reads a WAV file from disk as mono PCM at `targetRate`. Errors name the file. */
export async function readWavFile(file: string, targetRate: number = SAMPLE_RATE, opts: ParseOptions = {}): Promise<Int16Array> {
  const buf = await fsp.readFile(file);
  try {
    return decodeWavMono(buf, targetRate, opts);
  } catch (err) {
    if (err instanceof WavError) throw new WavError(err.code, `${file}: ${err.message}`);
    throw err;
  }
}

const FORMAT_TAG: Record<WavWriteEncoding, number> = { pcm16: FORMAT_PCM, alaw: FORMAT_ALAW, mulaw: FORMAT_MULAW };
const BYTES_PER_SAMPLE: Record<WavWriteEncoding, number> = { pcm16: 2, alaw: 1, mulaw: 1 };

/** Header length written by `wavHeader`: 44 bytes for PCM, 58 for G.711 (fmt with cbSize + fact chunk). */
export function wavHeaderLength(encoding: WavWriteEncoding): number {
  return encoding === 'pcm16' ? 44 : 58;
}

/**
 * A mono WAV header for `samples` samples. Non-PCM formats carry cbSize and a fact chunk, as the
 * specification requires for compressed formats.
 */
export function wavHeader(encoding: WavWriteEncoding, samples: number, sampleRate: number = SAMPLE_RATE): Buffer {
  const hdrLen = wavHeaderLength(encoding);
  const bps = BYTES_PER_SAMPLE[encoding];
  const dataBytes = samples * bps;
  const h = Buffer.alloc(hdrLen);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(hdrLen - 8 + dataBytes + (dataBytes & 1), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  const fmtSize = encoding === 'pcm16' ? 16 : 18;
  h.writeUInt32LE(fmtSize, 16);
  h.writeUInt16LE(FORMAT_TAG[encoding], 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * bps, 28);
  h.writeUInt16LE(bps, 32);
  h.writeUInt16LE(bps * 8, 34);
  let off = 36;
  if (encoding !== 'pcm16') {
    h.writeUInt16LE(0, 36); // cbSize
    h.write('fact', 38, 'latin1');
    h.writeUInt32LE(4, 42);
    h.writeUInt32LE(samples, 46);
    off = 50;
  }
  h.write('data', off, 'latin1');
  h.writeUInt32LE(dataBytes, off + 4);
  return h;
}

/** Encodes mono 16-bit samples into the payload bytes of `encoding`. */
export function encodeSamples(encoding: WavWriteEncoding, pcm: Int16Array, out?: Uint8Array): Uint8Array {
  if (encoding === 'mulaw') return muLawEncode(pcm, out);
  if (encoding === 'alaw') return aLawEncode(pcm, out);
  const bytes = out ?? new Uint8Array(pcm.length * 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < pcm.length; i++) dv.setInt16(i * 2, pcm[i] ?? 0, true);
  return bytes;
}

/** A complete mono WAV file in memory. */
export function encodeWav(pcm: Int16Array, encoding: WavWriteEncoding = 'pcm16', sampleRate: number = SAMPLE_RATE): Buffer {
  const header = wavHeader(encoding, pcm.length, sampleRate);
  const payload = encodeSamples(encoding, pcm);
  const pad = payload.length & 1;
  return Buffer.concat([header, payload, Buffer.alloc(pad)]);
}

/** Writes a mono WAV file crash-safely (temporary name, fsync, rename, fsync of the directory). */
export async function writeWavFile(
  file: string,
  pcm: Int16Array,
  encoding: WavWriteEncoding = 'pcm16',
  sampleRate: number = SAMPLE_RATE,
): Promise<void> {
  await writeFileAtomic(file, encodeWav(pcm, encoding, sampleRate));
}

/**
 * readWavFile on a worker thread: use it from long-running services (music on hold uploads) so that
 * seconds of resampling never block the thread that paces 20 ms audio frames.
 */
export async function readWavFileOffThread(file: string, targetRate: number = SAMPLE_RATE, opts: ParseOptions = {}): Promise<Int16Array> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: { file, targetRate, opts } });
  try {
    const reply = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`WAV decoder thread exited (${code}) before answering for ${file}`)));
    });
    const r = reply as { ok: boolean; pcm?: unknown; wavCode?: string; message?: string };
    if (r.ok && r.pcm instanceof Int16Array) return r.pcm;
    if (r.wavCode) throw new WavError(r.wavCode as WavErrorCode, r.message ?? 'WAV decode failed');
    throw new Error(r.message ?? `WAV decode of ${file} failed`);
  } finally {
    await worker.terminate();
  }
}
