/**
 * Number porting as the web UI and pbxctl use it: pre-check and submit a request, and apply a
 * status change. When a port completes, the ported main number takes the temporary number's
 * place: same destination, same user's direct number, same main-number role; the other ported
 * numbers go where the temporary number went; the temporary number is released unless the admin
 * chose to keep it as a virtual number (then the price rule bills it as an additional number).
 */
import crypto from 'node:crypto';
import { MAIN_NUMBER_SETTING, mainNumber } from '../pbx/routing/main-number.js';
import type { CountryCode } from '../pbx/routing/phone-numbers.js';
import type { Store } from '../store/types.js';
import { StoreError } from '../store/types.js';
import { precheck, type CallingArea, type PrecheckResult } from './precheck.js';
import type { PortingForm, PortingRequest, PortingRequestBody } from './request.js';
import { checkTransition, type StatusChange } from './timeline.js';

export const CALLING_AREAS_SETTING = 'porting.calling_areas';
/** The seed guides: "Number porting is supported in the Paris calling area." */
export const DEFAULT_CALLING_AREAS: readonly CallingArea[] = [{ name: 'Paris', prefixes: ['+331'] }];

type PortingStore = Pick<Store, 'numbers' | 'porting' | 'settings' | 'extensionRouting' | 'transaction'>;

export function callingAreas(store: Pick<Store, 'settings'>): CallingArea[] {
  const value = store.settings.get<unknown>(CALLING_AREAS_SETTING, DEFAULT_CALLING_AREAS);
  if (!Array.isArray(value)) return [...DEFAULT_CALLING_AREAS];
  return value.filter(
    (a): a is CallingArea =>
      typeof a === 'object' && a !== null && typeof (a as CallingArea).name === 'string' && Array.isArray((a as CallingArea).prefixes),
  );
}

export function runPrecheck(store: PortingStore, country: CountryCode, form: PortingForm): PrecheckResult {
  const pending = new Set<string>();
  for (const request of store.porting.list()) {
    if (request.status !== 'completed' && request.status !== 'rejected') for (const n of request.body.numbers) pending.add(n);
  }
  return precheck(form, {
    country,
    areas: callingAreas(store),
    boxNumbers: new Set(store.numbers.list().map((n) => n.number)),
    pendingNumbers: pending,
  });
}

export type SubmitResult = { ok: true; request: PortingRequest; check: PrecheckResult } | { ok: false; check: PrecheckResult };

/** Pre-checks, then stores the request and queues it for the sync agent; never stores a request that fails the check. */
export function submitPorting(store: PortingStore, country: CountryCode, form: PortingForm, byUser: number | null): SubmitResult {
  const check = runPrecheck(store, country, form);
  if (!check.ok || check.primaryNumber === null || check.numbers.some((n) => n === null)) return { ok: false, check };
  const numbers = check.numbers as string[];
  const unsigned: Omit<PortingRequestBody, 'signature'> = { ...form, numbers, primaryNumber: check.primaryNumber };
  const signedAt = new Date().toISOString();
  // The signature binds the holder's typed name to exactly these fields at this moment.
  const digest = crypto.createHash('sha256').update(JSON.stringify({ ...unsigned, signer: form.signature, signedAt })).digest('hex');
  const body: PortingRequestBody = { ...unsigned, signature: { name: form.signature, signedAt, byUser, digest } };
  return { ok: true, request: store.porting.add(body, byUser), check };
}

export class PortingError extends Error {}

/** The one interface status changes arrive through (pbxctl today, the cloud sync agent later). */
export function changePortingStatus(store: PortingStore, id: number, change: StatusChange): PortingRequest {
  return store.transaction(() => {
    const request = store.porting.get(id);
    if (request === null) throw new StoreError('not-found', `porting request ${id} does not exist`);
    const refusal = checkTransition(request.status, change);
    if (refusal !== null) throw new PortingError(refusal);
    const updated = store.porting.setStatus(id, change.status, { date: change.date ?? null, reason: change.reason?.trim() ?? null });
    if (updated === null) throw new StoreError('not-found', `porting request ${id} does not exist`);
    if (change.status === 'completed') completePort(store, updated);
    return updated;
  });
}

function completePort(store: PortingStore, request: PortingRequest): void {
  const temporary = store.numbers.get(request.body.primaryNumber);
  const [main] = request.body.numbers;
  if (temporary === null || main === undefined) {
    throw new PortingError(`the temporary number ${request.body.primaryNumber} is no longer on the box: map the ported numbers by hand (pbxctl number add)`);
  }
  for (const number of request.body.numbers) {
    if (store.numbers.get(number) === null) store.numbers.add(number, temporary.destination);
  }
  for (const routing of store.extensionRouting.list()) {
    if (routing.directNumber === temporary.number) store.extensionRouting.set(routing.extension, { directNumber: main });
  }
  if (mainNumber(store.settings) === temporary.number) store.settings.set(MAIN_NUMBER_SETTING, main);
  if (!request.body.keepTemporary) store.numbers.remove(temporary.number);
}
