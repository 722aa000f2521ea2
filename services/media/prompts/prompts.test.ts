import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { decodeWav } from '../wav/wav.js';
import { newMessagesPrompts, participantCountPrompts, PROMPTS, PROMPT_LANGUAGES, promptText, type PromptLanguage } from './catalog.js';
import { defaultPromptsDir } from './paths.js';
import { loadPrompt, loadPromptSequence, promptPath, PromptNotFoundError, setPromptsDir } from './prompts.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const script = path.join(root, 'scripts/build.d/20-prompts.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prompts-test-'));
const out = path.join(tmp, 'generated');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Share of 20 ms frames louder than -40 dBFS: speech has many, silence none. */
function activeShare(pcm: Int16Array): number {
  let active = 0;
  const n = Math.floor(pcm.length / 160);
  for (let f = 0; f < n; f++) if (meanSquare(pcm, f * 160, 160) > (32768 * 0.01) ** 2) active++;
  return n ? active / n : 0;
}

function loudestFrameDb(pcm: Int16Array): number {
  let max = 0;
  for (let f = 0; f + 160 <= pcm.length; f += 160) max = Math.max(max, meanSquare(pcm, f, 160));
  return 10 * Math.log10(max / 32768 ** 2 + 1e-12);
}

test('the build script runs espeak-ng for every prompt in all four languages, then skips them', { timeout: 120_000 }, async () => {
  const first = await run('bash', [script, '--out', out]);
  const total = PROMPTS.length * PROMPT_LANGUAGES.length;
  assert.match(first.stdout, new RegExp(`prompts: ${total} generated, 0 up to date`));
  for (const lang of PROMPT_LANGUAGES) {
    for (const p of PROMPTS) {
      const file = path.join(out, lang, `${p.id}.wav`);
      const { info, channels } = decodeWav(fs.readFileSync(file));
      const pcm = channels[0] ?? new Int16Array(0);
      assert.equal(info.sampleRate, 8000, file);
      assert.equal(info.channels, 1, file);
      assert.equal(info.encoding, 'pcm16', file);
      const seconds = pcm.length / 8000;
      const chars = promptText(p.id, lang).length;
      // espeak at 150 wpm: above ~8 characters a second (numbers are short strings but whole words), plus the tail.
      assert.ok(seconds > 0.3 && seconds < 2 + chars * 0.12, `${file}: ${seconds.toFixed(2)} s for ${chars} characters`);
      assert.ok(activeShare(pcm) > 0.12, `${file}: speech energy in ${(activeShare(pcm) * 100).toFixed(0)}% of frames`);
      assert.ok(loudestFrameDb(pcm) > -22, `${file}: loudest 20 ms at ${loudestFrameDb(pcm).toFixed(1)} dBFS`);
    }
  }
  // Long sentences are longer than short ones (the text really is spoken).
  const dur = (lang: string, id: string): number => fs.statSync(path.join(out, lang, `${id}.wav`)).size;
  for (const lang of PROMPT_LANGUAGES) assert.ok(dur(lang, 'vm.main_menu') > 3 * dur(lang, 'common.goodbye'), lang);

  const again = await run('bash', [script, '--out', out]);
  assert.match(again.stdout, new RegExp(`prompts: 0 generated, ${total} up to date`));

  // A deleted file and a changed entry are regenerated, nothing else.
  fs.rmSync(path.join(out, 'fr', 'conf.muted.wav'));
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Record<string, string>;
  manifest['sv/vm.enter_pin'] = 'stale';
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest));
  const third = await run('bash', [script, '--out', out]);
  assert.match(third.stdout, new RegExp(`prompts: 2 generated, ${total - 2} up to date`));
  assert.ok(fs.existsSync(path.join(out, 'fr', 'conf.muted.wav')));
  assert.deepEqual(
    fs.readdirSync(out, { recursive: true }).filter((f) => String(f).includes('.partial-')),
    [],
    'no temporary file left behind',
  );
});

test('loadPrompt: one prompt per language has speech energy, and the languages sound different', { timeout: 120_000 }, async () => {
  if (!fs.existsSync(path.join(out, 'sv', 'vm.leave_message.wav'))) {
    await run('bash', [script, '--out', out, '--only', 'vm.leave_message,vm.you_have,num.3,vm.new_messages,conf.first_participant']);
  }
  setPromptsDir(out);
  const byLang = new Map<PromptLanguage, Int16Array>();
  for (const lang of PROMPT_LANGUAGES) {
    const pcm = loadPrompt('vm.leave_message', lang);
    assert.ok(pcm.length > 8000 * 2, `${lang}: at least 2 s`);
    assert.ok(activeShare(pcm) > 0.4, `${lang}: speech in most frames`);
    // Speech energy is in the telephone band, not DC or hum.
    const band = detectTones(pcm, [300, 500, 800, 1200, 2000]).reduce((a, b) => a + b, 0);
    const low = detectTones(pcm, [30, 50])[0] ?? 0;
    assert.ok(band > 20 * low, `${lang}: band energy`);
    assert.equal(loadPrompt('vm.leave_message', lang), pcm, 'cached');
    byLang.set(lang, pcm);
  }
  const langs = [...byLang.keys()];
  for (let a = 0; a < langs.length; a++) {
    for (let b = a + 1; b < langs.length; b++) {
      const x = byLang.get(langs[a] as PromptLanguage) as Int16Array;
      const y = byLang.get(langs[b] as PromptLanguage) as Int16Array;
      const n = Math.min(x.length, y.length);
      let diff = 0;
      for (let i = 0; i < n; i++) diff += Math.abs((x[i] ?? 0) - (y[i] ?? 0));
      assert.ok(x.length !== y.length || diff > 0, `${langs[a]} and ${langs[b]} differ`);
      assert.ok(diff / n > 500, `${langs[a]} vs ${langs[b]}: different waveforms (${(diff / n).toFixed(0)})`);
    }
  }
  const seq = loadPromptSequence(newMessagesPrompts(3), 'es');
  assert.equal(seq.length, loadPrompt('vm.you_have', 'es').length + loadPrompt('num.3', 'es').length + loadPrompt('vm.new_messages', 'es').length);
  assert.deepEqual(participantCountPrompts(1), ['conf.first_participant']);
  assert.deepEqual(newMessagesPrompts(1), ['vm.you_have', 'num.1', 'vm.new_message']);
  assert.deepEqual(newMessagesPrompts(120), ['vm.you_have', 'num.1', 'num.2', 'num.0', 'vm.new_messages']);
});

test('a missing translation falls back to English; a missing prompt is a clear error', async () => {
  const dir = path.join(tmp, 'fallback');
  await run('bash', [script, '--out', dir, '--only', 'common.goodbye', '--lang', 'en,fr']);
  setPromptsDir(dir);
  assert.equal(promptPath('common.goodbye', 'fr'), path.join(dir, 'fr', 'common.goodbye.wav'));
  assert.equal(promptPath('common.goodbye', 'sv'), path.join(dir, 'en', 'common.goodbye.wav'));
  assert.deepEqual(loadPrompt('common.goodbye', 'sv'), loadPrompt('common.goodbye', 'en'));
  assert.throws(() => promptPath('conf.muted', 'sv'), PromptNotFoundError);
  assert.throws(() => promptPath('no.such' as 'conf.muted', 'en'), /unknown prompt id/);
});

test('the installed prompt folder (make build) holds every prompt in every language', () => {
  const dir = defaultPromptsDir();
  const missing: string[] = [];
  for (const lang of PROMPT_LANGUAGES) {
    for (const p of PROMPTS) if (!fs.existsSync(path.join(dir, lang, `${p.id}.wav`))) missing.push(`${lang}/${p.id}`);
  }
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} prompts missing in ${dir}: run make build`);
});
