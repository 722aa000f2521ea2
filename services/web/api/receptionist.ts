/**
 * Admin API for the virtual receptionist (business hours, holidays, menus with their keys, greeting
 * uploads) and the conference rooms (PINs, limits): the store's own zod schemas at the edge and the
 * same repository writes as `pbxctl receptionist` and `pbxctl conference`. A greeting is any WAV,
 * converted once at upload to the 8 kHz mono the pbx plays by the same code as `pbxctl receptionist
 * greeting` (services/pbx/receptionist/greetings.ts); a file that is not a usable WAV is refused with
 * the reason and nothing changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { z } from 'zod';
import { CONFERENCE_ROOMS, setConferencePin } from '../../office/conference.js';
import { greetingsDir, importGreeting } from '../../pbx/receptionist/greetings.js';
import { menuAt } from '../../pbx/receptionist/schedule.js';
import { conferenceLimitsSchema, conferencePin, MENUS, NAME, receptionistSchema, type MenuName, type ReceptionistInput } from '../../store/routing-schema.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { receiveFile } from '../upload.js';
import { parseBody } from '../validate.js';

/** A WAV of two minutes at 48 kHz stereo 16-bit is 23 MB. */
export const GREETING_MAX_BYTES = 32 * 1024 * 1024;

/** The editor sends each menu's keys; greetings change only through their own upload. */
const menuBody = z.object({ options: receptionistSchema.shape.menus.shape.business.shape.options }).strict();
const receptionistBody = receptionistSchema
  .omit({ name: true, menus: true })
  .extend({ menus: z.object({ business: menuBody, 'after-hours': menuBody }).strict() })
  .strict();

function menuParam(value: unknown): MenuName {
  if (!(MENUS as readonly unknown[]).includes(value)) throw new HttpError(404, 'not-found', 'no such menu');
  return value as MenuName;
}

export function receptionistRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store } = deps;
  r.use(requireAdmin);
  const get = (name: string) => {
    const found = store.routing.receptionists.get(name);
    if (found === null) throw notFound(`receptionist ${name}`);
    return found;
  };

  r.get('/receptionists', route((_req, res) => {
    const now = new Date();
    res.json({ receptionists: store.routing.receptionists.list().map((x) => ({ ...x, menuNow: menuAt(x, now) })) });
  }));
  r.put('/receptionists/:name', route((req, res) => {
    const name = String(req.params['name']);
    const parsedName = NAME.safeParse(name);
    if (!parsedName.success) throw new HttpError(400, 'invalid', 'bad name', { name: 'format' });
    const body = parseBody(receptionistBody, req.body);
    const saved = store.transaction(() => {
      const existing = store.routing.receptionists.get(name);
      const input: ReceptionistInput = {
        ...body,
        name,
        hours: [...body.hours].sort((a, b) => a.day - b.day || a.opens.localeCompare(b.opens)),
        holidays: [...new Set(body.holidays)].sort(),
        menus: {
          business: { options: body.menus.business.options, greeting: existing?.menus.business.greeting ?? null },
          'after-hours': { options: body.menus['after-hours'].options, greeting: existing?.menus['after-hours'].greeting ?? null },
        },
      };
      return store.routing.receptionists.put(input, { replace: existing !== null });
    });
    deps.log.info({ receptionist: name, by: currentUser(res).username }, 'receptionist saved (web)');
    res.json({ receptionist: { ...saved, menuNow: menuAt(saved, new Date()) } });
  }));
  r.delete('/receptionists/:name', route((req, res) => {
    if (!store.routing.receptionists.remove(String(req.params['name']))) throw notFound('receptionist');
    res.json({ ok: true });
  }));

  r.get('/receptionists/:name/greetings/:menu', route((req, res) => {
    const greeting = get(String(req.params['name'])).menus[menuParam(req.params['menu'])].greeting;
    if (greeting === null) throw notFound('greeting');
    res.type('audio/wav').sendFile(path.join(path.resolve(greetingsDir(deps.dataDir)), greeting));
  }));
  r.post('/receptionists/:name/greetings/:menu', route(async (req, res) => {
    const current = get(String(req.params['name']));
    const menu = menuParam(req.params['menu']);
    const upload = await receiveFile(req, res, greetingsDir(deps.dataDir), GREETING_MAX_BYTES, 'greeting.wav');
    let imported: { file: string; seconds: number };
    try {
      imported = await importGreeting(deps.dataDir, current.name, menu, fs.readFileSync(upload.file));
    } catch (error) {
      throw new HttpError(400, 'not-wav', `${upload.name} is not a usable WAV file: ${(error as Error).message}`);
    } finally {
      fs.rmSync(upload.file, { force: true });
    }
    const saved = store.routing.receptionists.put({ ...current, menus: { ...current.menus, [menu]: { ...current.menus[menu], greeting: imported.file } } }, { replace: true });
    deps.log.info({ receptionist: current.name, menu, bytes: upload.bytes, seconds: imported.seconds }, 'greeting uploaded (web)');
    res.status(201).json({ receptionist: saved, seconds: imported.seconds });
  }));
  r.delete('/receptionists/:name/greetings/:menu', route((req, res) => {
    const current = get(String(req.params['name']));
    const menu = menuParam(req.params['menu']);
    // As `pbxctl receptionist greeting NAME --menu M none`: back to the default prompts.
    const saved = store.routing.receptionists.put({ ...current, menus: { ...current.menus, [menu]: { ...current.menus[menu], greeting: null } } }, { replace: true });
    res.json({ receptionist: saved });
  }));

  r.get('/conference', route((_req, res) => {
    res.json({
      limits: store.routing.conferenceRooms.limits(),
      // The PINs themselves stay out of listings, as in `pbxctl conference list`.
      rooms: store.routing.conferenceRooms.list().filter((x) => x.pin !== null).map((x) => ({ room: x.room, pinSet: true })),
    });
  }));
  r.put('/conference/limits', route((req, res) => {
    res.json({ limits: store.routing.conferenceRooms.setLimits(parseBody(conferenceLimitsSchema.partial().strict(), req.body)) });
  }));
  r.put('/conference/rooms/:room', route((req, res) => {
    const room = String(req.params['room']);
    if (!CONFERENCE_ROOMS.test(room)) throw new HttpError(400, 'invalid', `conference rooms are 8000-8099 (got ${room})`, { room: 'room-range' });
    const { pin } = parseBody(z.object({ pin: conferencePin.nullable() }).strict(), req.body);
    setConferencePin(store, room, pin);
    res.json({ room, pinSet: pin !== null });
  }));
  return r;
}
