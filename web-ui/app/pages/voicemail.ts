/**
 * Voicemail: the user's own box ("My voicemail": messages played in the page, downloaded, saved,
 * deleted; greetings; PIN and email) and the admin's list of every box (messages, enabled, PIN).
 * Playing a new message marks it saved (Asterisk moves a heard message to Old), and the phone's
 * message lamp follows: the box tells the pbx.
 */
import { api, upload } from '../api.js';
import { formValues, h, table } from '../dom.js';
import { dateTime, seconds, t } from '../i18n.js';
import type { Page, PageContext } from '../main.js';
import { actionButton, field, form, notice, uploadForm } from '../ui.js';
import { destinationChoices, destinationOptions } from './admin.js';

type Folder = 'new' | 'old';
interface Message {
  id: number;
  folder: Folder;
  caller: string;
  callerName: string;
  receivedAt: number;
  durationMs: number;
}
interface Counts {
  new: number;
  old: number;
}
interface BoxView {
  box: {
    extension: string;
    displayName: string;
    enabled: boolean;
    email: string | null;
    emailEnabled: boolean;
    emailTo: string | null;
    pinSet: boolean;
    emailDelete: boolean;
    maxMessages: number | null;
    maxMinutes: number | null;
    operator: string | null;
    greetings: Record<Kind, boolean>;
  };
  counts: Counts;
  messages: Message[];
}
type Kind = 'unavailable' | 'busy' | 'name';
const KINDS: Kind[] = ['unavailable', 'busy', 'name'];

const countsText = (c: Counts): string => t('voicemail.counts', { new: c.new, saved: c.old });
const folderText = (f: Folder): string => t(`voicemail.folder.${f}`);
const caller = (m: Message): string => (m.callerName !== '' && m.callerName !== m.caller ? `${m.callerName} (${m.caller})` : m.caller || t('voicemail.unknownCaller'));

function messagesTable(base: string, data: BoxView, ctx: PageContext): HTMLElement {
  const summary = h('p', { id: 'vm-counts' }, countsText(data.counts));
  const rows = data.messages.map((m) => {
    let folder = m.folder;
    const state = h('span', { class: folder === 'new' ? 'state ok' : 'state off', 'data-message-folder': String(m.id) }, folderText(folder));
    const toggle = h('button', { type: 'button', class: 'small', 'data-message-toggle': String(m.id) }, folder === 'new' ? t('voicemail.markSaved') : t('voicemail.markNew'));
    const show = (next: Folder, counts: Counts): void => {
      folder = next;
      state.textContent = folderText(next);
      state.className = next === 'new' ? 'state ok' : 'state off';
      toggle.textContent = next === 'new' ? t('voicemail.markSaved') : t('voicemail.markNew');
      summary.textContent = countsText(counts);
    };
    const move = async (next: Folder): Promise<void> => {
      const answer = await api<{ counts: Counts }>('PATCH', `${base}/messages/${m.id}`, { folder: next });
      show(next, answer.counts);
    };
    toggle.addEventListener('click', () => void move(folder === 'new' ? 'old' : 'new').catch(() => window.alert(t('errors.network'))));
    const src = `/api${base}/messages/${m.id}/audio`;
    const audio = h('audio', { controls: true, preload: 'none', src, 'data-message-audio': String(m.id), 'aria-label': t('voicemail.play') });
    // Heard is saved: the first play moves a new message to the saved ones (the row stays, the lamp follows).
    audio.addEventListener('play', () => {
      if (folder === 'new') void move('old').catch(() => undefined);
    });
    return { m, cells: [state, caller(m), dateTime(m.receivedAt), seconds(Math.round(m.durationMs / 100) / 10), audio, h('span', { class: 'buttons' },
      h('a', { href: `${src}?download=1`, download: `voicemail-${m.id}.wav` }, t('voicemail.download')),
      toggle,
      actionButton(t('voicemail.delete'), async () => {
        await api('DELETE', `${base}/messages/${m.id}`);
        ctx.refresh();
      }, t('voicemail.confirmDelete')),
    )] };
  });
  return h(
    'section',
    { id: 'vm-messages', class: 'stacked' },
    summary,
    table([t('voicemail.status'), t('voicemail.from'), t('voicemail.received'), t('voicemail.duration'), t('voicemail.listen'), ''], rows, (r) => r.cells, t('voicemail.none')),
  );
}

function greetings(base: string, data: BoxView, ctx: PageContext): HTMLElement {
  const blocks = KINDS.map((kind) => {
    const url = `${base}/greetings/${kind}`;
    const has = data.box.greetings[kind];
    const f = uploadForm({
      id: `vm-greeting-form-${kind}`,
      class: 'greeting',
      accept: 'audio/wav,audio/x-wav,.wav',
      label: t('voicemail.greetingFile'),
      help: t('voicemail.greetingHelp'),
      button: t('voicemail.uploadGreeting'),
      before: [
        h('p', {}, has ? t('voicemail.ownGreeting') : t(`voicemail.defaultGreeting.${kind}`)),
        ...(has ? [h('audio', { controls: true, preload: 'none', src: `/api${url}?v=${Date.now()}` })] : []),
      ],
      send: async (file) => {
        await upload(url, file);
        ctx.refresh();
      },
    });
    if (has) {
      f.append(' ', actionButton(t('voicemail.removeGreeting'), async () => {
        await api('DELETE', url);
        ctx.refresh();
      }));
    }
    return h('section', {}, h('h3', {}, t(`voicemail.greeting.${kind}`)), f);
  });
  return h('section', { id: 'vm-greetings' }, h('h2', {}, t('voicemail.greetings')), h('p', { class: 'help' }, t('voicemail.greetingsExplain')), ...blocks);
}

/** Where `0` may take a caller: extensions, ring groups, receptionists (the admin's pickers). */
async function operatorChoices(none: string): Promise<Array<[string, string]>> {
  const options = await destinationOptions();
  return destinationChoices(options.filter((o) => /^(extension|ring-group|receptionist):/.test(o.value)), none);
}

/** A number field's value: empty is null (the appliance's default), else the number as typed (the box names a bad one). */
const limit = (text: string): number | null => (text.trim() === '' ? null : Number(text.trim()));

async function settings(base: string, data: BoxView, admin: boolean): Promise<HTMLElement> {
  const b = data.box;
  const operators = admin ? await operatorChoices(t('voicemail.commonOperator')) : [];
  const f = form(
    [
      h('p', { class: 'help' }, b.pinSet ? t('voicemail.pinIsSet') : t('voicemail.pinNotSet')),
      field({ name: 'pin', label: t('voicemail.newPin'), type: 'password', autocomplete: 'new-password', help: t('voicemail.pinHelp') }),
      field({ name: 'emailEnabled', label: t('voicemail.emailEnabled'), type: 'checkbox', checked: b.emailEnabled }),
      field({ name: 'email', label: t('voicemail.email'), type: 'email', value: b.email ?? '', help: t('voicemail.emailHelp') }),
      ...(admin
        ? [
            field({ name: 'enabled', label: t('voicemail.boxEnabled'), type: 'checkbox', checked: b.enabled, help: t('voicemail.boxEnabledHelp') }),
            field({ name: 'emailDelete', label: t('voicemail.emailDelete'), type: 'checkbox', checked: b.emailDelete }),
            field({ name: 'maxMessages', label: t('voicemail.maxMessages'), type: 'number', value: b.maxMessages === null ? '' : String(b.maxMessages), help: t('voicemail.defaultHelp') }),
            field({ name: 'maxMinutes', label: t('voicemail.maxMinutes'), type: 'number', value: b.maxMinutes === null ? '' : String(b.maxMinutes), help: t('voicemail.defaultHelp') }),
            field({ name: 'operator', label: t('voicemail.operator'), type: 'select', options: operators, value: b.operator ?? '' }),
          ]
        : []),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      const pin = String(v['pin'] ?? '').trim();
      const email = String(v['email'] ?? '').trim();
      await api('PUT', `${base}/settings`, {
        ...(pin !== '' && { pin }),
        email: email === '' ? null : email,
        emailEnabled: v['emailEnabled'] === true,
        ...(admin && {
          enabled: v['enabled'] === true,
          emailDelete: v['emailDelete'] === true,
          maxMessages: limit(String(v['maxMessages'] ?? '')),
          maxMinutes: limit(String(v['maxMinutes'] ?? '')),
          operator: String(v['operator'] ?? '') === '' ? null : String(v['operator']),
        }),
      });
      (el.querySelector('input[name="pin"]') as HTMLInputElement).value = '';
      notice(el, t('voicemail.saved'));
    },
    { id: 'vm-settings-form' },
  );
  return h('section', {}, h('h2', {}, t('voicemail.settings')), f);
}

/** One box: messages, greetings, settings (the user's own, or any for the admin). */
async function renderBox(view: HTMLElement, ctx: PageContext, base: string, admin: boolean): Promise<void> {
  const data = await api<BoxView>('GET', base);
  if (!data.box.enabled) view.append(h('p', { class: 'warn', id: 'vm-disabled' }, t('voicemail.disabled')));
  view.append(
    h('p', { class: 'help' }, t('voicemail.explain', { extension: data.box.extension })),
    messagesTable(base, data, ctx),
    greetings(base, data, ctx),
    await settings(base, data, admin),
  );
}

async function myVoicemail(view: HTMLElement, ctx: PageContext): Promise<void> {
  if (ctx.user.extension === null) {
    view.append(h('p', { class: 'empty' }, t('voicemail.noExtension')));
    return;
  }
  await renderBox(view, ctx, '/me/voicemail', false);
}

interface BoxRow {
  extension: string;
  displayName: string;
  enabled: boolean;
  emailEnabled: boolean;
  emailTo: string | null;
  pinSet: boolean;
  counts: Counts;
}

async function allBoxes(view: HTMLElement, ctx: PageContext): Promise<void> {
  const open = new URLSearchParams(location.search).get('box');
  if (open !== null && /^\d{2,6}$/.test(open)) {
    view.append(
      h('p', {}, h('a', { href: '/admin/voicemail', onclick: (e: Event) => { e.preventDefault(); ctx.go('/admin/voicemail'); } }, `← ${t('voicemail.back')}`)),
      h('h2', {}, t('voicemail.boxOf', { extension: open })),
    );
    await renderBox(view, ctx, `/voicemail/boxes/${open}`, true);
    return;
  }
  const { boxes } = await api<{ boxes: BoxRow[] }>('GET', '/voicemail/boxes');
  const pinForm = form(
    [
      field({ name: 'extension', label: t('voicemail.extension'), type: 'select', options: boxes.map((b): [string, string] => [b.extension, `${b.extension} — ${b.displayName}`]) }),
      field({ name: 'pin', label: t('voicemail.newPin'), type: 'password', autocomplete: 'new-password', help: t('voicemail.resetPinHelp') }),
    ],
    t('voicemail.resetPin'),
    async (el) => {
      const v = formValues(el);
      await api('PUT', `/voicemail/boxes/${encodeURIComponent(String(v['extension']))}/settings`, { pin: String(v['pin'] ?? '').trim() });
      ctx.refresh();
    },
    { id: 'vm-pin-form' },
  );
  const list = h('div', { id: 'vm-boxes' });
  list.append(
    table([t('voicemail.extension'), t('voicemail.name'), t('voicemail.state'), t('voicemail.new'), t('voicemail.savedCount'), t('voicemail.pin'), t('voicemail.email'), ''], boxes, (b) => [
      b.extension,
      b.displayName,
      h('span', { class: b.enabled ? 'state ok' : 'state off', 'data-box-state': b.extension }, b.enabled ? t('voicemail.on') : t('voicemail.off')),
      String(b.counts.new),
      String(b.counts.old),
      b.pinSet ? t('voicemail.pinSet') : '—',
      b.emailTo === null ? '—' : b.emailEnabled ? b.emailTo : `${b.emailTo} (${t('voicemail.emailOff')})`,
      h(
        'span',
        { class: 'buttons' },
        actionButton(t('voicemail.open'), async () => ctx.go(`/admin/voicemail?box=${b.extension}`)),
        actionButton(b.enabled ? t('voicemail.disable') : t('voicemail.enable'), async () => {
          await api('PUT', `/voicemail/boxes/${b.extension}/settings`, { enabled: !b.enabled });
          ctx.refresh();
        }),
      ),
    ], t('voicemail.noBoxes')),
  );
  view.append(h('p', { class: 'help' }, t('voicemail.adminExplain')), list, h('h2', {}, t('voicemail.resetPin')), pinForm, await applianceForm());
}

interface ApplianceSettings {
  minSeconds: number;
  maxMessageSeconds: number;
  maxMessages: number;
  maxMinutes: number;
  retentionDays: number;
  emailFormat: 'wav' | 'mp3';
  maxPinAttempts: number;
  operator: string | null;
}

/** The settings of every box (`pbxctl voicemail settings`). */
async function applianceForm(): Promise<HTMLElement> {
  const [{ settings: s }, operators] = await Promise.all([api<{ settings: ApplianceSettings }>('GET', '/voicemail/settings'), operatorChoices(t('voicemail.noOperator'))]);
  const num = (name: keyof ApplianceSettings, help?: string) => field({ name, label: t(`voicemail.setting.${name}`), type: 'number', value: String(s[name]), ...(help !== undefined && { help }) });
  const f = form(
    [
      num('minSeconds', t('voicemail.setting.minSecondsHelp')),
      num('maxMessageSeconds'),
      num('maxMessages'),
      num('maxMinutes'),
      num('retentionDays', t('voicemail.setting.retentionDaysHelp')),
      field({ name: 'emailFormat', label: t('voicemail.setting.emailFormat'), type: 'select', options: [['wav', 'WAV'], ['mp3', 'MP3']], value: s.emailFormat }),
      num('maxPinAttempts'),
      field({ name: 'operator', label: t('voicemail.operator'), type: 'select', options: operators, value: s.operator ?? '' }),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      const n = (name: string): number => Number(String(v[name] ?? '').trim());
      await api('PUT', '/voicemail/settings', {
        minSeconds: n('minSeconds'),
        maxMessageSeconds: n('maxMessageSeconds'),
        maxMessages: n('maxMessages'),
        maxMinutes: n('maxMinutes'),
        retentionDays: n('retentionDays'),
        emailFormat: String(v['emailFormat']),
        maxPinAttempts: n('maxPinAttempts'),
        operator: String(v['operator'] ?? '') === '' ? null : String(v['operator']),
      });
      notice(el, t('voicemail.saved'));
    },
    { id: 'vm-appliance-form' },
  );
  return h('section', {}, h('h2', {}, t('voicemail.setting.title')), f);
}

export const VOICEMAIL_USER_PAGES: Page[] = [{ path: '/me/voicemail', title: 'voicemail.myTitle', render: myVoicemail }];
export const VOICEMAIL_ADMIN_PAGES: Page[] = [{ path: '/admin/voicemail', title: 'voicemail.adminTitle', render: allBoxes }];
