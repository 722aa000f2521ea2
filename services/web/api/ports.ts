/**
 * Admin API for the analog ports, over the same code as `pbxctl port` (services/office/analog-ports.ts):
 * the ports with the live state the `analog` process reports to the store (board link, each FXS
 * port's registration and hook, the FXO line's state), an FXS port assigned to an extension or
 * taken out of service, each port's country (dial tone, ring cadence, caller ID standard) and the
 * FXO landline's number. The analog process picks changes up by itself within a second.
 */
import express from 'express';
import { z } from 'zod';
import { analogSystemRows, assignPort, callerIdStandard, portName, portRows, setPortOptions } from '../../office/analog-ports.js';
import { e164 } from '../../office/numbers.js';
import { displayNumber } from '../../pbx/routing/phone-numbers.js';
import { ANALOG_COUNTRIES } from '../../store/analog-schema.js';
import { StoreError } from '../../store/types.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { parseBody } from '../validate.js';

const assignBody = z.object({ extension: z.string().regex(/^[0-9*#]{1,16}$/, 'format').nullable() }).strict();
const optionsBody = z
  .object({
    country: z.enum([...ANALOG_COUNTRIES, 'default']).optional(),
    number: z.string().max(32).optional(),
  })
  .strict();

export function portsRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store, country } = deps;
  r.use(requireAdmin);

  const port = (raw: unknown): string => {
    try {
      return portName(String(raw));
    } catch {
      throw new HttpError(404, 'not-found', `no port ${String(raw)}`);
    }
  };

  r.get('/ports', route((_req, res) => {
    const names = new Map(store.extensions.list().map((e) => [e.number, e.displayName]));
    res.json({
      boxCountry: country,
      countries: ANALOG_COUNTRIES,
      system: analogSystemRows(store),
      ports: portRows(store, country).map((p) => ({
        ...p,
        kind: p.port.startsWith('fxs') ? 'fxs' : 'fxo',
        extensionName: p.extension === null ? null : (names.get(p.extension) ?? null),
        nationalNumber: p.number === null ? null : displayNumber(p.number, country),
        callerIdStandard: callerIdStandard(p.country),
        offHook: p.detail?.split(', ').includes('off-hook') ?? false,
      })),
      extensions: [...names].map(([number, name]) => ({ number, name })),
    });
  }));

  r.put('/ports/:port/extension', route((req, res) => {
    const name = port(req.params['port']);
    const { extension } = parseBody(assignBody, req.body);
    if (extension !== null && name.startsWith('fxo')) throw new HttpError(400, 'invalid', `${name} is a line, not a phone`, { extension: 'fxs-only' });
    if (extension !== null && store.extensions.get(extension) === null) throw new HttpError(400, 'invalid', `extension ${extension} does not exist`, { extension: 'no-extension' });
    const updated = assignPort(store, name, extension);
    deps.log.info({ port: name, extension, by: currentUser(res).username }, extension === null ? 'analog port unassigned (web)' : 'analog port assigned (web)');
    res.json({ port: updated });
  }));

  r.patch('/ports/:port', route((req, res) => {
    const name = port(req.params['port']);
    const body = parseBody(optionsBody, req.body);
    if (body.number !== undefined && body.number.trim() !== '' && body.number.trim() !== 'none') {
      if (!name.startsWith('fxo')) throw new HttpError(400, 'invalid', `${name} is a phone port: only the FXO line has a number`, { number: 'fxo-only' });
      try {
        e164(body.number, country);
      } catch (error) {
        if (error instanceof StoreError) throw new HttpError(400, 'invalid', error.message, { number: 'phone-number' });
        throw error;
      }
    }
    const updated = setPortOptions(store, country, name, body);
    deps.log.info({ port: name, ...body, by: currentUser(res).username }, 'analog port settings (web)');
    res.json({ port: updated });
  }));
  return r;
}
