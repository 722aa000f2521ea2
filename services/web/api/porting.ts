/**
 * Number porting (Add-Ons → Number Porting), for the admin: the settings the form needs, the
 * pre-check, the submission (refused with the findings when the pre-check blocks), and each
 * request's status timeline.
 */
import express from 'express';
import { z } from 'zod';
import { portingFormSchema } from '../../porting/request.js';
import { callingAreas, CALLING_AREAS_SETTING, runPrecheck, submitPorting } from '../../porting/service.js';
import { TIMELINE } from '../../porting/timeline.js';
import { displayNumber } from '../../pbx/routing/phone-numbers.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { parseBody } from '../validate.js';

const areasBody = z
  .object({ areas: z.array(z.object({ name: z.string().trim().min(1).max(64), prefixes: z.array(z.string().regex(/^\+\d{1,8}$/)).min(1).max(20) }).strict()).max(50) })
  .strict();

export function portingRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store, country } = deps;
  r.use(requireAdmin);

  r.get('/config', route((_req, res) => {
    res.json({
      country,
      areas: callingAreas(store),
      boxNumbers: store.numbers.list().map((n) => ({ number: n.number, national: displayNumber(n.number, country) })),
      timeline: TIMELINE,
    });
  }));
  r.put('/areas', route((req, res) => {
    const { areas } = parseBody(areasBody, req.body);
    store.settings.set(CALLING_AREAS_SETTING, areas);
    res.json({ areas });
  }));
  r.post('/precheck', route((req, res) => {
    res.json(runPrecheck(store, country, parseBody(portingFormSchema, req.body)));
  }));
  r.get('/', route((_req, res) => res.json({ requests: store.porting.list() })));
  r.get('/:id', route((req, res) => {
    const request = store.porting.get(Number(req.params['id']));
    if (request === null) throw notFound('porting request');
    res.json({ request });
  }));
  r.post('/', route((req, res) => {
    const result = submitPorting(store, country, parseBody(portingFormSchema, req.body), currentUser(res).id);
    if (!result.ok) {
      res.status(422).json({ error: { code: 'precheck-failed', message: 'the pre-check found problems to fix' }, check: result.check });
      return;
    }
    deps.log.info({ request: result.request.id, numbers: result.request.body.numbers }, 'porting request submitted');
    res.status(201).json({ request: result.request, check: result.check });
  }));
  r.use((_req, _res, next) => next(new HttpError(404, 'not-found', 'no such porting API')));
  return r;
}
