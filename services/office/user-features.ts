/**
 * A user's call features as pbxctl and the web UI edit them (issue 17's forwarding, call waiting,
 * do not disturb, caller ID blocking): every forward target is checked exactly as the feature codes
 * check it (`checkForwardTarget`), then the store validates and writes the whole change in one
 * transaction, so a refused field changes nothing. One implementation for both editors.
 */
import { checkForwardTarget } from '../pbx/user-calls/forward-target.js';
import type { CountryCode } from '../pbx/routing/phone-numbers.js';
import { StoreError, type Store } from '../store/types.js';
import { FORWARD_KINDS, type ForwardKind, type UserFeatures, type UserFeaturesPatch } from '../store/user-features-schema.js';

type FeatureStore = Pick<Store, 'extensions' | 'extensionRouting' | 'userFeatures'>;

/** A forward target that may not be used: which kind, and why (in English, for pbxctl and logs). */
export class ForwardTargetError extends StoreError {
  constructor(
    readonly kind: ForwardKind,
    why: string,
  ) {
    super('invalid', why);
    this.name = 'ForwardTargetError';
  }
}

/** Checks every forward target of `patch` (null = off is always fine), then stores the change. */
export function setUserFeatures(store: FeatureStore, country: CountryCode, extension: string, patch: UserFeaturesPatch): UserFeatures {
  if (store.extensions.get(extension) === null) throw new StoreError('not-found', `extension ${extension} does not exist`);
  for (const kind of FORWARD_KINDS) {
    const target = patch.forward?.[kind];
    if (target === undefined || target === null) continue;
    const check = checkForwardTarget(target, extension, { store, country });
    if (!check.ok) throw new ForwardTargetError(kind, check.why);
  }
  return store.userFeatures.set(extension, patch);
}
