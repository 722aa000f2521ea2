/** Live diagnostics: the port test, one-way audio and SIP ALG findings with their fix, the SIP trace. */
import { api } from '../api.js';
import { clear, h } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import type { Page } from '../main.js';
import { errorText } from '../ui.js';

interface Finding {
  code: string;
  party: string;
  subject: string;
  at: number;
  detail: Record<string, string>;
}

export const renderDiagnostics: Page['render'] = async (view) => {
  const portResult = h('div', { id: 'port-result' });
  const portButton = h('button', { type: 'button', id: 'port-test' }, t('diagnostics.portTest'));
  portButton.addEventListener('click', () => {
    clear(portResult);
    portButton.disabled = true;
    api<{ pbx: boolean; checks: Array<{ name: string; port: number; ok: boolean }> }>('GET', '/diagnostics/ports')
      .then((r) => {
        if (!r.pbx) portResult.append(h('p', { class: 'warn' }, t('dashboard.down')));
        portResult.append(h('ul', {}, ...r.checks.map((c) => h('li', { class: c.ok ? 'ok' : 'block', 'data-check': c.name }, `${t(`diagnostics.check.${c.name}`)} (${c.port}): ${c.ok ? t('diagnostics.open') : t('diagnostics.closed')}`))));
      })
      .catch((error: unknown) => portResult.append(h('p', { class: 'warn' }, errorText(error))))
      .finally(() => {
        portButton.disabled = false;
      });
  });

  const { findings } = await api<{ findings: Finding[] }>('GET', '/diagnostics/network');
  const findingList =
    findings.length === 0
      ? h('p', { class: 'empty' }, t('diagnostics.noFindings'))
      : h('ul', { id: 'network-findings' }, ...findings.map((f) => h('li', { 'data-code': f.code }, h('strong', {}, t(`diagnostics.finding.${f.code}`, f.detail)), ` (${dateTime(f.at)}) `, h('br'), t(`diagnostics.fix.${f.code}`))));

  const filter = h('input', { id: 'trace-filter', type: 'text', inputmode: 'tel', placeholder: '101', 'aria-label': t('diagnostics.filter') });
  const output = h('div', { id: 'trace-output', class: 'trace' });
  let source: EventSource | null = null;
  const start = h('button', { type: 'button', id: 'trace-start' }, t('diagnostics.start'));
  const stop = h('button', { type: 'button', id: 'trace-stop', class: 'small', disabled: true }, t('diagnostics.stop'));
  start.addEventListener('click', () => {
    source?.close();
    clear(output);
    const value = filter.value.trim();
    source = new EventSource(`/api/diagnostics/trace${value === '' ? '' : `?filter=${encodeURIComponent(value)}`}`);
    source.addEventListener('message', (event) => {
      const m = JSON.parse((event as MessageEvent<string>).data) as { at: number; direction: 'in' | 'out'; transport: string; peer: string; text: string };
      const arrow = m.direction === 'in' ? '←' : '→';
      output.prepend(h('details', { class: `sip ${m.direction}` }, h('summary', {}, `${new Date(m.at).toLocaleTimeString()} ${arrow} ${m.transport} ${m.peer}  ${m.text.split('\r\n')[0] ?? ''}`), h('pre', {}, m.text)));
      while (output.childElementCount > 500) output.lastElementChild?.remove();
    });
    source.addEventListener('unavailable', () => {
      output.append(h('p', { class: 'warn' }, t('dashboard.down')));
      source?.close();
    });
    start.disabled = true;
    stop.disabled = false;
  });
  stop.addEventListener('click', () => {
    source?.close();
    source = null;
    start.disabled = false;
    stop.disabled = true;
  });

  view.append(
    h('h2', {}, t('diagnostics.ports')),
    h('p', { class: 'help' }, t('diagnostics.portsHelp')),
    portButton,
    portResult,
    h('h2', {}, t('diagnostics.network')),
    findingList,
    h('h2', {}, t('diagnostics.trace')),
    h('p', { class: 'help' }, t('diagnostics.traceHelp')),
    h('div', { class: 'buttons' }, filter, start, stop),
    output,
  );
};
