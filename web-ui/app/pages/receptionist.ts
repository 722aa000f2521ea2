/**
 * The virtual receptionist's editor (settings, business hours, holidays, the keys of the business
 * and after-hours menus, greeting uploads) and the conference rooms (PINs, limits). What the box
 * stores is what `pbxctl receptionist` and `pbxctl conference` edit, with the same checks.
 */
import { api, upload } from '../api.js';
import { formValues, h, table } from '../dom.js';
import { language, t } from '../i18n.js';
import type { Page } from '../main.js';
import { actionButton, field, form, notice, uploadForm } from '../ui.js';
import { destinationChoices, destinationLabel, destinationOptions, languageOptions } from './admin.js';

type MenuName = 'business' | 'after-hours';
const MENUS: MenuName[] = ['business', 'after-hours'];
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'];
/** Monday first, as an office week is read; values are Date.getDay() numbers. */
const WEEK = [1, 2, 3, 4, 5, 6, 0];

interface Receptionist {
  name: string;
  extension: string | null;
  timezone: string;
  language: string;
  hours: Array<{ day: number; opens: string; closes: string }>;
  holidays: string[];
  menus: Record<MenuName, { options: Array<{ digit: string; target: string; label?: string }>; greeting: string | null }>;
  operator: string | null;
  timeoutSeconds: number;
  maxAttempts: number;
  menuNow: MenuName;
}

function dayName(day: number): string {
  // 2023-01-01 was a Sunday: day d is 2023-01-0(1+d).
  return new Intl.DateTimeFormat(language(), { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2023, 0, 1 + day)));
}

function timeZones(current: string): Array<[string, string]> {
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  const zones = all.includes(current) ? all : [current, ...all];
  return zones.map((z) => [z, z.replace(/_/g, ' ')]);
}

/** "09:00-12:00, 13:00-17:00" → spans; anything else is sent as written so the box names the field. */
function parseSpans(day: number, text: string): Receptionist['hours'] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const [opens = '', closes = ''] = s.split(/\s*[-–]\s*/);
      return { day, opens, closes };
    });
}

function menuFieldset(r: Receptionist, menu: MenuName, choices: Array<[string, string]>): HTMLElement {
  const byDigit = new Map(r.menus[menu].options.map((o) => [o.digit, o]));
  const actions: Array<[string, string]> = [
    ['', t('receptionist.keyUnused')],
    ['operator', t('receptionist.action.operator')],
    ['dial-by-extension', t('receptionist.action.dial-by-extension')],
    ['repeat', t('receptionist.action.repeat')],
  ];
  const labels: Array<[string, string]> = [['', t('receptionist.noLabel')], ...['sales', 'support', 'billing'].map((l): [string, string] => [l, t(`receptionist.label.${l}`)])];
  const rows = KEYS.map((digit) => {
    const option = byDigit.get(digit);
    const target = h('select', { name: `${menu}.${digit}.target`, 'aria-label': t('receptionist.keyTarget', { key: digit }) }, ...[...actions, ...choices].map(([v, l]) => h('option', { value: v, selected: (option?.target ?? '') === v }, l)));
    const label = h('select', { name: `${menu}.${digit}.label`, 'aria-label': t('receptionist.keyLabel', { key: digit }) }, ...labels.map(([v, l]) => h('option', { value: v, selected: (option?.label ?? '') === v }, l)));
    return h('div', { class: 'key-row' }, h('span', { class: 'key' }, digit), target, label);
  });
  return h('fieldset', { class: 'menu', 'data-field': `menus.${menu}` }, h('legend', {}, t(`receptionist.menu.${menu}`)), ...rows, h('span', { class: 'field-error', role: 'alert' }));
}

function greetingBlock(r: Receptionist, menu: MenuName, ctx: Parameters<Page['render']>[1]): HTMLElement {
  const base = `/receptionists/${encodeURIComponent(r.name)}/greetings/${menu}`;
  const greeting = r.menus[menu].greeting;
  const f = uploadForm({
    id: `greeting-form-${menu}`,
    class: 'greeting',
    accept: 'audio/wav,audio/x-wav,.wav',
    label: t('receptionist.greetingFile'),
    help: t('receptionist.greetingHelp'),
    button: t('receptionist.uploadGreeting'),
    before: [
      h('p', {}, greeting === null ? t('receptionist.defaultPrompts') : t('receptionist.ownGreeting')),
      ...(greeting === null ? [] : [h('audio', { controls: true, preload: 'none', src: `/api${base}?v=${Date.now()}` })]),
    ],
    send: async (file) => {
      await upload(base, file);
      ctx.refresh();
    },
  });
  if (greeting !== null) {
    f.append(' ', actionButton(t('receptionist.removeGreeting'), async () => {
      await api('DELETE', base);
      ctx.refresh();
    }));
  }
  return h('section', {}, h('h3', {}, t(`receptionist.greeting.${menu}`)), f);
}

async function editor(view: HTMLElement, ctx: Parameters<Page['render']>[1], r: Receptionist): Promise<void> {
  const options = await destinationOptions();
  const choices = destinationChoices(options).filter(([v]) => v !== `receptionist:${r.name}`);
  const hours = WEEK.map((day) =>
    field({
      name: `day.${day}`,
      label: dayName(day),
      value: r.hours.filter((x) => x.day === day).map((x) => `${x.opens}-${x.closes}`).join(', '),
    }),
  );
  const settings = form(
    [
      field({ name: 'extension', label: t('receptionist.extension'), value: r.extension ?? '', help: t('receptionist.extensionHelp') }),
      field({ name: 'language', label: t('common.language'), type: 'select', options: languageOptions(), value: r.language }),
      field({ name: 'timezone', label: t('receptionist.timezone'), type: 'select', options: timeZones(r.timezone), value: r.timezone }),
      field({ name: 'operator', label: t('receptionist.operator'), type: 'select', options: [['', t('receptionist.noOperator')], ...choices], value: r.operator ?? '' }),
      field({ name: 'timeoutSeconds', label: t('receptionist.timeout'), type: 'number', value: String(r.timeoutSeconds) }),
      field({ name: 'maxAttempts', label: t('receptionist.attempts'), type: 'number', value: String(r.maxAttempts) }),
      h('h3', {}, t('receptionist.hours')),
      h('p', { class: 'help' }, t('receptionist.hoursHelp')),
      h('div', { 'data-field': 'hours' }, h('span', { class: 'field-error', role: 'alert' }), ...hours),
      field({ name: 'holidays', label: t('receptionist.holidays'), value: r.holidays.join(', '), help: t('receptionist.holidaysHelp') }),
      h('h3', {}, t('receptionist.menus')),
      h('p', { class: 'help' }, t('receptionist.menusHelp')),
      ...MENUS.map((m) => menuFieldset(r, m, choices)),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      const text = (name: string): string => String(v[name] ?? '').trim();
      const menu = (m: MenuName) => ({
        options: KEYS.filter((d) => text(`${m}.${d}.target`) !== '').map((d) => ({ digit: d, target: text(`${m}.${d}.target`), ...(text(`${m}.${d}.label`) !== '' && { label: text(`${m}.${d}.label`) }) })),
      });
      await api('PUT', `/receptionists/${encodeURIComponent(r.name)}`, {
        extension: text('extension') === '' ? null : text('extension'),
        language: text('language'),
        timezone: text('timezone'),
        operator: text('operator') === '' ? null : text('operator'),
        timeoutSeconds: Number(text('timeoutSeconds')),
        maxAttempts: Number(text('maxAttempts')),
        hours: WEEK.flatMap((day) => parseSpans(day, text(`day.${day}`))),
        holidays: text('holidays').split(/[\s,;]+/).filter((x) => x !== ''),
        menus: { business: menu('business'), 'after-hours': menu('after-hours') },
      });
      notice(el, t('receptionist.saved'));
    },
    { id: 'receptionist-form', class: 'wide' },
  );
  view.append(
    h('p', {}, h('a', { href: '/admin/receptionists', onclick: (e: Event) => { e.preventDefault(); ctx.go('/admin/receptionists'); } }, `← ${t('receptionist.back')}`)),
    h('h2', {}, t('receptionist.editing', { name: r.name })),
    h('p', { class: 'help', id: 'menu-now' }, t('receptionist.now', { menu: t(`receptionist.menu.${r.menuNow}`) })),
    settings,
    h('h2', {}, t('receptionist.greetings')),
    ...MENUS.map((m) => greetingBlock(r, m, ctx)),
  );
}

async function receptionists(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  const { receptionists: list } = await api<{ receptionists: Receptionist[] }>('GET', '/receptionists');
  const editing = new URLSearchParams(location.search).get('name');
  const current = list.find((r) => r.name === editing);
  if (current !== undefined) {
    await editor(view, ctx, current);
    return;
  }
  const options = await destinationOptions();
  view.append(
    h('p', { class: 'help' }, t('receptionist.explain')),
    table([t('receptionist.name'), t('receptionist.extension'), t('receptionist.nowShort'), t('receptionist.keys'), ''], list, (r) => [
      r.name,
      r.extension ?? '—',
      t(`receptionist.menu.${r.menuNow}`),
      r.menus.business.options.map((o) => `${o.digit} → ${o.target.includes(':') ? destinationLabel(o.target, options) : t(`receptionist.action.${o.target}`)}`).join('; ') || '—',
      h(
        'span',
        { class: 'buttons' },
        actionButton(t('receptionist.edit'), async () => ctx.go(`/admin/receptionists?name=${encodeURIComponent(r.name)}`)),
        actionButton(t('common.remove'), async () => {
          await api('DELETE', `/receptionists/${encodeURIComponent(r.name)}`);
          ctx.refresh();
        }, t('receptionist.confirmRemove', { name: r.name })),
      ),
    ], t('receptionist.none')),
    h('h2', {}, t('receptionist.add')),
    form(
      [field({ name: 'name', label: t('receptionist.name'), help: t('receptionist.nameHelp') })],
      t('common.add'),
      async (el) => {
        const name = String(formValues(el)['name'] ?? '').trim();
        // A new receptionist starts as `pbxctl receptionist add` makes one: Monday to Friday 9 to 17, no keys.
        await api('PUT', `/receptionists/${encodeURIComponent(name)}`, {
          extension: null,
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          language: language(),
          hours: [1, 2, 3, 4, 5].map((day) => ({ day, opens: '09:00', closes: '17:00' })),
          holidays: [],
          menus: { business: { options: [] }, 'after-hours': { options: [] } },
          operator: null,
          timeoutSeconds: 5,
          maxAttempts: 3,
        });
        ctx.go(`/admin/receptionists?name=${encodeURIComponent(name)}`);
      },
      { id: 'receptionist-add-form' },
    ),
  );
}

async function conference(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  const { limits, rooms } = await api<{ limits: { maxRooms: number; maxParticipants: number }; rooms: Array<{ room: string }> }>('GET', '/conference');
  view.append(
    h('p', { class: 'help' }, t('conference.explain')),
    h('h2', {}, t('conference.limits')),
    form(
      [
        field({ name: 'maxRooms', label: t('conference.maxRooms'), type: 'number', value: String(limits.maxRooms), help: t('conference.maxRoomsHelp') }),
        field({ name: 'maxParticipants', label: t('conference.maxParticipants'), type: 'number', value: String(limits.maxParticipants), help: t('conference.maxParticipantsHelp') }),
      ],
      t('common.save'),
      async (el) => {
        const v = formValues(el);
        await api('PUT', '/conference/limits', { maxRooms: Number(v['maxRooms']), maxParticipants: Number(v['maxParticipants']) });
        notice(el, t('conference.saved'));
      },
      { id: 'conference-limits-form' },
    ),
    h('h2', {}, t('conference.pins')),
    table([t('conference.room'), t('conference.pin'), ''], rooms, (r) => [
      r.room,
      t('conference.pinSet'),
      actionButton(t('conference.removePin'), async () => {
        await api('PUT', `/conference/rooms/${r.room}`, { pin: null });
        ctx.refresh();
      }),
    ], t('conference.noPins')),
    form(
      [
        field({ name: 'room', label: t('conference.room'), type: 'tel', help: t('conference.roomHelp') }),
        field({ name: 'pin', label: t('conference.pin'), type: 'password', autocomplete: 'off', help: t('conference.pinHelp') }),
      ],
      t('conference.setPin'),
      async (el) => {
        const v = formValues(el);
        await api('PUT', `/conference/rooms/${encodeURIComponent(String(v['room']).trim())}`, { pin: String(v['pin']).trim() });
        ctx.refresh();
      },
      { id: 'conference-pin-form' },
    ),
  );
}

export const RECEPTION_PAGES: Page[] = [
  { path: '/admin/receptionists', title: 'nav.receptionists', render: receptionists },
  { path: '/admin/conference', title: 'nav.conference', render: conference },
];
