/**
 * Uploaded greetings: any PCM/G.711 WAV (any rate, mono or stereo) is decoded, down-mixed and
 * resampled once, at upload, to what the media engine plays (8 kHz mono 16-bit), and written
 * atomically under <dataDir>/greetings/. A truncated or foreign file is refused with the reason
 * (WavError) and nothing is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../media/wav/atomic-file.js';
import { decodeWavMono, encodeWav } from '../../media/wav/wav.js';
import type { MenuName } from '../../store/routing-schema.js';

export function greetingsDir(dataDir: string): string {
  return path.join(dataDir, 'greetings');
}

/** Longest greeting kept (a menu read slowly fits in two minutes). */
export const MAX_GREETING_SECONDS = 120;

export async function importGreeting(dataDir: string, receptionist: string, menu: MenuName, wav: Uint8Array): Promise<{ file: string; seconds: number }> {
  const pcm = decodeWavMono(wav, 8000);
  const seconds = pcm.length / 8000;
  if (pcm.length === 0) throw new RangeError('the WAV file has no audio');
  if (seconds > MAX_GREETING_SECONDS) throw new RangeError(`greeting is ${seconds.toFixed(0)} s long: at most ${MAX_GREETING_SECONDS} s`);
  const dir = greetingsDir(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = `${receptionist}-${menu}.wav`;
  await writeFileAtomic(path.join(dir, file), encodeWav(pcm, 'pcm16', 8000));
  return { file, seconds };
}
