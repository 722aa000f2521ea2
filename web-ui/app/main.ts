/**
 * The browser app: one page, a router on the path, a menu per role. Every page is rendered from the
 * API's JSON with `h()`; the language can change at any moment and the current page is drawn again.
 */
import { api, setCsrfToken } from './api.js';
import { clear, h } from './dom.js';
import { LANGUAGES, language, preferredLanguage, setLanguage, t, type Language } from './i18n.js';
import { renderLogin, renderPasswordChange } from './pages/auth.js';
import { ADMIN_PAGES } from './pages/admin.js';
import { renderPorting } from './pages/porting.js';
import { renderDiagnostics } from './pages/diagnostics.js';
import { USER_PAGES } from './pages/me.js';
import { RECEPTION_PAGES } from './pages/receptionist.js';
import { FIRMWARE_PAGE } from './pages/system.js';
import { VOICEMAIL_ADMIN_PAGES, VOICEMAIL_USER_PAGES } from './pages/voicemail.js';
import { FAX_ADMIN_PAGES, FAX_USER_PAGES } from './pages/fax.js';

export interface SessionUser {
  id: number;
  username: string;
  displayName: string;
  role: 'admin' | 'user';
  language: Language;
  extension: string | null;
  mustChangePassword: boolean;
}

export interface PageContext {
  user: SessionUser;
  /** Draws the current page again (after a change). */
  refresh(): void;
  go(path: string): void;
}

export type Page = { path: string; title: string; render(view: HTMLElement, ctx: PageContext): Promise<void> };

let user: SessionUser | null = null;
const root = document.getElementById('app') as HTMLElement;

function pagesFor(u: SessionUser): Page[] {
  const porting: Page = { path: '/admin/porting', title: 'nav.porting', render: renderPorting };
  const diagnostics: Page = { path: '/admin/diagnostics', title: 'nav.diagnostics', render: renderDiagnostics };
  const own = [...USER_PAGES, ...VOICEMAIL_USER_PAGES, ...FAX_USER_PAGES];
  return u.role === 'admin' ? [...ADMIN_PAGES, ...RECEPTION_PAGES, ...VOICEMAIL_ADMIN_PAGES, ...FAX_ADMIN_PAGES, FIRMWARE_PAGE, diagnostics, porting, ...own] : own;
}

export function go(path: string): void {
  if (location.pathname !== path) history.pushState(null, '', path);
  void draw();
}

export async function onLogin(next: { user: SessionUser; csrfToken: string | null }): Promise<void> {
  user = next.user;
  setCsrfToken(next.csrfToken);
  if (localStorage.getItem('pbx.language') === null) await setLanguage(user.language);
  go(user.role === 'admin' ? '/admin' : '/me');
}

function languagePicker(): HTMLElement {
  const select = h('select', { id: 'language', 'aria-label': t('nav.language') }, ...LANGUAGES.map((l) => h('option', { value: l, selected: l === language() }, t(`languages.${l}`))));
  select.addEventListener('change', () => {
    const chosen = select.value as Language;
    void setLanguage(chosen, true).then(async () => {
      if (user !== null && !user.mustChangePassword) await api('PATCH', '/me', { language: chosen }).catch(() => undefined);
      await draw();
    });
  });
  return select;
}

async function logout(): Promise<void> {
  await api('POST', '/session/logout').catch(() => undefined);
  user = null;
  setCsrfToken(null);
  go('/login');
}

async function draw(): Promise<void> {
  clear(root);
  document.title = t('app.title');
  const header = h('header', {}, h('span', { class: 'brand' }, t('app.title')), languagePicker());
  const view = h('main', { id: 'view' });
  if (user === null) {
    root.append(header, view);
    await renderLogin(view);
    return;
  }
  header.append(h('span', { class: 'who' }, `${user.displayName} (${user.username})`), h('button', { type: 'button', class: 'small', id: 'logout', onclick: () => void logout() }, t('nav.logout')));
  if (user.mustChangePassword) {
    root.append(header, view);
    await renderPasswordChange(view, (next) => onLogin(next));
    return;
  }
  const pages = pagesFor(user);
  const page = pages.find((p) => p.path === location.pathname) ?? pages[0];
  if (page === undefined) return;
  const nav = h('nav', {}, ...pages.map((p) => h('a', { href: p.path, class: p === page ? 'active' : '', onclick: (e: Event) => { e.preventDefault(); go(p.path); } }, t(p.title))));
  root.append(header, nav, view);
  view.append(h('h1', {}, t(page.title)));
  const ctx: PageContext = { user, refresh: () => void draw(), go };
  try {
    await page.render(view, ctx);
  } catch (error) {
    view.append(h('p', { class: 'form-notice error' }, t('errors.page')));
    console.error(error);
  }
}

async function start(): Promise<void> {
  await setLanguage(preferredLanguage());
  const session = await api<{ user: SessionUser | null; csrfToken: string | null }>('GET', '/session');
  user = session.user;
  setCsrfToken(session.csrfToken);
  if (user !== null && localStorage.getItem('pbx.language') === null) await setLanguage(user.language);
  if (user === null && location.pathname !== '/login') history.replaceState(null, '', '/login');
  await draw();
}

window.addEventListener('popstate', () => void draw());
void start();
