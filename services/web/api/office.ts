/**
 * Admin API over what pbxctl edits: extensions, users, numbers, ring groups, trunks. Same
 * validation as pbxctl: the store's zod schemas at the edge (field codes for the form) and the
 * shared operations of services/office/ behind.
 */
import express from 'express';
import { z } from 'zod';
import { addNumber, listNumbers, pointNumber, removeNumber, setExtensionRouting, setMainNumber } from '../../office/numbers.js';
import { ringGroupSchema } from '../../store/routing-schema.js';
import { newExtensionSchema, extensionPatchSchema, newUserSchema, userPatchSchema, password as passwordSchema } from '../../store/validation.js';
import { TRUNK_TRANSPORTS, type Registration } from '../../store/types.js';
import { publicUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { parseBody } from '../validate.js';

export interface ExtensionView {
  number: string;
  displayName: string;
  language: string;
  hasPin: boolean;
  directNumber: string | null;
  international: boolean;
  registered: boolean;
  devices: Array<{ userAgent: string | null; address: string; transport: string }>;
}

/** Registrations from the running pbx, else the stored ones that have not expired. */
async function currentRegistrations(deps: WebDeps): Promise<Array<Pick<Registration, 'aor' | 'userAgent' | 'sourceAddress' | 'sourcePort' | 'transport'>>> {
  const status = await deps.live.status();
  if (status !== null) {
    return status.registrations.map((r) => ({ aor: r.aor, userAgent: r.userAgent, sourceAddress: r.sourceAddress, sourcePort: r.sourcePort, transport: r.transport as Registration['transport'] }));
  }
  const now = Date.now();
  return deps.store.registrations.all().filter((r) => r.expiresAt > now);
}

export async function extensionViews(deps: WebDeps, only?: string): Promise<ExtensionView[]> {
  const registrations = await currentRegistrations(deps);
  const routing = new Map(deps.store.extensionRouting.list().map((r) => [r.extension, r]));
  return deps.store.extensions
    .list()
    .filter((e) => only === undefined || e.number === only)
    .map((e) => {
      const devices = registrations.filter((r) => r.aor === e.number);
      return {
        number: e.number,
        displayName: e.displayName,
        language: e.language,
        hasPin: e.voicemailPin !== null,
        directNumber: routing.get(e.number)?.directNumber ?? null,
        international: routing.get(e.number)?.international ?? false,
        registered: devices.length > 0,
        devices: devices.map((d) => ({ userAgent: d.userAgent, address: `${d.sourceAddress}:${d.sourcePort}`, transport: d.transport })),
      };
    });
}

const routingPatch = z.object({ international: z.boolean().optional(), directNumber: z.string().max(32).nullable().optional() }).strict();
const numberBody = z.object({ number: z.string().min(1).max(32), destination: z.string().min(1).max(64) }).strict();
const destinationBody = z.object({ destination: z.string().min(1).max(64) }).strict();
const trunkBody = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).nullable().optional(),
    transport: z.enum(TRUNK_TRANSPORTS).optional(),
    username: z.string().min(1).max(64).nullable().optional(),
    secret: z.string().min(1).max(128).nullable().optional(),
    maxCalls: z.number().int().min(1).max(1000).nullable().optional(),
  })
  .strict();

export function officeRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store, country } = deps;
  r.use(requireAdmin);

  r.get('/extensions', route(async (_req, res) => res.json({ extensions: await extensionViews(deps) })));
  r.post('/extensions', route((req, res) => {
    const body = parseBody(newExtensionSchema, req.body);
    const added = store.extensions.add(body);
    deps.log.info({ extension: added.number, by: res.locals['user'] ? 'web' : 'unknown' }, 'extension added (web)');
    res.status(201).json({ number: added.number });
  }));
  r.patch('/extensions/:number', route((req, res) => {
    const number = String(req.params['number']);
    const { international, directNumber, ...patch } = req.body as Record<string, unknown>;
    const fields = parseBody(extensionPatchSchema, patch);
    const routing = parseBody(routingPatch, { ...(international !== undefined && { international }), ...(directNumber !== undefined && { directNumber }) });
    const updated = store.transaction(() => {
      const e = Object.keys(fields).length > 0 ? store.extensions.update(number, fields) : store.extensions.get(number);
      if (e === null) throw notFound(`extension ${number}`);
      if (routing.international !== undefined || routing.directNumber !== undefined) setExtensionRouting(store, country, number, routing);
      return e;
    });
    res.json({ number: updated.number });
  }));
  r.delete('/extensions/:number', route((req, res) => {
    if (!store.extensions.remove(String(req.params['number']))) throw notFound(`extension ${String(req.params['number'])}`);
    res.json({ ok: true });
  }));

  r.get('/users', route((_req, res) => res.json({ users: store.users.list().map(publicUser) })));
  r.post('/users', route((req, res) => {
    const body = parseBody(newUserSchema, req.body);
    // An admin chose this password: the user picks their own at first login.
    const user = store.users.add({ ...body, mustChangePassword: true });
    res.status(201).json({ user: publicUser(user) });
  }));
  r.patch('/users/:id', route((req, res) => {
    const user = store.users.update(Number(req.params['id']), parseBody(userPatchSchema, req.body));
    if (user === null) throw notFound('user');
    res.json({ user: publicUser(user) });
  }));
  r.post('/users/:id/password', route((req, res) => {
    const { password } = parseBody(z.object({ password: passwordSchema }).strict(), req.body);
    store.users.setPassword(Number(req.params['id']), password, true);
    res.json({ ok: true });
  }));
  r.delete('/users/:id', route((req, res) => {
    const id = Number(req.params['id']);
    const self = res.locals['user'] as { id: number } | undefined;
    if (self?.id === id) throw new HttpError(400, 'invalid', 'you cannot remove yourself');
    if (!store.users.remove(id)) throw notFound('user');
    res.json({ ok: true });
  }));

  r.get('/numbers', route((_req, res) => res.json(listNumbers(store, country))));
  r.post('/numbers', route((req, res) => {
    const body = parseBody(numberBody, req.body);
    res.status(201).json({ number: addNumber(store, country, body.number, body.destination).number });
  }));
  r.patch('/numbers/:number', route((req, res) => {
    const body = parseBody(destinationBody, req.body);
    res.json({ number: pointNumber(store, country, String(req.params['number']), body.destination).number });
  }));
  r.delete('/numbers/:number', route((req, res) => res.json({ removed: removeNumber(store, country, String(req.params['number'])) })));
  r.post('/numbers/:number/main', route((req, res) => res.json({ main: setMainNumber(store, country, String(req.params['number'])) })));

  // Every place a call can go, for the destination pickers (a number, a ring group's no-answer).
  r.get('/destinations', route((_req, res) => {
    const out: Array<{ value: string; kind: string; target: string; name: string }> = [];
    for (const e of store.extensions.list()) out.push({ value: `extension:${e.number}`, kind: 'extension', target: e.number, name: e.displayName });
    for (const g of store.routing.ringGroups.list()) out.push({ value: `ring-group:${g.name}`, kind: 'ring-group', target: g.name, name: g.name });
    for (const x of store.routing.receptionists.list()) out.push({ value: `receptionist:${x.name}`, kind: 'receptionist', target: x.name, name: x.name });
    for (const c of store.routing.conferenceRooms.list()) out.push({ value: `conference:${c.room}`, kind: 'conference', target: c.room, name: c.room });
    for (const e of store.extensions.list()) out.push({ value: `voicemail:${e.number}`, kind: 'voicemail', target: e.number, name: e.displayName });
    for (const e of store.extensions.list()) out.push({ value: `fax:${e.number}`, kind: 'fax', target: e.number, name: e.displayName });
    res.json({ destinations: out });
  }));

  r.get('/ring-groups', route((_req, res) => res.json({ ringGroups: store.routing.ringGroups.list() })));
  r.put('/ring-groups/:name', route((req, res) => {
    const body = parseBody(ringGroupSchema, { ...(req.body as object), name: String(req.params['name']) });
    // PUT creates or replaces, as pbxctl's add and set do.
    res.json({ ringGroup: store.routing.ringGroups.put(body, { replace: store.routing.ringGroups.get(body.name) !== null }) });
  }));
  r.delete('/ring-groups/:name', route((req, res) => {
    if (!store.routing.ringGroups.remove(String(req.params['name']))) throw notFound('ring group');
    res.json({ ok: true });
  }));

  r.get('/trunks', route(async (_req, res) => {
    const live = await deps.live.status();
    const states = new Map((live?.trunks ?? []).map((t) => [t.name, t]));
    res.json({
      trunks: store.trunks.list().map((t) => ({
        name: t.name,
        host: t.host,
        port: t.port,
        transport: t.transport,
        username: t.username,
        hasSecret: t.secret !== null,
        maxCalls: t.maxCalls,
        state: states.get(t.name)?.state ?? (live === null ? 'unknown' : 'stopped'),
        lastError: states.get(t.name)?.lastError ?? null,
      })),
    });
  }));
  r.post('/trunks', route((req, res) => res.status(201).json({ name: store.trunks.add(parseBody(trunkBody, req.body)).name })));
  r.delete('/trunks/:name', route((req, res) => {
    if (!store.trunks.remove(String(req.params['name']))) throw notFound('trunk');
    res.json({ ok: true });
  }));
  return r;
}
