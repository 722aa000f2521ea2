/**
 * The virtual fax in the web UI. `/api/me/faxes` is the user's own (the extension from the session;
 * sending needs a fax line: a number mapped to `fax:EXT`); `/api/faxes` is the admin's view of every
 * fax, sending as any extension. Sending goes through the same code as `pbxctl fax send`
 * (services/fax/submit.ts): the number as the user dials it, no emergency number, international and
 * premium only with the extension's permission; the body is the PDF itself (≤ 50 MB), streamed to
 * the fax temp directory, checked by poppler, converted by ghostscript, then queued; a refused
 * upload leaves nothing. Another user's fax is 404, whatever its id.
 */
import fs from 'node:fs';
import express, { type Request, type Response } from 'express';
import { faxTmpDir, resolveStored } from '../../fax/documents.js';
import { z } from 'zod';
import { checkFaxDestination, FAX_MAX_BYTES, FaxRefused, faxLineNumbers, faxSwitch, faxUploadPath, faxView, queueFax, removeFax, setFaxSwitch } from '../../fax/submit.js';
import { parseBody } from '../validate.js';
import type { FaxRecord } from '../../store/fax-schema.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { receiveFile } from '../upload.js';
import { sendStored } from './voicemail.js';

/** What the browser sees of a fax (no file paths). */
function webView(f: FaxRecord) {
  const { document, ...rest } = faxView(f);
  return { ...rest, hasDocument: document !== null };
}

function refusal(error: FaxRefused): HttpError {
  switch (error.code) {
    case 'fax-number':
      return new HttpError(400, 'invalid', error.message, { number: 'format' });
    case 'emergency':
      return new HttpError(400, 'fax-emergency', error.message, { number: 'fax-emergency' });
    case 'international':
      return new HttpError(403, 'fax-international', error.message, { number: 'fax-international' });
    case 'no-extension':
      return new HttpError(400, 'invalid', error.message, { extension: 'invalid' });
    case 'sending':
      return new HttpError(409, 'fax-sending', error.message);
    default:
      // not-pdf, no-pages, too-many-pages, convert
      return new HttpError(400, error.code, error.message);
  }
}

/** Whose faxes a request may reach: one extension, or (admin) every one. */
type Scope = { extension: string } | { all: true };

function faxRoutes(deps: WebDeps, scopeOf: (req: Request, res: Response) => Scope, senderOf: (req: Request, res: Response) => string): express.Router {
  const r = express.Router();
  const { store } = deps;
  const faxOf = (req: Request, res: Response): FaxRecord => {
    const text = String(req.params['id']);
    const scope = scopeOf(req, res);
    const fax = /^\d{1,12}$/.test(text) ? store.faxes.get(Number(text)) : null;
    if (fax === null || ('extension' in scope && fax.extension !== scope.extension)) throw notFound('fax');
    return fax;
  };

  r.get('/', route((req, res) => {
    const scope = scopeOf(req, res);
    const faxes = store.faxes.list({ ...('extension' in scope && { extension: scope.extension }), limit: 200 });
    const lines = 'extension' in scope
      ? { [scope.extension]: faxLineNumbers(store, scope.extension) }
      : Object.fromEntries(store.extensions.list().map((e) => [e.number, faxLineNumbers(store, e.number)]));
    res.json({ faxes: faxes.map(webView), faxLines: lines, maxBytes: FAX_MAX_BYTES });
  }));

  r.get('/:id/document', route((req, res) => {
    const fax = faxOf(req, res);
    if (fax.document === null) throw notFound('fax document');
    const file = resolveStored(deps.dataDir, fax.document);
    if (!fs.existsSync(file)) throw notFound('fax document');
    res.type('application/pdf').set('cache-control', 'private, no-cache');
    res.attachment(`fax-${fax.id}-${fax.direction === 'in' ? 'received' : 'sent'}.pdf`);
    sendStored(res, file);
  }));

  r.delete('/:id', route((req, res) => {
    const fax = faxOf(req, res);
    try {
      removeFax(store, deps.dataDir, fax);
    } catch (error) {
      throw error instanceof FaxRefused ? refusal(error) : error;
    }
    deps.log.info({ fax: fax.id, extension: fax.extension, by: currentUser(res).username }, 'fax removed (web)');
    res.json({ removed: fax.id });
  }));

  // The body is the PDF; the number (and for the admin, the extension) in the query string.
  r.post('/', route(async (req, res) => {
    const raw = typeof req.query['number'] === 'string' ? req.query['number'].slice(0, 64) : '';
    let extension: string;
    let number: string;
    try {
      extension = senderOf(req, res);
      if (raw.trim() === '') throw new HttpError(400, 'invalid', 'the fax number is missing', { number: 'required' });
      number = checkFaxDestination(store, deps.country, extension, raw);
    } catch (error) {
      // Refused before a byte of the document is read: the client may still be sending it.
      res.set('connection', 'close');
      throw error instanceof FaxRefused ? refusal(error) : error;
    }
    const upload = await receiveFile(req, res, faxTmpDir(deps.dataDir), FAX_MAX_BYTES, 'fax.pdf');
    // A name of the temp directory's kind: the document is committed under it.
    const pdf = faxUploadPath(deps.dataDir);
    fs.renameSync(upload.file, pdf);
    let fax: FaxRecord;
    try {
      fax = await queueFax(store, deps.dataDir, extension, number, pdf, upload.name);
    } catch (error) {
      throw error instanceof FaxRefused ? refusal(error) : error;
    }
    deps.log.info({ fax: fax.id, extension, number, pages: fax.pages, bytes: upload.bytes, by: currentUser(res).username }, 'fax queued (web)');
    res.status(201).json({ fax: webView(fax) });
  }));
  return r;
}

export function faxWebRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store } = deps;
  const own = (_req: Request, res: Response): string => {
    const extension = currentUser(res).extension;
    if (extension === null) throw new HttpError(404, 'no-extension', 'you have no extension, so no fax line');
    return extension;
  };
  r.use(
    '/me/faxes',
    faxRoutes(
      deps,
      (req, res) => ({ extension: own(req, res) }),
      (req, res) => {
        const extension = own(req, res);
        // Sending is the fax line's: its number is the caller ID and the TSI the receiver prints.
        if (faxLineNumbers(store, extension).length === 0) throw new HttpError(403, 'no-fax-line', `extension ${extension} has no fax number`);
        return extension;
      },
    ),
  );
  // The fax transports (admin): the same switches as `pbxctl fax t38` and `fax analog-t38`.
  const switches = (): { t38: boolean; analogT38: boolean } => ({ t38: faxSwitch(store, 't38'), analogT38: faxSwitch(store, 'analogT38') });
  const switchesBody = z.object({ t38: z.boolean(), analogT38: z.boolean() }).partial().strict();
  r.get('/fax-settings', requireAdmin, route((_req, res) => res.json(switches())));
  r.put('/fax-settings', requireAdmin, route((req, res) => {
    const body = parseBody(switchesBody, req.body);
    if (body.t38 !== undefined) setFaxSwitch(store, 't38', body.t38);
    if (body.analogT38 !== undefined) setFaxSwitch(store, 'analogT38', body.analogT38);
    res.json(switches());
  }));
  r.use(
    '/faxes',
    requireAdmin,
    faxRoutes(
      deps,
      (req) => (typeof req.query['extension'] === 'string' && req.method === 'GET' && req.path === '/' ? { extension: req.query['extension'] } : { all: true }),
      (req) => {
        const extension = typeof req.query['extension'] === 'string' ? req.query['extension'] : '';
        if (!/^\d{2,6}$/.test(extension) || store.extensions.get(extension) === null) {
          throw new HttpError(400, 'invalid', 'choose the extension that sends', { extension: extension === '' ? 'required' : 'invalid' });
        }
        return extension;
      },
    ),
  );
  return r;
}
