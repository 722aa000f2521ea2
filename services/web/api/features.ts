/**
 * Call features (forwarding always/busy/no answer/unreachable with the ring time, do not disturb,
 * call waiting, caller ID hidden by default): the end user's own at /api/me/features (the extension
 * comes from the session, never from the request), any extension's for an admin at
 * /api/extensions/:n/features. Both go through services/office/user-features.ts, the code
 * `pbxctl extension set --forward-...` runs: same checks, same store, one transaction.
 */
import express, { type Response } from 'express';
import { z } from 'zod';
import { ForwardTargetError, setUserFeatures } from '../../office/user-features.js';
import { userFeaturesPatchSchema, type UserFeatures } from '../../store/user-features-schema.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { parseBody } from '../validate.js';

/** The form sends an empty text for "off"; the store's schema wants null. */
const emptyIsNull = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? null : typeof v === 'string' ? v.trim() : v);
const target = z.preprocess(emptyIsNull, z.string().regex(/^\+?\d{2,20}$/, 'forward-target').nullable()).optional();
const featuresBody = z
  .object({
    forward: z.object({ always: target, busy: target, 'no-answer': target, unreachable: target }).strict().optional(),
    noAnswerSeconds: z.number().refine((n) => Number.isInteger(n) && n >= 5 && n <= 120, 'ring-time').optional(),
    callWaiting: z.boolean().optional(),
    doNotDisturb: z.boolean().optional(),
    hideCallerId: z.boolean().optional(),
  })
  .strict();

function save(deps: WebDeps, extension: string, body: unknown, res: Response, by: string): void {
  const patch = userFeaturesPatchSchema.parse(parseBody(featuresBody, body));
  let saved: UserFeatures;
  try {
    saved = setUserFeatures(deps.store, deps.country, extension, patch);
  } catch (error) {
    // The reason is in English for the log; the form shows the field's translated code.
    if (error instanceof ForwardTargetError) throw new HttpError(400, 'forward-target', error.message, { [`forward.${error.kind}`]: 'forward-target' });
    throw error;
  }
  deps.log.info({ extension, by }, 'call features changed (web)');
  res.json({ features: saved });
}

/** Mounted at /api/me/features. */
export function myFeaturesRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const own = (res: Response): string => {
    const extension = currentUser(res).extension;
    if (extension === null) throw notFound('your extension');
    return extension;
  };
  r.get('/', route((_req, res) => {
    const features = deps.store.userFeatures.get(own(res));
    if (features === null) throw notFound('your extension');
    res.json({ features });
  }));
  r.put('/', route((req, res) => save(deps, own(res), req.body, res, currentUser(res).username)));
  return r;
}

/** Admin: any extension's, at /api/extensions/:number/features. */
export function extensionFeaturesRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use(requireAdmin);
  r.get('/extensions/:number/features', route((req, res) => {
    const features = deps.store.userFeatures.get(String(req.params['number']));
    if (features === null) throw notFound(`extension ${String(req.params['number'])}`);
    res.json({ features });
  }));
  r.put('/extensions/:number/features', route((req, res) => save(deps, String(req.params['number']), req.body, res, currentUser(res).username)));
  return r;
}
