/**
 * The pre-check run before a port request is sent: it looks for the causes for which carriers
 * reject ports (their "reject codes": name, address, account number or PIN not as on the bill, DSL
 * on the line, a number outside the supported calling areas, an unsigned authorization) and says
 * what to fix. Each finding is a stable code with parameters; the UI and pbxctl translate it.
 * `block` findings stop the request; `warn` ones are shown but let it go.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { toE164, type CountryCode } from '../pbx/routing/phone-numbers.js';
import type { PortingForm } from './request.js';

export type FindingSeverity = 'block' | 'warn';

export interface Finding {
  code: string;
  severity: FindingSeverity;
  /** The form field to fix (`numbers.1`, `serviceAddress.postalCode`), or null for the whole request. */
  field: string | null;
  params: Record<string, string>;
}

/** A calling area where porting is supported: a name shown to users and the E.164 prefixes it covers. */
export interface CallingArea {
  name: string;
  prefixes: string[];
}

export interface PrecheckContext {
  country: CountryCode;
  areas: readonly CallingArea[];
  /** Numbers already on this box (E.164). */
  boxNumbers: ReadonlySet<string>;
  /** Numbers in requests still in progress (E.164). */
  pendingNumbers: ReadonlySet<string>;
}

export interface PrecheckResult {
  ok: boolean;
  findings: Finding[];
  /** The numbers in E.164, in form order; null where the number is not valid. */
  numbers: Array<string | null>;
  primaryNumber: string | null;
}

/** Postal codes as the post of each supported country writes them. */
const POSTAL_CODES: Partial<Record<CountryCode, RegExp>> = {
  FR: /^\d{5}$/,
  MX: /^\d{5}$/,
  SE: /^\d{3} ?\d{2}$/,
  US: /^\d{5}(-\d{4})?$/,
  GB: /^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$/i,
};

const NAME = /^[\p{L}][\p{L}' .-]*$/u;

function normalizeName(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim().toLocaleLowerCase();
}

export function precheck(form: PortingForm, ctx: PrecheckContext): PrecheckResult {
  const findings: Finding[] = [];
  const block = (code: string, field: string | null, params: Record<string, string> = {}): void => {
    findings.push({ code, severity: 'block', field, params });
  };
  const warn = (code: string, field: string | null, params: Record<string, string> = {}): void => {
    findings.push({ code, severity: 'warn', field, params });
  };

  // DSL delivered on the line being ported is cut by the port: a stand-alone ("dry loop") DSL first.
  if (form.connection === 'dsl-same-line') block('dsl-same-line', 'connection');

  const seen = new Set<string>();
  const numbers = form.numbers.map((typed, i): string | null => {
    const field = `numbers.${i}`;
    const e164 = toE164(typed, ctx.country);
    if (e164 === null) {
      block('number-invalid', field, { number: typed });
      return null;
    }
    if (seen.has(e164)) block('number-duplicate', field, { number: e164 });
    seen.add(e164);
    const type = parsePhoneNumberFromString(e164)?.getType();
    const mobile = type === 'MOBILE';
    const fixed = type === 'FIXED_LINE' || type === 'VOIP';
    if (form.numberType === 'mobile' && fixed) block('number-type-mismatch', field, { number: e164, expected: 'mobile' });
    if (form.numberType === 'landline' && mobile) block('number-type-mismatch', field, { number: e164, expected: 'landline' });
    const area = ctx.areas.find((a) => a.prefixes.some((p) => e164.startsWith(p)));
    if (area === undefined) block('area-not-supported', field, { number: e164, areas: ctx.areas.map((a) => a.name).join(', ') });
    if (ctx.boxNumbers.has(e164)) block('number-already-here', field, { number: e164 });
    if (ctx.pendingNumbers.has(e164)) block('number-pending', field, { number: e164 });
    return e164;
  });

  const primaryNumber = toE164(form.primaryNumber, ctx.country);
  if (primaryNumber === null || !ctx.boxNumbers.has(primaryNumber)) block('primary-not-on-box', 'primaryNumber', { number: form.primaryNumber });

  // Account numbers: carriers reject a phone number written where the account number goes.
  const account = form.accountNumber.replace(/[\s-]/g, '');
  if (!/^[A-Za-z0-9]{4,30}$/.test(account)) block('account-number-format', 'accountNumber');
  else if (/^(\+|0)\d+$/.test(account) && toE164(account, ctx.country) !== null) block('account-is-phone-number', 'accountNumber');
  if (form.accountPin !== null && !/^[A-Za-z0-9]{4,10}$/.test(form.accountPin)) block('pin-format', 'accountPin');
  // Mobile carriers release a number only with the account's port-out PIN.
  if (form.numberType === 'mobile' && form.accountPin === null) block('pin-required-mobile', 'accountPin');

  if (!NAME.test(form.holderFirstName)) block('name-format', 'holderFirstName');
  if (!NAME.test(form.holderLastName)) block('name-format', 'holderLastName');
  if (!/\d/.test(form.serviceAddress.street)) block('street-number-missing', 'serviceAddress.street');
  const postal = POSTAL_CODES[ctx.country];
  if (postal !== undefined && !postal.test(form.serviceAddress.postalCode.trim())) {
    block('postal-code-format', 'serviceAddress.postalCode', { country: ctx.country });
  }

  if (!form.termsAccepted) block('terms-not-accepted', 'termsAccepted');
  const holder = normalizeName(`${form.holderFirstName} ${form.holderLastName}`);
  if (form.signature === '') block('signature-missing', 'signature');
  else if (normalizeName(form.signature) !== holder) block('signature-mismatch', 'signature', { holder: `${form.holderFirstName} ${form.holderLastName}` });

  // What no check can see: it must match the bill letter for letter.
  warn('match-the-bill', null);
  return { ok: !findings.some((f) => f.severity === 'block'), findings, numbers, primaryNumber };
}
