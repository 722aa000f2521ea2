/** Pieces every page uses: forms with translated field errors, notices, confirm-and-act buttons. */
import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, tMaybe } from './i18n.js';

export type FieldSpec =
  | { name: string; label: string; type?: 'text' | 'password' | 'email' | 'number' | 'tel' | 'date'; value?: string; required?: boolean; autocomplete?: string; help?: string }
  | { name: string; label: string; type: 'select'; options: Array<[value: string, label: string]>; value?: string; help?: string }
  | { name: string; label: string; type: 'checkbox'; checked?: boolean; help?: string };

export function field(spec: FieldSpec): HTMLElement {
  const id = `f-${spec.name.replace(/\W/g, '-')}`;
  let input: HTMLElement;
  if (spec.type === 'select') {
    input = h('select', { id, name: spec.name }, ...spec.options.map(([v, l]) => h('option', { value: v, selected: v === spec.value }, l)));
  } else if (spec.type === 'checkbox') {
    return h(
      'div',
      { class: 'field checkbox', 'data-field': spec.name },
      h('label', { for: id }, h('input', { id, name: spec.name, type: 'checkbox', checked: spec.checked === true }), ' ', spec.label),
      spec.help ? h('small', {}, spec.help) : null,
      h('span', { class: 'field-error', role: 'alert' }),
    );
  } else {
    input = h('input', {
      id,
      name: spec.name,
      type: spec.type ?? 'text',
      value: spec.value ?? '',
      required: spec.required === true,
      autocomplete: spec.autocomplete,
    });
  }
  return h(
    'div',
    { class: 'field', 'data-field': spec.name },
    h('label', { for: id }, spec.label),
    input,
    spec.help ? h('small', {}, spec.help) : null,
    h('span', { class: 'field-error', role: 'alert' }),
  );
}

/** A field error code (`required`, `too-short`...) in the user's language. */
export function fieldError(code: string): string {
  return tMaybe(`errors.field.${code}`) ?? t('errors.field.invalid');
}

/** An API error in the user's language: the code's translation, else the server's own words. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return tMaybe(`errors.${error.code}`) ?? error.message;
  return t('errors.network');
}

export function showErrors(form: HTMLFormElement, error: unknown): void {
  for (const el of Array.from(form.querySelectorAll('.field-error'))) el.textContent = '';
  const notice = form.querySelector('.form-notice');
  if (error instanceof ApiError) {
    for (const [name, code] of Object.entries(error.fields)) {
      // The field itself, else the nearest enclosing group (`menus.business.options.0.digit` → `menus.business`).
      const parts = name.split('.');
      let slot: Element | null = null;
      for (let n = parts.length; n > 0 && slot === null; n--) slot = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join('.'))}"] .field-error`);
      if (slot) slot.textContent = fieldError(code);
    }
  }
  if (notice) {
    notice.textContent = errorText(error);
    notice.className = 'form-notice error';
  }
}

export function notice(form: HTMLFormElement, text: string): void {
  const slot = form.querySelector('.form-notice');
  if (slot) {
    slot.textContent = text;
    slot.className = 'form-notice ok';
  }
}

/** A form whose submit runs `action`; errors land next to the fields, and in the notice line. */
export function form(fields: HTMLElement[], submitLabel: string, action: (form: HTMLFormElement) => Promise<void>, attrs: Record<string, string> = {}): HTMLFormElement {
  const el = h('form', { novalidate: true, ...attrs }, ...fields, h('p', { class: 'form-notice', role: 'status' }), h('button', { type: 'submit' }, submitLabel));
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = el.querySelector('button[type=submit]') as HTMLButtonElement | null;
    if (button) button.disabled = true;
    for (const slot of Array.from(el.querySelectorAll('.field-error'))) slot.textContent = '';
    action(el)
      .catch((error: unknown) => showErrors(el, error))
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
  return el;
}

export function actionButton(label: string, action: () => Promise<void>, confirmText?: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'small' }, label);
  button.addEventListener('click', () => {
    if (confirmText !== undefined && !window.confirm(confirmText)) return;
    button.disabled = true;
    action()
      .catch((error: unknown) => window.alert(errorText(error)))
      .finally(() => {
        button.disabled = false;
      });
  });
  return button;
}

export interface UploadFormOptions {
  /** the form's id; the file input is `${id}-file` */
  id: string;
  accept: string;
  label: string;
  button: string;
  /** a line under the picker (sizes, formats) */
  help?: string;
  /** shown above the picker (what is there now, a player) */
  before?: HTMLElement[];
  class?: string;
  send(file: File, form: HTMLFormElement): Promise<void>;
}

/** A file picker in a form: no file chosen is a field error, else `send` gets the file. */
export function uploadForm(o: UploadFormOptions): HTMLFormElement {
  const input = h('input', { type: 'file', name: 'file', id: `${o.id}-file`, accept: o.accept });
  return form(
    [
      ...(o.before ?? []),
      h('div', { class: 'field', 'data-field': 'file' }, h('label', { for: `${o.id}-file` }, o.label), input, ...(o.help === undefined ? [] : [h('small', {}, o.help)]), h('span', { class: 'field-error', role: 'alert' })),
    ],
    o.button,
    async (el) => {
      const file = input.files?.[0];
      if (file === undefined) {
        const slot = el.querySelector('[data-field="file"] .field-error');
        if (slot) slot.textContent = t('errors.field.required');
        return;
      }
      await o.send(file, el);
    },
    { id: o.id, ...(o.class !== undefined && { class: o.class }) },
  );
}
