/** The admin portal: dashboard, extensions, users, numbers, ring groups, trunks, call log, blocks, backup. */
import { api } from '../api.js';
import { formValues, h, table } from '../dom.js';
import { bytes, dateTime, money, seconds, t } from '../i18n.js';
import type { Page } from '../main.js';
import { actionButton, field, form, notice } from '../ui.js';
import { featuresForm } from './features.js';
import { renderRestore } from './system.js';

interface ExtensionView {
  number: string;
  displayName: string;
  language: string;
  directNumber: string | null;
  international: boolean;
  registered: boolean;
  devices: Array<{ userAgent: string | null; address: string; transport: string }>;
}

interface DestinationOption {
  value: string;
  kind: string;
  target: string;
  name: string;
}

/** "Extension 101 — Alice" for `extension:101`, in the user's language. */
export function destinationLabel(value: string, options: DestinationOption[]): string {
  const found = options.find((o) => o.value === value);
  const [kind = '', target = ''] = value.split(':');
  const label = t(`destination.${kind}`, { target, defaultValue: value });
  return found && found.name !== found.target ? `${label} — ${found.name}` : label;
}

export async function destinationOptions(): Promise<DestinationOption[]> {
  return (await api<{ destinations: DestinationOption[] }>('GET', '/destinations')).destinations;
}

export function destinationChoices(options: DestinationOption[], none?: string): Array<[string, string]> {
  return [...(none !== undefined ? [['', none] as [string, string]] : []), ...options.map((o): [string, string] => [o.value, destinationLabel(o.value, options)])];
}

const yes = (b: boolean): string => (b ? t('common.yes') : t('common.no'));
export const languageOptions = (): Array<[string, string]> => ['en', 'es', 'fr', 'sv'].map((l) => [l, t(`languages.${l}`)]);

async function dashboard(view: HTMLElement): Promise<void> {
  type Dashboard = {
    version: string;
    pbx: { up: boolean; uptimeSeconds?: number; crashLoop?: boolean };
    devices: { registered: number; extensions: number };
    calls: Array<{ from: string; to: string; state: string; startedAt: number }>;
    trunks: Array<{ name: string; state: string; lastError: string | null }>;
    ports: Array<{ name: string; state: string }>;
    storage: { totalBytes: number; freeBytes: number } | null;
  };
  const d = await api<Dashboard>('GET', '/dashboard');
  const card = (title: string, ...body: Array<Node | string>) => h('section', { class: 'card' }, h('h2', {}, title), ...body);
  view.append(
    h(
      'div',
      { class: 'cards' },
      card(t('dashboard.pbx'), d.pbx.up ? t('dashboard.running', { uptime: seconds(d.pbx.uptimeSeconds ?? 0) }) : t('dashboard.down'), d.pbx.crashLoop ? h('p', { class: 'warn' }, t('dashboard.crashLoop')) : ''),
      card(t('dashboard.devices'), h('p', { id: 'registered-count' }, t('dashboard.registered', { count: d.devices.registered, total: d.devices.extensions }))),
      card(t('dashboard.calls'), h('p', {}, t('dashboard.callsNow', { count: d.calls.length }))),
      card(t('dashboard.trunks'), ...(d.trunks.length === 0 ? [t('dashboard.noTrunks')] : d.trunks.map((x) => h('p', {}, `${x.name}: ${t(`trunkState.${x.state}`, { defaultValue: x.state })}`)))),
      card(t('dashboard.ports'), ...(d.ports.length === 0 ? [t('dashboard.noPorts')] : d.ports.map((x) => h('p', {}, `${x.name.toUpperCase()}: ${t(`ports.state.${x.state}`, { defaultValue: x.state })}`)))),
      card(t('dashboard.storage'), d.storage ? t('dashboard.free', { free: bytes(d.storage.freeBytes), total: bytes(d.storage.totalBytes) }) : '—'),
      card(t('dashboard.version'), d.version),
    ),
  );
}

async function extensions(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  const { extensions: list } = await api<{ extensions: ExtensionView[] }>('GET', '/extensions');
  // ?features=101: that extension's call settings (forwarding, DND...) above the list.
  const editing = new URLSearchParams(location.search).get('features');
  if (editing !== null && list.some((e) => e.number === editing)) {
    view.append(h('h2', {}, t('features.ofExtension', { extension: editing })), await featuresForm(`/extensions/${encodeURIComponent(editing)}/features`, 'extension-features-form'));
  }
  view.append(
    table(
      [t('extensions.number'), t('extensions.name'), t('extensions.state'), t('extensions.directNumber'), t('extensions.international'), ''],
      list,
      (e) => [
        e.number,
        e.displayName,
        h('span', { class: e.registered ? 'state ok' : 'state off', 'data-extension-state': e.number }, e.registered ? t('extensions.registered') : t('extensions.notRegistered')),
        e.directNumber ?? '—',
        yes(e.international),
        h(
          'span',
          { class: 'buttons' },
          actionButton(t('features.edit'), async () => ctx.go(`/admin/extensions?features=${encodeURIComponent(e.number)}`)),
          actionButton(t('common.remove'), async () => {
            await api('DELETE', `/extensions/${encodeURIComponent(e.number)}`);
            ctx.refresh();
          }, t('extensions.confirmRemove', { number: e.number })),
        ),
      ],
      t('extensions.none'),
    ),
    h('h2', {}, t('extensions.add')),
    form(
      [
        field({ name: 'number', label: t('extensions.number') }),
        field({ name: 'displayName', label: t('extensions.name') }),
        field({ name: 'secret', label: t('extensions.secret'), type: 'password', autocomplete: 'new-password', help: t('extensions.secretHelp') }),
        field({ name: 'language', label: t('common.language'), type: 'select', options: languageOptions() }),
      ],
      t('common.add'),
      async (f) => {
        await api('POST', '/extensions', formValues(f));
        ctx.refresh();
      },
      { id: 'extension-form' },
    ),
  );
}

async function users(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type U = { id: number; username: string; displayName: string; role: string; extension: string | null; language: string };
  const { users: list } = await api<{ users: U[] }>('GET', '/users');
  view.append(
    table([t('users.username'), t('users.name'), t('users.role'), t('users.extension'), t('common.language'), ''], list, (u) => [
      u.username,
      u.displayName,
      t(`roles.${u.role}`),
      u.extension ?? '—',
      t(`languages.${u.language}`),
      u.id === ctx.user.id ? '' : actionButton(t('common.remove'), async () => {
        await api('DELETE', `/users/${u.id}`);
        ctx.refresh();
      }, t('users.confirmRemove', { name: u.username })),
    ], t('users.none')),
    h('h2', {}, t('users.add')),
    form(
      [
        field({ name: 'username', label: t('users.username') }),
        field({ name: 'displayName', label: t('users.name') }),
        field({ name: 'email', label: t('users.email'), type: 'email' }),
        field({ name: 'role', label: t('users.role'), type: 'select', options: [['user', t('roles.user')], ['admin', t('roles.admin')]] }),
        field({ name: 'extension', label: t('users.extension'), help: t('users.extensionHelp') }),
        field({ name: 'language', label: t('common.language'), type: 'select', options: languageOptions() }),
        field({ name: 'password', label: t('users.password'), type: 'password', autocomplete: 'new-password', help: t('users.passwordHelp') }),
      ],
      t('common.add'),
      async (f) => {
        const v = formValues(f);
        await api('POST', '/users', { ...v, email: v['email'] === '' ? null : v['email'], extension: v['extension'] === '' ? null : v['extension'] });
        ctx.refresh();
      },
      { id: 'user-form' },
    ),
  );
}

async function numbers(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type N = { number: string; national: string; destination: string; user: string | null; main: boolean; monthlyCents: number; reason: string };
  const [bill, options] = await Promise.all([api<{ numbers: N[]; monthlyCents: number }>('GET', '/numbers'), destinationOptions()]);
  const reasonKey: Record<string, string> = { 'included: first number of user': 'numbers.includedUser', 'included: main number': 'numbers.includedMain', 'additional number': 'numbers.additional' };
  view.append(
    h('p', { class: 'help' }, t('numbers.priceRule', { price: money(995) })),
    table([t('numbers.number'), t('numbers.destination'), t('numbers.price'), ''], bill.numbers, (n) => [
      `${n.national}${n.main ? ` (${t('numbers.main')})` : ''}`,
      h('span', { 'data-number-destination': n.number }, destinationLabel(n.destination, options)),
      h('span', { title: t(reasonKey[n.reason] ?? n.reason) }, `${money(n.monthlyCents)} — ${t(reasonKey[n.reason] ?? n.reason)}`),
      actionButton(t('common.remove'), async () => {
        await api('DELETE', `/numbers/${encodeURIComponent(n.number)}`);
        ctx.refresh();
      }, t('numbers.confirmRemove', { number: n.national })),
    ], t('numbers.none')),
    h('p', { id: 'numbers-total' }, t('numbers.total', { total: money(bill.monthlyCents) })),
    h('h2', {}, t('numbers.map')),
    h('p', { class: 'help' }, t('numbers.destinationHelp')),
    form(
      [field({ name: 'number', label: t('numbers.number'), type: 'tel' }), field({ name: 'destination', label: t('numbers.destination'), type: 'select', options: destinationChoices(options) })],
      t('numbers.save'),
      async (f) => {
        const v = formValues(f);
        const exists = bill.numbers.some((n) => n.national === v['number'] || n.number === v['number']);
        if (exists) await api('PATCH', `/numbers/${encodeURIComponent(String(v['number']))}`, { destination: v['destination'] });
        else await api('POST', '/numbers', { number: v['number'], destination: v['destination'] });
        ctx.refresh();
      },
      { id: 'number-form' },
    ),
  );
}

async function ringGroups(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type G = { name: string; extension: string | null; strategy: string; ringSeconds: number; members: Array<{ extension: string }>; noAnswer: string | null };
  const [{ ringGroups: list }, options] = await Promise.all([api<{ ringGroups: G[] }>('GET', '/ring-groups'), destinationOptions()]);
  view.append(
    table([t('ringGroups.name'), t('ringGroups.extension'), t('ringGroups.strategy'), t('ringGroups.members'), t('ringGroups.noAnswer'), ''], list, (g) => [
      g.name,
      g.extension ?? '—',
      t(`ringGroups.${g.strategy}`),
      g.members.map((m) => m.extension).join(', '),
      g.noAnswer === null ? '—' : destinationLabel(g.noAnswer, options),
      actionButton(t('common.remove'), async () => {
        await api('DELETE', `/ring-groups/${encodeURIComponent(g.name)}`);
        ctx.refresh();
      }, t('ringGroups.confirmRemove', { name: g.name })),
    ], t('ringGroups.none')),
    h('h2', {}, t('ringGroups.add')),
    form(
      [
        field({ name: 'name', label: t('ringGroups.name') }),
        field({ name: 'extension', label: t('ringGroups.extension') }),
        field({ name: 'strategy', label: t('ringGroups.strategy'), type: 'select', options: [['simultaneous', t('ringGroups.simultaneous')], ['sequential', t('ringGroups.sequential')]] }),
        field({ name: 'ringSeconds', label: t('ringGroups.ringSeconds'), type: 'number', value: '20' }),
        field({ name: 'members', label: t('ringGroups.members'), help: t('ringGroups.membersHelp') }),
        field({ name: 'noAnswer', label: t('ringGroups.noAnswer'), type: 'select', options: destinationChoices(options, t('ringGroups.nowhere')) }),
      ],
      t('common.save'),
      async (f) => {
        const v = formValues(f);
        const members = String(v['members'] ?? '').split(/[\s,]+/).filter((x) => x !== '').map((extension) => ({ extension }));
        await api('PUT', `/ring-groups/${encodeURIComponent(String(v['name']))}`, {
          extension: v['extension'] === '' ? null : v['extension'],
          strategy: v['strategy'],
          ringSeconds: Number(v['ringSeconds']),
          members,
          noAnswer: v['noAnswer'] === '' ? null : v['noAnswer'],
        });
        ctx.refresh();
      },
      { id: 'ring-group-form' },
    ),
  );
}

async function trunks(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type T = { name: string; host: string; port: number | null; transport: string; username: string | null; state: string; lastError: string | null };
  const { trunks: list } = await api<{ trunks: T[] }>('GET', '/trunks');
  view.append(
    table([t('trunks.name'), t('trunks.host'), t('trunks.kind'), t('trunks.state'), ''], list, (x) => [
      x.name,
      `${x.host}${x.port ? `:${x.port}` : ''} (${x.transport})`,
      x.username ? t('trunks.registration') : t('trunks.ipPeer'),
      `${t(`trunkState.${x.state}`, { defaultValue: x.state })}${x.lastError ? ` — ${x.lastError}` : ''}`,
      actionButton(t('common.remove'), async () => {
        await api('DELETE', `/trunks/${encodeURIComponent(x.name)}`);
        ctx.refresh();
      }, t('trunks.confirmRemove', { name: x.name })),
    ], t('trunks.none')),
    h('h2', {}, t('trunks.add')),
    form(
      [
        field({ name: 'name', label: t('trunks.name') }),
        field({ name: 'host', label: t('trunks.host') }),
        field({ name: 'port', label: t('trunks.port'), type: 'number' }),
        field({ name: 'transport', label: t('trunks.transport'), type: 'select', options: [['udp', 'UDP'], ['tcp', 'TCP'], ['tls', 'TLS']] }),
        field({ name: 'username', label: t('trunks.username'), help: t('trunks.usernameHelp') }),
        field({ name: 'secret', label: t('trunks.secret'), type: 'password', autocomplete: 'new-password' }),
      ],
      t('common.add'),
      async (f) => {
        const v = formValues(f);
        await api('POST', '/trunks', {
          name: v['name'],
          host: v['host'],
          port: v['port'] === '' ? null : Number(v['port']),
          transport: v['transport'],
          username: v['username'] === '' ? null : v['username'],
          secret: v['secret'] === '' ? null : v['secret'],
        });
        ctx.refresh();
      },
      { id: 'trunk-form' },
    ),
  );
}

export interface CallRow {
  callId: string;
  caller: string;
  callee: string;
  dialled: string | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  disposition: string | null;
}

export function callTable(calls: CallRow[]): HTMLElement {
  return table([t('calls.start'), t('calls.from'), t('calls.to'), t('calls.disposition'), t('calls.talk')], calls, (c) => [
    dateTime(c.startedAt),
    c.caller,
    c.dialled ?? c.callee,
    t(`disposition.${c.disposition ?? 'in-progress'}`, { defaultValue: c.disposition ?? '' }),
    c.answeredAt !== null && c.endedAt !== null ? seconds(Math.round((c.endedAt - c.answeredAt) / 1000)) : '—',
  ], t('calls.none'));
}

async function calls(view: HTMLElement): Promise<void> {
  const { calls: list } = await api<{ calls: CallRow[] }>('GET', '/calls');
  view.append(h('p', {}, h('a', { href: '/api/calls.csv', download: 'calls.csv', id: 'calls-csv' }, t('calls.export'))), callTable(list));
}

async function blocks(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type B = { source: string; extension: string; failures: number; reason: string; blockedUntil: number };
  const { blocks: list } = await api<{ blocks: B[] }>('GET', '/blocks');
  view.append(
    h('p', { class: 'help' }, t('blocks.explain')),
    table([t('blocks.source'), t('blocks.extension'), t('blocks.reason'), t('blocks.until'), ''], list, (b) => [
      b.source,
      b.extension === '*' ? t('blocks.every') : b.extension,
      b.reason,
      dateTime(b.blockedUntil),
      actionButton(t('blocks.lift'), async () => {
        await api('DELETE', `/blocks/${encodeURIComponent(b.source)}?extension=${encodeURIComponent(b.extension)}`);
        ctx.refresh();
      }),
    ], t('blocks.none')),
  );
}

async function backup(view: HTMLElement): Promise<void> {
  const f = form([], t('backup.download'), async (el) => {
    location.href = '/api/backup';
    notice(el, t('backup.started'));
  });
  view.append(h('p', {}, t('backup.explain')), f);
  await renderRestore(view);
}

export const ADMIN_PAGES: Page[] = [
  { path: '/admin', title: 'nav.dashboard', render: dashboard },
  { path: '/admin/extensions', title: 'nav.extensions', render: extensions },
  { path: '/admin/users', title: 'nav.users', render: users },
  { path: '/admin/numbers', title: 'nav.numbers', render: numbers },
  { path: '/admin/ring-groups', title: 'nav.ringGroups', render: ringGroups },
  { path: '/admin/trunks', title: 'nav.trunks', render: trunks },
  { path: '/admin/calls', title: 'nav.calls', render: calls },
  { path: '/admin/blocks', title: 'nav.blocks', render: blocks },
  { path: '/admin/backup', title: 'nav.backup', render: backup },
];
