/**
 * Music-on-hold uploads: a WAV (any PCM/G.711 rate, mono or stereo, decoded here) or an MP3 (or
 * any other format sox reads: decoded by sox, `libsox-fmt-mp3` for MP3) is converted ONCE, at
 * upload, to what the media engine plays (8 kHz mono 16-bit WAV) and written atomically to
 * <dataDir>/moh/<class>.wav. A truncated or foreign file is refused with the reason and nothing is
 * written.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../../media/wav/atomic-file.js';
import { decodeWavMono, encodeWav } from '../../../media/wav/wav.js';

const run = promisify(execFile);

/** Longest file kept: a one-hour playlist is 57 MB of 8 kHz PCM in memory; ten minutes loops fine. */
export const MAX_MOH_SECONDS = 600;
/** Longest playlist (all the files of a class): 30 minutes, 29 MB in the pbx's memory. */
export const MAX_MOH_CLASS_SECONDS = 1800;

/** Why an upload is refused: not audio we can read (or damaged), too short, too long. */
export class AudioFileError extends RangeError {
  constructor(
    readonly reason: 'not-audio' | 'too-short' | 'too-long',
    message: string,
  ) {
    super(message);
  }
}

export function mohDir(dataDir: string): string {
  return path.join(dataDir, 'moh');
}

/** Decodes an uploaded file to 8 kHz mono PCM (WAV in JS, anything else through sox). */
export async function decodeUpload(file: string): Promise<Int16Array> {
  const bytes = fs.readFileSync(file);
  if (bytes.length === 0) throw new AudioFileError('not-audio', `${path.basename(file)} is empty`);
  const isWav = bytes.subarray(0, 4).toString('latin1') === 'RIFF';
  if (isWav) {
    try {
      return decodeWavMono(bytes, 8000);
    } catch (error) {
      throw new AudioFileError('not-audio', `${path.basename(file)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  let out: Buffer;
  try {
    ({ stdout: out } = await run('sox', [file, '-t', 'raw', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-L', '-'], {
      encoding: 'buffer',
      maxBuffer: MAX_MOH_SECONDS * 8000 * 2 + 1024 * 1024,
    }));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') throw new AudioFileError('too-long', `${path.basename(file)} is longer than ${MAX_MOH_SECONDS} s`);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    throw new AudioFileError('not-audio', `${path.basename(file)}: not an audio file sox can read${stderr ? ` (${stderr.split('\n')[0]})` : ''}`);
  }
  return new Int16Array(out.buffer, out.byteOffset, Math.floor(out.length / 2)).slice();
}

/**
 * Converts `file` and stores it as `stored` (default `<name>.wav`, the class's first file); returns
 * the stored file name and its length.
 */
export async function importMohFile(dataDir: string, name: string, file: string, stored = `${name}.wav`): Promise<{ file: string; seconds: number }> {
  const pcm = await decodeUpload(file);
  const seconds = pcm.length / 8000;
  if (seconds < 0.5) throw new AudioFileError('too-short', `${path.basename(file)} has ${seconds.toFixed(2)} s of audio: at least 0.5 s`);
  if (seconds > MAX_MOH_SECONDS) throw new AudioFileError('too-long', `${path.basename(file)} is ${seconds.toFixed(0)} s long: at most ${MAX_MOH_SECONDS} s`);
  const dir = mohDir(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, stored), encodeWav(pcm, 'pcm16', 8000));
  return { file: stored, seconds };
}

/**
 * The built-in default class: a slow arpeggio (C major, then A minor, F, G), soft sine notes with
 * a short fade in and out so the loop has no clicks. 8 s, −16 dBm0-ish peaks.
 */
export function builtInTune(): Int16Array {
  const notes = [261.63, 329.63, 392.0, 523.25, 220.0, 261.63, 329.63, 440.0, 174.61, 220.0, 261.63, 349.23, 196.0, 246.94, 293.66, 392.0];
  const noteSamples = 4000; // 0.5 s each
  const out = new Int16Array(notes.length * noteSamples);
  const fade = 400;
  notes.forEach((freq, n) => {
    for (let i = 0; i < noteSamples; i++) {
      const envelope = Math.min(1, i / fade, (noteSamples - i) / fade);
      out[n * noteSamples + i] = Math.round(4000 * envelope * Math.sin((2 * Math.PI * freq * i) / 8000));
    }
  });
  return out;
}
