/**
 * The virtual fax: received and sent faxes with their status (the list follows a fax being sent
 * until it is sent or failed), the PDF to download, delete; sending a PDF to a number. "My faxes"
 * is the user's own fax line; the admin's page shows every fax and sends as any extension.
 */
import { api, upload } from '../api.js';
import { clear, formValues, h, table } from '../dom.js';
import { dateTime, fileSize, t } from '../i18n.js';
import type { Page, PageContext } from '../main.js';
import { actionButton, field, form, notice } from '../ui.js';

interface Fax {
  id: number;
  direction: 'in' | 'out';
  extension: string;
  status: 'queued' | 'sending' | 'sent' | 'received' | 'failed';
  number: string;
  faxId: string | null;
  pages: number;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  hasDocument: boolean;
}
interface FaxList {
  faxes: Fax[];
  faxLines: Record<string, string[]>;
  maxBytes: number;
}

/** While a fax is on its way the list is read again every few seconds (only while the page is shown). */
const POLL_MS = 3000;

function faxTable(base: string, faxes: Fax[], admin: boolean, reload: () => void): HTMLElement {
  const headers = [t('fax.direction'), ...(admin ? [t('fax.extension')] : []), t('fax.number'), t('fax.status'), t('fax.pages'), t('fax.when'), ''];
  return table(headers, faxes, (f) => [
    f.direction === 'in' ? t('fax.received') : t('fax.sent'),
    ...(admin ? [f.extension] : []),
    f.faxId !== null && f.faxId !== '' ? `${f.number} (${f.faxId})` : f.number,
    h(
      'span',
      {},
      h('span', { class: f.status === 'failed' ? 'state warn' : f.status === 'sent' || f.status === 'received' ? 'state ok' : 'state', 'data-fax-status': String(f.id) }, t(`fax.statusName.${f.status}`)),
      f.direction === 'out' && f.status === 'queued' && f.attempts > 0 ? ` ${t('fax.attempt', { n: f.attempts + 1, of: f.maxAttempts })}` : '',
      f.error !== null && f.status !== 'sent' ? h('small', { class: 'help' }, ` — ${f.error}`) : '',
    ),
    String(f.pages),
    dateTime(f.completedAt ?? f.createdAt),
    h(
      'span',
      { class: 'buttons' },
      f.hasDocument ? h('a', { href: `/api${base}/${f.id}/document`, download: `fax-${f.id}.pdf`, 'data-fax-download': String(f.id) }, t('fax.download')) : '',
      f.status === 'sending'
        ? ''
        : actionButton(t('fax.delete'), async () => {
            await api('DELETE', `${base}/${f.id}`);
            reload();
          }, t('fax.confirmDelete')),
    ),
  ], t('fax.none'));
}

async function renderFaxes(view: HTMLElement, ctx: PageContext, base: string, admin: boolean): Promise<void> {
  const first = await api<FaxList>('GET', base);
  const slot = h('div', { id: 'fax-list', class: 'stacked' });
  let timer: ReturnType<typeof setTimeout> | null = null;
  const show = (data: FaxList): void => {
    clear(slot);
    slot.append(faxTable(base, data.faxes, admin, () => void load()));
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (data.faxes.some((f) => f.status === 'queued' || f.status === 'sending')) {
      timer = setTimeout(() => {
        if (slot.isConnected) void load();
      }, POLL_MS);
    }
  };
  const load = async (): Promise<void> => {
    try {
      show(await api<FaxList>('GET', base));
    } catch {
      // the next change of page or a reload tries again
    }
  };

  const ownLine = admin ? [] : first.faxLines[ctx.user.extension ?? ''] ?? [];
  const lines = Object.entries(first.faxLines).filter(([, numbers]) => numbers.length > 0);
  const input = h('input', { type: 'file', accept: 'application/pdf,.pdf', id: 'fax-file', name: 'file' });
  const send = form(
    [
      ...(admin
        ? [field({ name: 'extension', label: t('fax.from'), type: 'select', options: Object.keys(first.faxLines).map((e): [string, string] => [e, (first.faxLines[e] ?? []).length > 0 ? `${e} — ${(first.faxLines[e] ?? []).join(', ')}` : e]), value: lines[0]?.[0] })]
        : []),
      field({ name: 'number', label: t('fax.to'), type: 'tel', required: true, help: t('fax.toHelp') }),
      h('div', { class: 'field', 'data-field': 'file' }, h('label', { for: 'fax-file' }, t('fax.document')), input, h('small', {}, t('fax.documentHelp', { max: fileSize(first.maxBytes) })), h('span', { class: 'field-error', role: 'alert' })),
    ],
    t('fax.send'),
    async (el) => {
      const v = formValues(el);
      const file = input.files?.[0];
      if (file === undefined) {
        const slotError = el.querySelector('[data-field="file"] .field-error');
        if (slotError) slotError.textContent = t('errors.field.required');
        return;
      }
      const query = new URLSearchParams({ number: String(v['number'] ?? '').trim(), ...(admin && { extension: String(v['extension'] ?? '') }) });
      await upload<{ fax: Fax }>(`${base}?${query.toString()}`, file);
      input.value = '';
      notice(el, t('fax.queued'));
      await load();
    },
    { id: 'fax-send-form' },
  );

  view.append(h('p', { class: 'help' }, t('fax.explain')));
  if (!admin) {
    view.append(
      ownLine.length > 0
        ? h('p', { id: 'fax-line' }, t('fax.yourNumber', { numbers: ownLine.join(', ') }))
        : h('p', { class: 'empty', id: 'fax-line' }, t('fax.noLine')),
    );
  }
  view.append(slot);
  show(first);
  if (admin || ownLine.length > 0) view.append(h('h2', {}, t('fax.sendTitle')), send);
  if (admin) view.append(h('h2', {}, t('fax.transportsTitle')), await transports());
}

/** The fax transports (as `pbxctl fax t38` and `fax analog-t38`). */
async function transports(): Promise<HTMLFormElement> {
  const now = await api<{ t38: boolean; analogT38: boolean }>('GET', '/fax-settings');
  return form(
    [
      field({ name: 't38', label: t('fax.t38'), type: 'checkbox', checked: now.t38, help: t('fax.t38Help') }),
      field({ name: 'analogT38', label: t('fax.analogT38'), type: 'checkbox', checked: now.analogT38, help: t('fax.analogT38Help') }),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      await api('PUT', '/fax-settings', { t38: v['t38'] === true, analogT38: v['analogT38'] === true });
      notice(el, t('fax.transportsSaved'));
    },
    { id: 'fax-transports-form' },
  );
}

async function myFaxes(view: HTMLElement, ctx: PageContext): Promise<void> {
  if (ctx.user.extension === null) {
    view.append(h('p', { class: 'empty' }, t('fax.noLine')));
    return;
  }
  await renderFaxes(view, ctx, '/me/faxes', false);
}

export const FAX_USER_PAGES: Page[] = [{ path: '/me/faxes', title: 'fax.myTitle', render: myFaxes }];
export const FAX_ADMIN_PAGES: Page[] = [{ path: '/admin/faxes', title: 'fax.adminTitle', render: (view, ctx) => renderFaxes(view, ctx, '/faxes', true) }];
