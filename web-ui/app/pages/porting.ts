/**
 * Add-Ons → Number Porting, as the seed guides walk through it: the instructions, "Start Number
 * Porting", the request form, the pre-check (what carriers reject, said in the user's language),
 * the signed submission, and each request's status timeline.
 */
import { api, ApiError } from '../api.js';
import { clear, formValues, h } from '../dom.js';
import { date, dateTime, t } from '../i18n.js';
import type { Page } from '../main.js';
import { errorText, field, fieldError, showErrors } from '../ui.js';

interface Finding {
  code: string;
  severity: 'block' | 'warn';
  field: string | null;
  params: Record<string, string>;
}
interface Check {
  ok: boolean;
  findings: Finding[];
}
interface Request {
  id: number;
  status: string;
  focDate: string | null;
  reason: string | null;
  createdAt: string;
  body: { numbers: string[]; provider: string };
  events: Array<{ status: string; date: string | null; reason: string | null; at: string }>;
}
interface Config {
  areas: Array<{ name: string; prefixes: string[] }>;
  boxNumbers: Array<{ number: string; national: string }>;
  timeline: string[];
}

function timeline(request: Request, steps: string[]): HTMLElement {
  const reached = new Map(request.events.map((e) => [e.status, e]));
  const items = steps.map((step) => {
    const event = reached.get(step);
    const detail = step === 'foc' && request.focDate ? ` — ${date(request.focDate)}` : '';
    return h('li', { class: event ? 'done' : 'todo', 'data-step': step }, t(`porting.status.${step}`), detail, event ? h('small', {}, ` ${dateTime(event.at)}`) : '');
  });
  if (request.status === 'rejected') items.push(h('li', { class: 'rejected', 'data-step': 'rejected' }, t('porting.status.rejected'), request.reason ? ` — ${request.reason}` : ''));
  return h('ol', { class: 'timeline', 'data-request': request.id }, ...items);
}

function findingsList(check: Check): HTMLElement {
  return h(
    'ul',
    { class: 'findings', id: 'precheck-findings' },
    ...check.findings.map((f) => h('li', { class: f.severity, 'data-code': f.code }, t(`porting.check.${f.code}`, f.params))),
  );
}

function readForm(form: HTMLFormElement): Record<string, unknown> {
  const v = formValues(form);
  const numbers = Array.from(form.querySelectorAll<HTMLInputElement>('input[name^="number-"]')).map((i) => i.value).filter((x) => x.trim() !== '');
  return {
    numberType: v['numberType'],
    provider: v['provider'],
    accountNumber: v['accountNumber'],
    accountPin: v['accountPin'] === '' ? null : v['accountPin'],
    connection: v['connection'],
    numbers,
    serviceAddress: { street: v['street'], postalCode: v['postalCode'], city: v['city'] },
    holderFirstName: v['holderFirstName'],
    holderLastName: v['holderLastName'],
    primaryNumber: v['primaryNumber'],
    keepTemporary: v['keepTemporary'] === true,
    termsAccepted: v['termsAccepted'] === true,
    signature: v['signature'],
  };
}

function requestForm(config: Config, done: () => void): HTMLElement {
  const numbersBox = h('div', { class: 'numbers' });
  const addNumber = (): void => {
    const i = numbersBox.children.length;
    numbersBox.append(field({ name: `number-${i}`, label: i === 0 ? t('porting.form.mainNumber') : t('porting.form.moreNumber', { n: i + 1 }), type: 'tel' }));
  };
  addNumber();
  const result = h('div', { id: 'precheck-result' });
  const dslNote = h('p', { class: 'warn', id: 'dsl-note', hidden: true }, t('porting.form.dslBlocked'));
  const connection = field({
    name: 'connection',
    label: t('porting.form.connection'),
    type: 'select',
    options: [['', '—'], ...['dsl-same-line', 'dsl-dry-loop', 'cable', 'fiber', 'mobile', 'satellite', 'other'].map((c): [string, string] => [c, t(`porting.connection.${c}`)])],
  });
  const form = h(
    'form',
    { id: 'porting-form', novalidate: true },
    h('h2', {}, t('porting.form.account')),
    field({ name: 'numberType', label: t('porting.form.numberType'), type: 'select', options: [['landline', t('porting.form.landline')], ['mobile', t('porting.form.mobile')]] }),
    field({ name: 'provider', label: t('porting.form.provider') }),
    field({ name: 'accountNumber', label: t('porting.form.accountNumber'), help: t('porting.form.asOnBill') }),
    field({ name: 'accountPin', label: t('porting.form.accountPin') }),
    connection,
    dslNote,
    h('h2', {}, t('porting.form.numbers')),
    h('p', { class: 'help' }, t('porting.form.areas', { areas: config.areas.map((a) => a.name).join(', ') })),
    numbersBox,
    h('button', { type: 'button', class: 'small', id: 'add-number', onclick: addNumber }, t('porting.form.addNumber')),
    h('h2', {}, t('porting.form.holder')),
    h('p', { class: 'help' }, t('porting.form.asOnBill')),
    field({ name: 'holderFirstName', label: t('porting.form.firstName') }),
    field({ name: 'holderLastName', label: t('porting.form.lastName') }),
    field({ name: 'street', label: t('porting.form.street') }),
    field({ name: 'postalCode', label: t('porting.form.postalCode') }),
    field({ name: 'city', label: t('porting.form.city') }),
    h('h2', {}, t('porting.form.onThisBox')),
    field({ name: 'primaryNumber', label: t('porting.form.primaryNumber'), type: 'select', options: config.boxNumbers.map((n): [string, string] => [n.number, n.national]) }),
    field({ name: 'keepTemporary', label: t('porting.form.keepTemporary'), type: 'checkbox' }),
    h('h2', {}, t('porting.form.terms')),
    h('p', { class: 'terms' }, t('porting.form.termsText')),
    field({ name: 'termsAccepted', label: t('porting.form.accept'), type: 'checkbox' }),
    field({ name: 'signature', label: t('porting.form.signature'), help: t('porting.form.signatureHelp') }),
    h('p', { class: 'form-notice', role: 'status' }),
    h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'precheck' }, t('porting.form.precheck')), h('button', { type: 'submit', id: 'submit-porting' }, t('porting.form.submit'))),
    result,
  );
  const select = connection.querySelector('select') as HTMLSelectElement;
  select.addEventListener('change', () => {
    dslNote.hidden = select.value !== 'dsl-same-line';
  });
  const show = (check: Check): void => {
    clear(result);
    result.append(h('h3', {}, check.ok ? t('porting.form.checkOk') : t('porting.form.checkFix')), findingsList(check));
    for (const f of check.findings) {
      if (f.field === null || f.severity !== 'block') continue;
      const name = f.field.startsWith('numbers.') ? `number-${f.field.slice(8)}` : f.field.replace('serviceAddress.', '');
      const slot = form.querySelector(`[data-field="${CSS.escape(name)}"] .field-error`);
      if (slot && slot.textContent === '') slot.textContent = t(`porting.check.${f.code}`, f.params);
    }
  };
  const run = async (submit: boolean): Promise<void> => {
    for (const slot of Array.from(form.querySelectorAll('.field-error'))) slot.textContent = '';
    const notice = form.querySelector('.form-notice') as HTMLElement;
    notice.textContent = '';
    try {
      if (!submit) {
        show(await api<Check>('POST', '/porting/precheck', readForm(form)));
        return;
      }
      const created = await api<{ request: Request; check: Check }>('POST', '/porting', readForm(form));
      notice.textContent = t('porting.form.submitted', { id: created.request.id });
      notice.className = 'form-notice ok';
      done();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'precheck-failed') {
        show((error.body as { check: Check }).check);
        notice.textContent = errorText(error);
        notice.className = 'form-notice error';
        return;
      }
      if (error instanceof ApiError) {
        for (const [name, code] of Object.entries(error.fields)) {
          const key = name.startsWith('numbers') ? `number-${name.split('.')[1] ?? '0'}` : name.replace('serviceAddress.', '');
          const slot = form.querySelector(`[data-field="${CSS.escape(key)}"] .field-error`);
          if (slot) slot.textContent = fieldError(code);
        }
      }
      showErrors(form, error);
    }
  };
  (form.querySelector('#precheck') as HTMLButtonElement).addEventListener('click', () => void run(false));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(true);
  });
  return form;
}

export const renderPorting: Page['render'] = async (view, ctx) => {
  const [config, { requests }] = await Promise.all([api<Config>('GET', '/porting/config'), api<{ requests: Request[] }>('GET', '/porting')]);
  view.append(
    h('section', { class: 'instructions' }, ...['what', 'cost', 'time', 'keep', 'dsl', 'temporary'].map((k) => h('p', {}, t(`porting.instructions.${k}`, { areas: config.areas.map((a) => a.name).join(', ') })))),
  );
  if (requests.length > 0) {
    view.append(
      h('h2', {}, t('porting.requests')),
      ...requests.map((r) =>
        h('section', { class: 'card request' }, h('h3', {}, t('porting.requestTitle', { id: r.id, numbers: r.body.numbers.join(', '), provider: r.body.provider })), timeline(r, config.timeline)),
      ),
    );
  }
  const slot = h('div', {});
  const start = h('button', { type: 'button', id: 'start-porting' }, t('porting.start'));
  start.addEventListener('click', () => {
    start.remove();
    slot.append(requestForm(config, () => ctx.refresh()));
  });
  view.append(start, slot);
};
