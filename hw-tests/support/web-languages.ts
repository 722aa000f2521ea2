/**
 * The browser tests' language check: the UI's own words on a page, in English, are found in the
 * locale files; switched to Spanish, French and Swedish, each of them is replaced by its
 * translation (or kept where the translation is the same word). The dictionaries are the shipped
 * web-ui/locales/*.json, flattened to dotted keys.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const LANGS = ['en', 'es', 'fr', 'sv'] as const;
export type Lang = (typeof LANGS)[number];
type Dict = Record<string, string>;

function flatten(value: unknown, prefix = '', out: Dict = {}): Dict {
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') out[prefix + k] = v;
    else flatten(v, `${prefix}${k}.`, out);
  }
  return out;
}

export const dictionaries = Object.fromEntries(LANGS.map((l) => [l, flatten(JSON.parse(fs.readFileSync(path.join(REPO, 'web-ui', 'locales', `${l}.json`), 'utf8')))])) as Record<Lang, Dict>;

export interface LanguageCheck {
  /** where the words are read (leaf elements only): default `main *` */
  selector?: string;
  /** only these keys are checked (a test of some pages checks their own keys) */
  keys?: (key: string) => boolean;
  /** fewer English strings seen than this fails the check (the page did not render) */
  minShown: number;
  /** after the page's h1 shows, before reading (e.g. open a form) */
  prepare?: (page: Page, url: string) => Promise<void>;
  /** after each language's check (e.g. a screenshot) */
  after?: (lang: Lang, url: string) => Promise<void>;
}

export async function selectLanguage(page: Page, lang: Lang): Promise<void> {
  await page.selectOption('#language', lang);
  await page.locator(`html[lang="${lang}"]`).waitFor();
}

/** Every visible string of each page changes with the language (see the file comment). */
export async function checkLanguages(page: Page, urls: string[], o: LanguageCheck): Promise<void> {
  const leaves = async (url: string): Promise<Set<string>> => {
    await page.goto(url);
    await page.locator('h1').waitFor();
    await o.prepare?.(page, url);
    await page.waitForTimeout(150);
    const texts = await page.$$eval(o.selector ?? 'main *', (els) => els.filter((e) => e.children.length === 0).map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
    return new Set(texts.filter((x) => x !== ''));
  };
  for (const url of urls) {
    await selectLanguage(page, 'en');
    const english = await leaves(url);
    // English text → the keys that say it (several keys may share a word such as "Extension").
    const shown = new Map<string, string[]>();
    for (const [key, value] of Object.entries(dictionaries.en)) {
      if (!value.includes('{{') && english.has(value) && (o.keys?.(key) ?? true)) shown.set(value, [...(shown.get(value) ?? []), key]);
    }
    assert.ok(shown.size > o.minShown, `${url}: ${shown.size} strings seen`);
    for (const lang of ['es', 'fr', 'sv'] as const) {
      await selectLanguage(page, lang);
      const text = await leaves(url);
      for (const [value, keys] of shown) {
        const translations = keys.map((k) => dictionaries[lang][k] ?? '');
        assert.ok(translations.some((x) => text.has(x)), `${url} in ${lang}: one of ${JSON.stringify(translations)} (${keys.join(', ')}) is shown`);
        if (translations.includes(value)) continue;
        assert.ok(!text.has(value), `${url} in ${lang}: English "${value}" (${keys.join(', ')}) is gone`);
      }
      await o.after?.(lang, url);
    }
  }
}
