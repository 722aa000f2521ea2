/**
 * Every string of the UI through i18next, from /locales/<lng>.json (en, es, fr, sv: the seeds'
 * languages). Numbers, dates and money through Intl in the language's locale. The language is the
 * user's choice when made (stored, and in their profile once logged in), else the browser's.
 */
import i18next from '/vendor/i18next.js';

export const LANGUAGES = ['en', 'es', 'fr', 'sv'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Dates in the country's habits; money in euros as the seeds write it (9,95 € in es, fr, sv). */
const DATE_LOCALE: Record<Language, string> = { en: 'en-US', es: 'es-MX', fr: 'fr-FR', sv: 'sv-SE' };
const MONEY_LOCALE: Record<Language, string> = { en: 'en-IE', es: 'es-ES', fr: 'fr-FR', sv: 'sv-SE' };

const CHOICE_KEY = 'pbx.language';

function isLanguage(value: string | null | undefined): value is Language {
  return value !== null && value !== undefined && (LANGUAGES as readonly string[]).includes(value);
}

/** The stored choice, else the first browser language we speak, else English. */
export function preferredLanguage(): Language {
  const stored = localStorage.getItem(CHOICE_KEY);
  if (isLanguage(stored)) return stored;
  for (const tag of navigator.languages) {
    const base = tag.slice(0, 2).toLowerCase();
    if (isLanguage(base)) return base;
  }
  return 'en';
}

const loaded = new Set<Language>();

export async function setLanguage(language: Language, remember = false): Promise<void> {
  if (!loaded.has(language)) {
    const response = await fetch(`/locales/${language}.json`);
    const resources = (await response.json()) as Record<string, unknown>;
    if (!i18next.isInitialized) {
      await i18next.init({ lng: language, fallbackLng: 'en', resources: { [language]: { translation: resources } }, interpolation: { escapeValue: false } });
    } else i18next.addResourceBundle(language, 'translation', resources);
    loaded.add(language);
  }
  await i18next.changeLanguage(language);
  document.documentElement.lang = language;
  if (remember) localStorage.setItem(CHOICE_KEY, language);
}

export function language(): Language {
  const current = i18next.language;
  return isLanguage(current) ? current : 'en';
}

export function t(key: string, params: Record<string, string | number> = {}): string {
  return i18next.t(key, params);
}

/** A translation when the key exists, else null (field codes the server may add later). */
export function tMaybe(key: string, params: Record<string, string | number> = {}): string | null {
  return i18next.exists(key) ? i18next.t(key, params) : null;
}

export function money(cents: number): string {
  return new Intl.NumberFormat(MONEY_LOCALE[language()], { style: 'currency', currency: 'EUR' }).format(cents / 100);
}

export function dateTime(ms: number | string): string {
  return new Intl.DateTimeFormat(DATE_LOCALE[language()], { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

export function date(text: string): string {
  return new Intl.DateTimeFormat(DATE_LOCALE[language()], { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${text}T00:00:00Z`));
}

export function bytes(n: number): string {
  return new Intl.NumberFormat(DATE_LOCALE[language()], { style: 'unit', unit: 'gigabyte', maximumFractionDigits: 1 }).format(n / 1e9);
}

export function seconds(n: number): string {
  return new Intl.NumberFormat(DATE_LOCALE[language()], { style: 'unit', unit: 'second', unitDisplay: 'short' }).format(n);
}

/** A file's size in kB or MB, in the language's locale. */
export function fileSize(n: number): string {
  const [unit, value] = n >= 1e6 ? ['megabyte', n / 1e6] : ['kilobyte', Math.max(n / 1e3, 0.1)];
  return new Intl.NumberFormat(DATE_LOCALE[language()], { style: 'unit', unit, maximumFractionDigits: 1 }).format(value);
}
