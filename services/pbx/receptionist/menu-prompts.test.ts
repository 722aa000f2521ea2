import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultMenuPrompts } from './menu-prompts.js';

test('the default menu says each key in key order, in words the catalog has', () => {
  const prompts = defaultMenuPrompts('business', {
    greeting: null,
    options: [
      { digit: '*', target: 'repeat' },
      { digit: '0', target: 'operator' },
      { digit: '2', target: 'extension:102' },
      { digit: '1', target: 'ring-group:sales', label: 'sales' },
      { digit: '9', target: 'dial-by-extension' },
      { digit: '3', target: 'conference:8001' },
    ],
  });
  assert.deepEqual(prompts, [
    'ivr.thank_you_for_calling',
    'ivr.for', 'ivr.sales', 'common.press', 'num.1',
    'ivr.for', 'ivr.extension', 'num.1', 'num.0', 'num.2', 'common.press', 'num.2',
    'ivr.for', 'ivr.conference', 'common.press', 'num.3',
    'ivr.dial_by_extension_press', 'num.9',
    'ivr.for', 'ivr.the_operator', 'common.press', 'num.0',
    'ivr.repeat_press', 'common.star',
  ]);
  assert.deepEqual(defaultMenuPrompts('after-hours', { greeting: null, options: [] }), ['ivr.closed']);
});
