/**
 * What the default menu says when no greeting was uploaded, from the prompt catalog in the
 * receptionist's language: "Thank you for calling." (business) or "Our office is currently
 * closed…" (after hours), then one sentence per key in key order: "For sales, press 1.",
 * "For extension 1 0 1, press 2.", "To hear these options again, press star."
 */
import type { DtmfDigit } from '../../media/dtmf/digits.js';
import type { PromptId } from '../../media/prompts/catalog.js';
import type { Menu, MenuName, MenuOption } from '../../store/routing-schema.js';
import { parseDestination } from '../../store/destination.js';

const KEY_ORDER = '1234567890*#';

export function digitPrompt(digit: DtmfDigit | string): PromptId {
  if (digit === '*') return 'common.star';
  if (digit === '#') return 'common.pound';
  return `num.${Number(digit)}`;
}

function optionPrompts(option: MenuOption): PromptId[] {
  const press: PromptId[] = ['common.press', digitPrompt(option.digit)];
  if (option.target === 'repeat') return ['ivr.repeat_press', digitPrompt(option.digit)];
  if (option.target === 'dial-by-extension') return ['ivr.dial_by_extension_press', digitPrompt(option.digit)];
  if (option.label !== undefined) return ['ivr.for', `ivr.${option.label}`, ...press];
  if (option.target === 'operator') return ['ivr.for', 'ivr.the_operator', ...press];
  const destination = parseDestination(option.target);
  switch (destination.kind) {
    case 'extension':
      return ['ivr.for', 'ivr.extension', ...[...destination.number].map(digitPrompt), ...press];
    case 'fax':
      return ['ivr.for', 'ivr.extension', ...[...destination.extension].map(digitPrompt), ...press];
    case 'voicemail':
      return ['ivr.for', 'ivr.voicemail', ...press];
    case 'conference':
      return ['ivr.for', 'ivr.conference', ...press];
    case 'ring-group':
    case 'receptionist':
      return ['ivr.for', 'ivr.our_team', ...press];
  }
}

export function defaultMenuPrompts(name: MenuName, menu: Menu): PromptId[] {
  const options = [...menu.options].sort((a, b) => KEY_ORDER.indexOf(a.digit) - KEY_ORDER.indexOf(b.digit));
  return [name === 'business' ? 'ivr.thank_you_for_calling' : 'ivr.closed', ...options.flatMap(optionPrompts)];
}
