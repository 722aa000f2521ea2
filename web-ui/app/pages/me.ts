/** The end-user portal: my phone (extension state, direct number), my language, my call log. */
import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import type { Page } from '../main.js';
import { callTable, type CallRow } from './admin.js';
import { renderMyFeatures } from './features.js';

async function myPhone(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type Me = { extension: { number: string; registered: boolean; directNumber: string | null; devices: Array<{ userAgent: string | null }> } | null };
  const me = await api<Me>('GET', '/me');
  const e = me.extension;
  view.append(
    h('p', {}, t('me.hello', { name: ctx.user.displayName })),
    e === null
      ? h('p', {}, t('me.noExtension'))
      : h(
          'dl',
          {},
          h('dt', {}, t('me.extension')),
          h('dd', {}, e.number),
          h('dt', {}, t('me.directNumber')),
          h('dd', {}, e.directNumber ?? '—'),
          h('dt', {}, t('me.phone')),
          h('dd', { id: 'my-phone-state' }, e.registered ? t('me.registered', { devices: e.devices.map((d) => d.userAgent ?? '?').join(', ') }) : t('me.notRegistered')),
        ),
  );
}

async function myCalls(view: HTMLElement): Promise<void> {
  const { calls } = await api<{ calls: CallRow[] }>('GET', '/me/calls');
  view.append(h('p', {}, h('a', { href: '/api/me/calls.csv', download: 'my-calls.csv' }, t('calls.export'))), callTable(calls));
}

export const USER_PAGES: Page[] = [
  { path: '/me', title: 'nav.myPhone', render: myPhone },
  { path: '/me/settings', title: 'nav.mySettings', render: renderMyFeatures },
  { path: '/me/calls', title: 'nav.myCalls', render: myCalls },
];
