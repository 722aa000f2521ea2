/**
 * The analog ports: the board's link, each port's live state (an FXS phone port's registration and
 * hook, the FXO landline's state) as the analog process reports it, which extension an FXS port
 * registers as, each port's country (dial tone, ring cadence, caller ID standard) and the
 * landline's number. What the box stores is what `pbxctl port` edits, with the same checks.
 */
import { api, ApiError } from '../api.js';
import { formValues, h, table } from '../dom.js';
import { language, t, tMaybe } from '../i18n.js';
import type { Page, PageContext } from '../main.js';
import { errorText, field, form, notice } from '../ui.js';

interface PortView {
  port: string;
  kind: 'fxs' | 'fxo';
  extension: string | null;
  extensionName: string | null;
  number: string | null;
  nationalNumber: string | null;
  country: string;
  countryIsDefault: boolean;
  callerIdStandard: 'bell202' | 'v23';
  state: string;
  detail: string | null;
  offHook: boolean;
}

interface PortsState {
  boxCountry: string;
  countries: string[];
  system: Array<{ name: string; state: string; detail: string | null }>;
  ports: PortView[];
  extensions: Array<{ number: string; name: string }>;
}

/** The ports printed on the box: shown even before the analog process has reported them. */
const BOX_PORTS = ['fxs1', 'fxs2', 'fxo1'];

function countryName(code: string): string {
  try {
    return new Intl.DisplayNames([language()], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}

const stateText = (state: string): string => tMaybe(`ports.state.${state}`) ?? state;

function withBoxPorts(state: PortsState): PortView[] {
  const listed = new Map(state.ports.map((p) => [p.port, p]));
  for (const port of BOX_PORTS) {
    if (listed.has(port)) continue;
    listed.set(port, {
      port,
      kind: port.startsWith('fxs') ? 'fxs' : 'fxo',
      extension: null,
      extensionName: null,
      number: null,
      nationalNumber: null,
      country: state.boxCountry,
      countryIsDefault: true,
      callerIdStandard: state.boxCountry === 'US' || state.boxCountry === 'MX' ? 'bell202' : 'v23',
      state: 'not reported',
      detail: null,
      offHook: false,
    });
  }
  return [...listed.values()].sort((a, b) => (a.kind === b.kind ? a.port.localeCompare(b.port, undefined, { numeric: true }) : a.kind === 'fxs' ? -1 : 1));
}

function fieldErrors(el: HTMLElement, error: unknown): void {
  if (error instanceof ApiError) {
    for (const [name, code] of Object.entries(error.fields)) {
      const slot = el.querySelector(`[data-field="${CSS.escape(name)}"] .field-error`);
      if (slot) slot.textContent = tMaybe(`ports.errors.${code}`) ?? tMaybe(`errors.field.${code}`) ?? t('errors.field.invalid');
    }
  }
  const slot = el.querySelector('.form-notice');
  if (slot) {
    slot.textContent = errorText(error);
    slot.className = 'form-notice error';
  }
}

function countryOptions(state: PortsState): Array<[string, string]> {
  return [['default', t('ports.boxCountry', { country: countryName(state.boxCountry) })], ...state.countries.map((c): [string, string] => [c, countryName(c)])];
}

function portForm(p: PortView, state: PortsState, ctx: PageContext): HTMLFormElement {
  const fields =
    p.kind === 'fxs'
      ? [field({ name: 'extension', label: t('ports.extension'), type: 'select', options: [['', t('ports.outOfService')], ...state.extensions.map((e): [string, string] => [e.number, `${e.number} — ${e.name}`])], value: p.extension ?? '', help: t('ports.extensionHelp') })]
      : [field({ name: 'number', label: t('ports.lineNumber'), type: 'tel', value: p.nationalNumber ?? '', help: t('ports.lineNumberHelp') })];
  fields.push(field({ name: 'country', label: t('ports.country'), type: 'select', options: countryOptions(state), value: p.countryIsDefault ? 'default' : p.country, help: t('ports.countryHelp') }));
  return form(
    [h('h3', {}, `${p.port.toUpperCase()} — ${t(`ports.kind.${p.kind}`)}`), ...fields],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      try {
        if (p.kind === 'fxs') {
          const extension = String(v['extension'] ?? '');
          await api('PUT', `/ports/${p.port}/extension`, { extension: extension === '' ? null : extension });
          await api('PATCH', `/ports/${p.port}`, { country: String(v['country']) });
        } else {
          await api('PATCH', `/ports/${p.port}`, { country: String(v['country']), number: String(v['number'] ?? '').trim() });
        }
      } catch (error) {
        fieldErrors(el, error);
        return;
      }
      notice(el, t('ports.saved'));
      ctx.refresh();
    },
    { id: `port-form-${p.port}`, class: 'port-form' },
  );
}

async function ports(view: HTMLElement, ctx: PageContext): Promise<void> {
  const state = await api<PortsState>('GET', '/ports');
  const board = state.system.find((s) => s.name === 'board');
  const rows = withBoxPorts(state);
  view.append(
    h('p', { class: 'help' }, t('ports.explain')),
    h(
      'p',
      { id: 'board-state', class: board?.state === 'up' ? 'state ok' : 'state off' },
      board === undefined ? t('ports.noBoard') : t('ports.board', { state: stateText(board.state) }),
      board?.detail ? ` (${board.detail})` : '',
    ),
    table(
      [t('ports.port'), t('ports.type'), t('ports.assigned'), t('ports.country'), t('ports.callerId'), t('ports.stateHeader'), t('ports.hook')],
      rows,
      (p) => [
        h('strong', {}, p.port.toUpperCase()),
        t(`ports.kind.${p.kind}`),
        p.kind === 'fxs' ? (p.extension === null ? t('ports.outOfService') : `${p.extension}${p.extensionName ? ` — ${p.extensionName}` : ''}`) : (p.nationalNumber ?? '—'),
        `${countryName(p.country)}${p.countryIsDefault ? ` (${t('ports.default')})` : ''}`,
        t(`ports.cid.${p.callerIdStandard}`),
        h('span', { class: p.state === 'registered' || p.state === 'idle' || p.state === 'talking' ? 'state ok' : 'state off', 'data-port-state': p.port }, stateText(p.state)),
        p.kind === 'fxs' && p.state !== 'not reported' ? (p.offHook ? t('ports.offHook') : t('ports.onHook')) : '—',
      ],
      t('ports.none'),
    ),
    h('h2', {}, t('ports.settings')),
    h('div', { class: 'port-forms' }, ...rows.map((p) => portForm(p, state, ctx))),
  );
}

export const PORTS_PAGE: Page = { path: '/admin/ports', title: 'ports.title', render: ports };
