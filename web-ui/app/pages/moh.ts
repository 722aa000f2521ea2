/**
 * Music on hold and transfer music: the classes (each a playlist of uploaded audio files, converted
 * by the box to what phones play) with preview players, upload (a new class, its music replaced, or
 * a file added to its playlist), and remove (a file, or the class); which class the whole box,
 * an extension, a ring group or a number plays to held callers; whether callers being transferred
 * hear that music or ringback, and the recall time. What the box stores is what `pbxctl moh` edits.
 */
import { api, ApiError, upload } from '../api.js';
import { formValues, h, table } from '../dom.js';
import { language, t, tMaybe } from '../i18n.js';
import type { Page, PageContext } from '../main.js';
import { actionButton, errorText, field, form, notice } from '../ui.js';

interface MohFile {
  file: string;
  source: string;
  seconds: number;
  createdAt: string;
}

interface MohClass {
  name: string;
  seconds: number;
  createdAt: string;
  builtIn: boolean;
  usedBy: string[];
  /** the playlist, in playing order */
  files: MohFile[];
}

interface MohState {
  classes: MohClass[];
  defaultClass: string;
  choices: Array<{ owner: string; className: string }>;
  transfer: { music: boolean; recallSeconds: number };
  limits: { maxBytes: number; maxSeconds: number; maxClassSeconds: number };
  targets: {
    extensions: Array<{ number: string; name: string }>;
    ringGroups: Array<{ name: string; extension: string }>;
    numbers: Array<{ number: string; national: string }>;
  };
}

const duration = (seconds: number): string => {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

const megabytes = (bytes: number): string => new Intl.NumberFormat(language(), { maximumFractionDigits: 0 }).format(bytes / 1024 / 1024);

/** `extension:101` → "Extension 101 (Alice)" in the user's language. */
function ownerLabel(owner: string, state: MohState): string {
  if (owner === 'default') return t('moh.wholeBox');
  const [kind = '', ...rest] = owner.split(':');
  const id = rest.join(':');
  if (kind === 'extension') {
    const name = state.targets.extensions.find((e) => e.number === id)?.name;
    return t('moh.owner.extension', { id: name === undefined ? id : `${id} (${name})` });
  }
  if (kind === 'number') return t('moh.owner.number', { id: state.targets.numbers.find((n) => n.number === id)?.national ?? id });
  if (kind === 'ring-group') return t('moh.owner.ring-group', { id });
  return owner;
}

/** An error of this page in the user's language: the page's own codes first, then the common ones. */
function mohError(error: unknown): string {
  if (error instanceof ApiError) {
    const own = tMaybe(`moh.errors.${error.code}`);
    if (own !== null) return own;
  }
  return errorText(error);
}

function setFieldError(el: HTMLElement, name: string, text: string): void {
  const slot = el.querySelector(`[data-field="${name}"] .field-error`);
  if (slot) slot.textContent = text;
}

/** The form's notice line says what went wrong (the field errors are set by the caller). */
function failed(el: HTMLElement, error: unknown): void {
  const slot = el.querySelector('.form-notice');
  if (slot) {
    slot.textContent = mohError(error);
    slot.className = 'form-notice error';
  }
}

/** One file of a class's playlist: its name, length, a player, and remove (the last one removes the class). */
function fileItem(c: MohClass, f: MohFile, ctx: PageContext): HTMLElement {
  const base = `/moh/classes/${encodeURIComponent(c.name)}/files/${encodeURIComponent(f.file)}`;
  return h(
    'li',
    { 'data-moh-file': f.source },
    `${f.source} (${duration(f.seconds)}) `,
    c.files.length > 1 ? h('audio', { controls: true, preload: 'none', src: `/api${base}/audio?v=${encodeURIComponent(f.createdAt)}` }) : '',
    c.files.length > 1
      ? actionButton(t('moh.removeFile'), async () => {
          try {
            await api('DELETE', base);
          } catch (error) {
            window.alert(mohError(error));
            return;
          }
          ctx.refresh();
        }, t('moh.confirmRemoveFile', { file: f.source, name: c.name }))
      : '',
  );
}

function classesTable(state: MohState, ctx: PageContext): HTMLElement {
  return table(
    [t('moh.class'), t('moh.length'), t('moh.files'), t('moh.usedBy'), t('moh.listen'), ''],
    state.classes,
    (c) => [
      h('strong', {}, c.name),
      duration(c.seconds),
      c.builtIn ? t('moh.builtIn') : h('ol', { class: 'playlist' }, ...c.files.map((f) => fileItem(c, f, ctx))),
      [...(c.name === state.defaultClass ? ['default'] : []), ...c.usedBy.filter((o) => o !== 'default')].map((o) => ownerLabel(o, state)).join(', ') || '—',
      h('audio', { controls: true, preload: 'none', 'data-moh-preview': c.name, src: `/api/moh/classes/${encodeURIComponent(c.name)}/audio?v=${encodeURIComponent(c.files.map((f) => f.createdAt).join(',') || 'built-in')}` }),
      c.builtIn
        ? ''
        : actionButton(t('common.remove'), async () => {
            try {
              await api('DELETE', `/moh/classes/${encodeURIComponent(c.name)}`);
            } catch (error) {
              window.alert(mohError(error));
              return;
            }
            ctx.refresh();
          }, t('moh.confirmRemove', { name: c.name })),
    ],
    t('moh.none'),
  );
}

function uploadForm(state: MohState, ctx: PageContext): HTMLFormElement {
  const input = h('input', { type: 'file', id: 'moh-file', name: 'file', accept: 'audio/*,.wav,.mp3,.ogg,.flac' });
  const f = form(
    [
      field({ name: 'name', label: t('moh.className'), help: t('moh.classNameHelp') }),
      h('div', { class: 'field', 'data-field': 'file' }, h('label', { for: 'moh-file' }, t('moh.file')), input, h('small', {}, t('moh.fileHelp', { minutes: Math.round(state.limits.maxSeconds / 60), megabytes: megabytes(state.limits.maxBytes) })), h('span', { class: 'field-error', role: 'alert' })),
      // Not named `append`: a form control's name shadows the form element's own append().
      field({ name: 'addToPlaylist', label: t('moh.append'), type: 'checkbox', help: t('moh.appendHelp', { minutes: Math.round(state.limits.maxClassSeconds / 60) }) }),
    ],
    t('moh.upload'),
    async (el) => {
      const values = formValues(el);
      const name = String(values['name'] ?? '').trim();
      const file = input.files?.[0];
      if (name === '') setFieldError(el, 'name', t('errors.field.required'));
      if (file === undefined) setFieldError(el, 'file', t('errors.field.required'));
      if (name === '' || file === undefined) return;
      try {
        await upload(`/moh/classes/${encodeURIComponent(name)}${values['addToPlaylist'] === true ? '?append=1' : ''}`, file);
      } catch (error) {
        const badName = error instanceof ApiError && error.code === 'invalid';
        setFieldError(el, badName ? 'name' : 'file', badName ? t('moh.errors.class-name') : mohError(error));
        failed(el, error);
        return;
      }
      ctx.refresh();
    },
    { id: 'moh-upload-form' },
  );
  return f;
}

function classOptions(state: MohState, none?: string): Array<[string, string]> {
  const named = state.classes.map((c): [string, string] => [c.name, c.builtIn ? `${c.name} (${t('moh.builtIn')})` : c.name]);
  return none === undefined ? named : [['', none], ...named];
}

function choiceForms(state: MohState, ctx: PageContext): HTMLElement[] {
  const boxDefault = form(
    [field({ name: 'className', label: t('moh.boxDefault'), type: 'select', options: classOptions(state), value: state.defaultClass, help: t('moh.boxDefaultHelp') })],
    t('common.save'),
    async (el) => {
      const chosen = String(formValues(el)['className']);
      // The class named default is what the box plays anyway: no rule needed for it.
      await api('PUT', '/moh/choices', { target: 'default', className: chosen === 'default' ? null : chosen });
      ctx.refresh();
    },
    { id: 'moh-default-form' },
  );
  const targets: Array<[string, string]> = [
    ...state.targets.extensions.map((e): [string, string] => [`extension:${e.number}`, ownerLabel(`extension:${e.number}`, state)]),
    ...state.targets.ringGroups.map((g): [string, string] => [`ring-group:${g.name}`, ownerLabel(`ring-group:${g.name}`, state)]),
    ...state.targets.numbers.map((n): [string, string] => [`number:${n.number}`, ownerLabel(`number:${n.number}`, state)]),
  ];
  const choose = form(
    [
      field({ name: 'target', label: t('moh.for'), type: 'select', options: targets }),
      field({ name: 'className', label: t('moh.class'), type: 'select', options: classOptions(state) }),
    ],
    t('moh.assign'),
    async (el) => {
      const v = formValues(el);
      await api('PUT', '/moh/choices', { target: String(v['target']), className: String(v['className']) });
      ctx.refresh();
    },
    { id: 'moh-choice-form' },
  );
  const rules = state.choices.filter((c) => c.owner !== 'default');
  return [
    h('h2', {}, t('moh.whoHears')),
    h('p', { class: 'help' }, t('moh.order')),
    boxDefault,
    table([t('moh.for'), t('moh.class'), ''], rules, (c) => [
      h('span', { 'data-moh-owner': c.owner }, ownerLabel(c.owner, state)),
      c.className,
      actionButton(t('moh.unassign'), async () => {
        await api('PUT', '/moh/choices', { target: c.owner, className: null });
        ctx.refresh();
      }),
    ], t('moh.noRules')),
    targets.length === 0 ? h('p', { class: 'empty' }, t('moh.noTargets')) : choose,
  ];
}

function transferForm(state: MohState): HTMLFormElement {
  return form(
    [
      field({ name: 'music', label: t('moh.transferMusic'), type: 'checkbox', checked: state.transfer.music, help: t('moh.transferMusicHelp') }),
      field({ name: 'recallSeconds', label: t('moh.recall'), type: 'number', value: String(state.transfer.recallSeconds), help: t('moh.recallHelp') }),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      try {
        await api('PUT', '/moh/transfer', { music: v['music'] === true, recallSeconds: Number(v['recallSeconds']) });
      } catch (error) {
        if (error instanceof ApiError && error.fields['recallSeconds'] !== undefined) setFieldError(el, 'recallSeconds', t('moh.errors.recall-range'));
        failed(el, error);
        return;
      }
      notice(el, t('moh.saved'));
    },
    { id: 'moh-transfer-form' },
  );
}

async function musicOnHold(view: HTMLElement, ctx: PageContext): Promise<void> {
  const state = await api<MohState>('GET', '/moh');
  view.append(
    h('p', { class: 'help' }, t('moh.explain')),
    h('h2', {}, t('moh.classes')),
    classesTable(state, ctx),
    h('h3', {}, t('moh.add')),
    uploadForm(state, ctx),
    ...choiceForms(state, ctx),
    h('h2', {}, t('moh.transfer')),
    transferForm(state),
  );
}

export const MOH_PAGE: Page = { path: '/admin/moh', title: 'moh.title', render: musicOnHold };
