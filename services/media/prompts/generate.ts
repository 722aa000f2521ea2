// Build-time prompt generator: espeak-ng speaks each catalog text, sox turns it into 8 kHz mono 16-bit
// PCM (telephone band, normalised). Idempotent: a manifest records a hash of (text, voice, settings) per
// file, and a prompt whose file exists with the same hash is skipped. Each file is published atomically
// so an interrupted build never leaves a half prompt.
//
//   node dist/services/media/prompts/generate.js [--out DIR] [--lang en,fr] [--only id,id] [--jobs N]
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ESPEAK_VOICE, PROMPTS, PROMPT_LANGUAGES, isPromptLanguage, type PromptId, type PromptLanguage } from './catalog.js';
import { defaultPromptsDir } from './paths.js';
import { fsyncDir, tempPathFor } from '../wav/atomic-file.js';

const run = promisify(execFile);

/** Bump when the pipeline below changes so every prompt is regenerated. */
const PIPELINE_VERSION = 1;
const ESPEAK_SPEED_WPM = 150;
/** sox effects: telephone band, then peak-normalise to -3 dBFS, then a 150 ms tail of silence. */
const SOX_EFFECTS = ['highpass', '200', 'lowpass', '3400', 'norm', '-3', 'pad', '0', '0.15'];
const MANIFEST = 'manifest.json';

export interface GenerateOptions {
  readonly outDir?: string;
  readonly languages?: readonly PromptLanguage[];
  readonly only?: readonly PromptId[];
  readonly jobs?: number;
}

export interface GenerateResult {
  readonly outDir: string;
  readonly generated: string[];
  readonly skipped: number;
}

type Manifest = Record<string, string>;

function promptHash(text: string, voice: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: PIPELINE_VERSION, text, voice, wpm: ESPEAK_SPEED_WPM, sox: SOX_EFFECTS }))
    .digest('hex')
    .slice(0, 16);
}

async function readManifest(dir: string): Promise<Manifest> {
  try {
    const raw: unknown = JSON.parse(await fsp.readFile(path.join(dir, MANIFEST), 'utf8'));
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      const m: Manifest = {};
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') m[k] = v;
      return m;
    }
  } catch {
    /* first build or damaged manifest: regenerate */
  }
  return {};
}

async function synthesise(text: string, voice: string, file: string): Promise<void> {
  const raw = tempPathFor(file) + '.22k.wav';
  const tmp = tempPathFor(file);
  try {
    await run('espeak-ng', ['-v', voice, '-s', String(ESPEAK_SPEED_WPM), '-w', raw, '--', text]);
    await run('sox', [raw, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'wav', tmp, ...SOX_EFFECTS]);
    const h = await fsp.open(tmp, 'r+');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, file);
  } finally {
    await fsp.rm(raw, { force: true });
    await fsp.rm(tmp, { force: true });
  }
}

export async function generatePrompts(opts: GenerateOptions = {}): Promise<GenerateResult> {
  const outDir = path.resolve(opts.outDir ?? defaultPromptsDir());
  const languages = opts.languages ?? PROMPT_LANGUAGES;
  const only = opts.only ? new Set<string>(opts.only) : undefined;
  const jobs = Math.max(1, opts.jobs ?? os.cpus().length);
  const manifest = await readManifest(outDir);
  const work: { key: string; text: string; voice: string; file: string; hash: string }[] = [];
  let skipped = 0;
  for (const lang of languages) {
    await fsp.mkdir(path.join(outDir, lang), { recursive: true });
    for (const p of PROMPTS) {
      if (only && !only.has(p.id)) continue;
      const voice = ESPEAK_VOICE[lang];
      const text = p.text[lang];
      const key = `${lang}/${p.id}`;
      const file = path.join(outDir, lang, `${p.id}.wav`);
      const hash = promptHash(text, voice);
      if (manifest[key] === hash && fs.existsSync(file)) {
        skipped++;
        continue;
      }
      work.push({ key, text, voice, file, hash });
    }
  }
  const generated: string[] = [];
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < work.length) {
      const item = work[next++];
      if (!item) break;
      try {
        await synthesise(item.text, item.voice, item.file);
        manifest[item.key] = item.hash;
        generated.push(item.file);
      } catch (err) {
        failure ??= new Error(`prompt ${item.key} (${item.voice}: ${JSON.stringify(item.text)}) failed: ${String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(1, work.length)) }, worker));
  // The manifest is written even after a failure so the prompts that did succeed are not redone.
  if (work.length > 0) {
    const mtmp = tempPathFor(path.join(outDir, MANIFEST));
    await fsp.writeFile(mtmp, JSON.stringify(manifest, null, 1) + '\n');
    await fsp.rename(mtmp, path.join(outDir, MANIFEST));
    for (const lang of languages) await fsyncDir(path.join(outDir, lang));
    await fsyncDir(outDir);
  }
  if (failure !== undefined) throw failure;
  return { outDir, generated, skipped };
}

function parseArgs(argv: readonly string[]): GenerateOptions {
  let outDir: string | undefined;
  let languages: PromptLanguage[] | undefined;
  let only: PromptId[] | undefined;
  let jobs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--out' && v) (outDir = v), i++;
    else if (a === '--lang' && v) {
      languages = v.split(',').map((l) => {
        if (!isPromptLanguage(l)) throw new Error(`unknown language ${l} (have ${PROMPT_LANGUAGES.join(', ')})`);
        return l;
      });
      i++;
    } else if (a === '--only' && v) (only = v.split(',') as PromptId[]), i++;
    else if (a === '--jobs' && v) (jobs = Number(v)), i++;
    else throw new Error(`unknown argument ${a ?? ''}`);
  }
  return {
    ...(outDir !== undefined ? { outDir } : {}),
    ...(languages ? { languages } : {}),
    ...(only ? { only } : {}),
    ...(jobs ? { jobs } : {}),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const t0 = Date.now();
    const r = await generatePrompts(parseArgs(process.argv.slice(2)));
    console.log(`prompts: ${r.generated.length} generated, ${r.skipped} up to date in ${r.outDir} (${Date.now() - t0} ms)`);
  } catch (err) {
    console.error(`prompts: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
