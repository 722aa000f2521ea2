/** Login, and the password change a first login (or an admin-set password) requires. */
import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { onLogin, type SessionUser } from '../main.js';
import { field, form } from '../ui.js';

type Session = { user: SessionUser; csrfToken: string | null };

export async function renderLogin(view: HTMLElement): Promise<void> {
  view.append(
    h('h1', {}, t('login.title')),
    form(
      [
        field({ name: 'username', label: t('login.username'), autocomplete: 'username', required: true }),
        field({ name: 'password', label: t('login.password'), type: 'password', autocomplete: 'current-password', required: true }),
      ],
      t('login.submit'),
      async (f) => {
        const data = new FormData(f);
        await onLogin(await api<Session>('POST', '/session', { username: String(data.get('username') ?? ''), password: String(data.get('password') ?? '') }));
      },
      { id: 'login-form' },
    ),
  );
}

export async function renderPasswordChange(view: HTMLElement, done: (s: Session) => Promise<void>): Promise<void> {
  view.append(
    h('h1', {}, t('password.title')),
    h('p', {}, t('password.explain')),
    form(
      [
        field({ name: 'current', label: t('password.current'), type: 'password', autocomplete: 'current-password' }),
        field({ name: 'next', label: t('password.next'), type: 'password', autocomplete: 'new-password', help: t('password.rule') }),
      ],
      t('password.submit'),
      async (f) => {
        const data = new FormData(f);
        await done(await api<Session>('POST', '/session/password', { current: String(data.get('current') ?? ''), next: String(data.get('next') ?? '') }));
      },
      { id: 'password-form' },
    ),
  );
}
