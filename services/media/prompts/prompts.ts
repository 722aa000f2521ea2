// Runtime access to the generated prompts. Files are decoded once and cached (a prompt is a few
// kilobytes; the whole catalog in four languages is a few megabytes of PCM).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeWavMono } from '../wav/wav.js';
import { DEFAULT_LANGUAGE, isPromptId, type PromptId, type PromptLanguage } from './catalog.js';
import { defaultPromptsDir } from './paths.js';

export class PromptNotFoundError extends Error {
  override readonly name = 'PromptNotFoundError';
}

let promptsDir = defaultPromptsDir();
const cache = new Map<string, Int16Array>();

/** Points the runtime at another generated folder (tests, alternative installs). Clears the cache. */
export function setPromptsDir(dir: string): void {
  promptsDir = path.resolve(dir);
  cache.clear();
}

export function promptsDirectory(): string {
  return promptsDir;
}

/**
 * Path of the WAV for `id` in `language`, falling back to English when that language's file is
 * missing. Throws PromptNotFoundError when neither exists (prompts not built?).
 */
export function promptPath(id: PromptId, language: PromptLanguage = DEFAULT_LANGUAGE): string {
  if (!isPromptId(id)) throw new PromptNotFoundError(`unknown prompt id ${String(id)}`);
  const wanted = path.join(promptsDir, language, `${id}.wav`);
  if (fs.existsSync(wanted)) return wanted;
  const fallback = path.join(promptsDir, DEFAULT_LANGUAGE, `${id}.wav`);
  if (fs.existsSync(fallback)) return fallback;
  throw new PromptNotFoundError(`prompt ${id} (${language}) not found in ${promptsDir}: run make build`);
}

/** 8 kHz mono samples of a prompt (cached; do not modify the returned array). */
export function loadPrompt(id: PromptId, language: PromptLanguage = DEFAULT_LANGUAGE): Int16Array {
  const file = promptPath(id, language);
  let pcm = cache.get(file);
  if (!pcm) {
    pcm = decodeWavMono(fs.readFileSync(file));
    cache.set(file, pcm);
  }
  return pcm;
}

/** A sentence from parts, e.g. newMessagesPrompts(3) → one buffer to play. */
export function loadPromptSequence(ids: readonly PromptId[], language: PromptLanguage = DEFAULT_LANGUAGE): Int16Array {
  const parts = ids.map((id) => loadPrompt(id, language));
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
