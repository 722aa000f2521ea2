import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emergencyNumbers } from './emergency.js';
import { classifyOutbound, needsInternationalPermission, type OutboundCall } from './outbound.js';
import { countryCode, displayNumber, toE164 } from './phone-numbers.js';

/** The dial plan per country, as docs/routing.md shows it: dialled → kind → what the trunk gets. */
const CASES: Array<[country: string, dialled: string, expected: OutboundCall]> = [
  // Mexico: 10-digit national numbers, 00 international, legacy 044/045/01 prefixes still dialled.
  ['MX', '5512345678', { kind: 'national', e164: '+525512345678' }],
  ['MX', '0445512345678', { kind: 'national', e164: '+525512345678' }],
  ['MX', '015512345678', { kind: 'national', e164: '+525512345678' }],
  ['MX', '8001234567', { kind: 'toll-free', e164: '+528001234567' }],
  ['MX', '0012125550199', { kind: 'international', e164: '+12125550199' }],
  ['MX', '911', { kind: 'emergency', dial: '911' }],
  ['MX', '066', { kind: 'emergency', dial: '066' }],
  // United States: 10 digits, 1 + 10 digits, 011 international, 900 premium.
  ['US', '2125550199', { kind: 'national', e164: '+12125550199' }],
  ['US', '12125550199', { kind: 'national', e164: '+12125550199' }],
  ['US', '8005550199', { kind: 'toll-free', e164: '+18005550199' }],
  ['US', '9005550199', { kind: 'premium', e164: '+19005550199' }],
  ['US', '011442079460000', { kind: 'international', e164: '+442079460000' }],
  ['US', '+33142345678', { kind: 'international', e164: '+33142345678' }],
  ['US', '18765550123', { kind: 'international', e164: '+18765550123' }], // Jamaica shares +1: still international
  ['US', '4165550123', { kind: 'international', e164: '+14165550123' }], // Toronto, Canada
  ['US', '911', { kind: 'emergency', dial: '911' }],
  ['US', '112', { kind: 'emergency', dial: '112' }],
  // France: 0 + 9 digits, 06/07 mobiles, 08 9x premium, 00 international, 15/17/18/112 emergency.
  ['FR', '0142345678', { kind: 'national', e164: '+33142345678' }],
  ['FR', '0612345678', { kind: 'mobile', e164: '+33612345678' }],
  ['FR', '0899123456', { kind: 'premium', e164: '+33899123456' }],
  ['FR', '0800123456', { kind: 'toll-free', e164: '+33800123456' }],
  ['FR', '0033142345678', { kind: 'national', e164: '+33142345678' }],
  ['FR', '004687654321', { kind: 'international', e164: '+4687654321' }],
  ['FR', '15', { kind: 'emergency', dial: '15' }],
  ['FR', '17', { kind: 'emergency', dial: '17' }],
  ['FR', '18', { kind: 'emergency', dial: '18' }],
  ['FR', '112', { kind: 'emergency', dial: '112' }],
  // Sweden: 0 + area code, 07x mobiles, 0900 premium, 00 international, 112.
  ['SE', '087654321', { kind: 'national', e164: '+4687654321' }],
  ['SE', '0701234567', { kind: 'mobile', e164: '+46701234567' }],
  ['SE', '0900123456', { kind: 'premium', e164: '+46900123456' }],
  ['SE', '020123456', { kind: 'toll-free', e164: '+4620123456' }],
  ['SE', '0033142345678', { kind: 'international', e164: '+33142345678' }],
  ['SE', '112', { kind: 'emergency', dial: '112' }],
  // United Kingdom: 0 + 10 digits, 07 mobiles, 09 premium, 00 international, 999/112.
  ['GB', '02079460000', { kind: 'national', e164: '+442079460000' }],
  ['GB', '07400123456', { kind: 'mobile', e164: '+447400123456' }],
  ['GB', '09001234567', { kind: 'premium', e164: '+449001234567' }],
  ['GB', '08001234567', { kind: 'toll-free', e164: '+448001234567' }],
  ['GB', '0080012345678', { kind: 'international', e164: '+80012345678' }], // international freephone (+800): still international
  ['GB', '0012125550199', { kind: 'international', e164: '+12125550199' }],
  ['GB', '999', { kind: 'emergency', dial: '999' }],
  ['GB', '112', { kind: 'emergency', dial: '112' }],
  // Not a number anywhere.
  ['US', '12', { kind: 'invalid' }],
  ['FR', '0000', { kind: 'invalid' }],
];

test('dial plan per country: emergency first, then national, mobile, toll-free, international, premium in E.164', () => {
  for (const [country, dialled, expected] of CASES) {
    assert.deepEqual(classifyOutbound(dialled, countryCode(country)), expected, `${country} ${dialled}`);
  }
});

test('only international and premium need the permission; emergency never does', () => {
  assert.equal(needsInternationalPermission({ kind: 'international', e164: '+44' }), true);
  assert.equal(needsInternationalPermission({ kind: 'premium', e164: '+1900' }), true);
  for (const kind of ['national', 'mobile', 'toll-free'] as const) assert.equal(needsInternationalPermission({ kind, e164: '+1' }), false);
  assert.equal(needsInternationalPermission({ kind: 'emergency', dial: '911' }), false);
});

test('911 and 112 are emergency numbers in every country, plus each country\'s own', () => {
  for (const country of ['MX', 'US', 'FR', 'SE', 'GB', 'DE']) {
    assert.ok(emergencyNumbers(country).includes('911') && emergencyNumbers(country).includes('112'), country);
  }
  assert.ok(emergencyNumbers('GB').includes('999'));
  assert.ok(emergencyNumbers('FR').includes('15'));
  assert.ok(!emergencyNumbers('US').includes('999'));
});

test('numbers typed in any usual form become E.164; display follows the box\'s country', () => {
  assert.equal(toE164('(212) 555-0101', countryCode('US')), '+12125550101');
  assert.equal(toE164('+52 55 1234 5678', countryCode('US')), '+525512345678');
  assert.equal(toE164('01 42 34 56 78', countryCode('FR')), '+33142345678');
  assert.equal(toE164('555-0101', countryCode('US')), null);
  assert.equal(toE164('not a number', countryCode('SE')), null);
  assert.equal(displayNumber('+33142345678', countryCode('FR')), '01 42 34 56 78');
  assert.equal(displayNumber('+33142345678', countryCode('US')), '+33 1 42 34 56 78');
  assert.throws(() => countryCode('XX'), /not known/);
});
