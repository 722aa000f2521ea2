/**
 * A greeting or recorded name uploaded as a file (pbxctl, later the web UI) rather than recorded
 * by phone: any PCM/G.711 WAV is decoded, down-mixed and resampled once to what the pbx plays
 * (8 kHz mono 16-bit) and written atomically where a recording by phone goes
 * (`<dataDir>/voicemail/<ext>/greeting-unavailable.wav`, `greeting-busy.wav`, `name.wav`). A
 * foreign or truncated file is refused (WavError, RangeError) and nothing is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../media/wav/atomic-file.js';
import { decodeWavMono, encodeWav } from '../media/wav/wav.js';
import type { GreetingKind } from './storage.js';

export const MAX_UPLOADED_GREETING_SECONDS = 120;

export function voicemailGreetingPath(dataDir: string, extension: string, kind: GreetingKind): string {
  if (!/^\d{2,6}$/.test(extension)) throw new RangeError(`not an extension: ${extension}`);
  return path.join(dataDir, 'voicemail', extension, kind === 'name' ? 'name.wav' : `greeting-${kind}.wav`);
}

export async function importVoicemailGreeting(dataDir: string, extension: string, kind: GreetingKind, wav: Uint8Array): Promise<{ file: string; seconds: number }> {
  const pcm = decodeWavMono(wav, 8000);
  const seconds = pcm.length / 8000;
  if (pcm.length === 0) throw new RangeError('the WAV file has no audio');
  if (seconds > MAX_UPLOADED_GREETING_SECONDS) throw new RangeError(`greeting is ${seconds.toFixed(0)} s long: at most ${MAX_UPLOADED_GREETING_SECONDS} s`);
  const file = voicemailGreetingPath(dataDir, extension, kind);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, encodeWav(pcm, 'pcm16', 8000));
  return { file, seconds };
}
