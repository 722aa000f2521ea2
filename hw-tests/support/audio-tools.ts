/**
 * Test support: audio judged by tools that are not the product's. multimon-ng (Debian) decodes
 * DTMF; sox (Debian) converts between WAV and raw PCM and resamples. A test phone's received PCM
 * or a third-party phone's recording goes through them, so a DTMF or tone verdict does not rest
 * on the pbx's own detector. Also a WAV writer for what a third-party phone plays.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'audio-tools-'));
}

/** A mono 16-bit PCM WAV file. */
export function writeWav(file: string, pcm: Int16Array, rate = 8000): void {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** Any WAV sox reads, as 8 kHz mono 16-bit PCM (resampled and mixed down by sox). */
export function wavToPcm8k(file: string): Int16Array {
  const raw = execFileSync('sox', [file, '-t', 'raw', '-r', '8000', '-e', 'signed-integer', '-b', '16', '-c', '1', '-'], { maxBuffer: 64 << 20 });
  return new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.byteLength / 2)).slice();
}

/** Sine sums at 8 kHz: `segments` of [ms, freqs (Hz, empty = silence), amplitude]. */
export function synthesize(segments: ReadonlyArray<readonly [number, readonly number[], number?]>, rate = 8000): Int16Array {
  const total = segments.reduce((n, [ms]) => n + Math.round((ms * rate) / 1000), 0);
  const out = new Int16Array(total);
  let off = 0;
  for (const [ms, freqs, amplitude = 6000] of segments) {
    const n = Math.round((ms * rate) / 1000);
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (const f of freqs) v += amplitude * Math.sin((2 * Math.PI * f * (off + i)) / rate);
      out[off + i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    off += n;
  }
  return out;
}

const DTMF_FREQS: Record<string, readonly [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** Segments of `digits` as DTMF tone pairs (toneMs on, gapMs off), for `synthesize`. */
export function dtmfSegments(digits: string, toneMs = 150, gapMs = 150): Array<[number, readonly number[], number]> {
  const out: Array<[number, readonly number[], number]> = [];
  for (const d of digits) {
    const pair = DTMF_FREQS[d];
    if (pair === undefined) throw new Error(`not a DTMF digit: ${d}`);
    out.push([toneMs, pair, 5000], [gapMs, [], 0]);
  }
  return out;
}

/**
 * The DTMF digits multimon-ng hears in 8 kHz PCM, in order, one per key press (multimon-ng reports
 * a held digit once). multimon-ng wants raw 22050 Hz S16LE: sox resamples.
 */
export function multimonDtmf(pcm: Int16Array, rate = 8000): string {
  const dir = tmpDir();
  try {
    const input = path.join(dir, 'in.raw');
    const resampled = path.join(dir, 'in-22050.raw');
    fs.writeFileSync(input, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    execFileSync('sox', ['-t', 'raw', '-r', String(rate), '-e', 'signed-integer', '-b', '16', '-c', '1', input, '-t', 'raw', '-r', '22050', '-e', 'signed-integer', '-b', '16', '-c', '1', resampled]);
    const out = execFileSync('multimon-ng', ['-q', '-c', '-a', 'DTMF', '-t', 'raw', resampled], { encoding: 'utf8', timeout: 30_000 });
    return [...out.matchAll(/^DTMF: (\S)/gm)].map((m) => m[1]).join('');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
