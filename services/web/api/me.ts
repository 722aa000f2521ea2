/**
 * The end user's own things, at /api/me: their profile and language, their extension's state,
 * their call log. Everything is looked up from the session's user, never from a parameter, so no
 * one reaches another user's data here.
 */
import express from 'express';
import { z } from 'zod';
import { LANGUAGES } from '../../store/types.js';
import { toCsv } from '../../store/cdr-csv.js';
import { currentUser, publicUser, route } from '../auth.js';
import type { WebDeps } from '../server.js';
import { parseBody } from '../validate.js';
import { myFeaturesRoutes } from './features.js';
import { extensionViews } from './office.js';

const profilePatch = z.object({ language: z.enum(LANGUAGES).optional(), displayName: z.string().trim().min(1).max(64).optional() }).strict();

export function meRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use('/features', myFeaturesRoutes(deps));
  r.get('/', route(async (_req, res) => {
    const user = currentUser(res);
    const [extension] = user.extension === null ? [] : await extensionViews(deps, user.extension);
    res.json({ user: publicUser(user), extension: extension ?? null });
  }));
  r.patch('/', route((req, res) => {
    const user = currentUser(res);
    const updated = deps.store.users.update(user.id, parseBody(profilePatch, req.body));
    res.json({ user: updated ? publicUser(updated) : null });
  }));
  const ownCalls = (extension: string | null, limit?: number) =>
    extension === null ? [] : deps.store.cdr.list({ party: extension, ...(limit !== undefined && { limit, latest: true }) });
  r.get('/calls', route((_req, res) => res.json({ calls: ownCalls(currentUser(res).extension, 200).reverse() })));
  r.get('/calls.csv', route((_req, res) => {
    res.type('text/csv').attachment('my-calls.csv').send(toCsv(ownCalls(currentUser(res).extension)));
  }));
  return r;
}
