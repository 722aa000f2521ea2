/**
 * Call settings (forwarding, do not disturb, call waiting, caller ID): the end user's own page
 * ("My call settings", /api/me/features) and the same form for any extension on the admin's
 * Extensions page (/api/extensions/N/features). The box checks every target as the feature codes do.
 */
import { api } from '../api.js';
import { formValues, h } from '../dom.js';
import { t } from '../i18n.js';
import type { Page } from '../main.js';
import { field, form, notice } from '../ui.js';

interface Features {
  extension: string;
  forward: { always: string | null; busy: string | null; 'no-answer': string | null; unreachable: string | null };
  noAnswerSeconds: number;
  callWaiting: boolean;
  doNotDisturb: boolean;
  hideCallerId: boolean;
}

/** The form for the features at `apiPath` (GET to read, PUT to save). */
export async function featuresForm(apiPath: string, id: string): Promise<HTMLElement> {
  const { features: f } = await api<{ features: Features }>('GET', apiPath);
  const target = (kind: keyof Features['forward'], help: string) =>
    field({ name: `forward.${kind}`, label: t(`features.forward.${kind}`), type: 'tel', value: f.forward[kind] ?? '', help });
  return form(
    [
      h('h2', {}, t('features.forwarding')),
      h('p', { class: 'help' }, t('features.forwardHelp')),
      target('always', t('features.forwardHelpAlways')),
      target('busy', t('features.forwardHelpBusy')),
      target('no-answer', t('features.forwardHelpNoAnswer')),
      field({ name: 'noAnswerSeconds', label: t('features.ringSeconds'), type: 'number', value: String(f.noAnswerSeconds), help: t('features.ringSecondsHelp') }),
      target('unreachable', t('features.forwardHelpUnreachable')),
      h('h2', {}, t('features.other')),
      field({ name: 'doNotDisturb', label: t('features.dnd'), type: 'checkbox', checked: f.doNotDisturb, help: t('features.dndHelp') }),
      field({ name: 'callWaiting', label: t('features.callWaiting'), type: 'checkbox', checked: f.callWaiting, help: t('features.callWaitingHelp') }),
      field({ name: 'hideCallerId', label: t('features.hideCallerId'), type: 'checkbox', checked: f.hideCallerId, help: t('features.hideCallerIdHelp') }),
    ],
    t('common.save'),
    async (el) => {
      const v = formValues(el);
      const text = (name: string): string | null => {
        const value = String(v[name] ?? '').replace(/[\s.-]/g, '');
        return value === '' ? null : value;
      };
      await api('PUT', apiPath, {
        forward: { always: text('forward.always'), busy: text('forward.busy'), 'no-answer': text('forward.no-answer'), unreachable: text('forward.unreachable') },
        noAnswerSeconds: Number(v['noAnswerSeconds']),
        doNotDisturb: v['doNotDisturb'] === true,
        callWaiting: v['callWaiting'] === true,
        hideCallerId: v['hideCallerId'] === true,
      });
      notice(el, t('features.saved'));
    },
    { id },
  );
}

export async function renderMyFeatures(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  if (ctx.user.extension === null) {
    view.append(h('p', {}, t('me.noExtension')));
    return;
  }
  view.append(h('p', { class: 'help' }, t('features.intro', { extension: ctx.user.extension })), await featuresForm('/me/features', 'features-form'));
}
