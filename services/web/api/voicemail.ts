/**
 * Voicemail in the web UI. `/api/me/voicemail` is the user's own box (the extension comes from the
 * session, never from the request); `/api/voicemail/boxes` and `/api/voicemail/boxes/:ext/...` are
 * the admin's view of every box. Both use one set of box routes: the message list, the audio
 * (a WAV streamed with Range support, played by the page's <audio>), new/saved, delete, the
 * greetings (any WAV, converted by the same code as `pbxctl voicemail greeting`), the PIN and email
 * settings (the store's own rules, as `pbxctl`). A message of another box is 404, whatever its id.
 * Every change of the messages tells the running pbx (control socket) so the phones' message lamp
 * follows at once, as `pbxctl voicemail delete` does.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { WavError } from '../../media/wav/wav.js';
import type { VoicemailMessage } from '../../store/voicemail.js';
import { emailAddress, voicemailBoxPatch, voicemailSettingsSchema } from '../../store/voicemail-schema.js';
import { extensionNumber, voicemailPinSchema } from '../../store/validation.js';
import { importVoicemailGreeting, voicemailGreetingPath } from '../../voicemail/greeting-upload.js';
import { changeMailbox, deleteMessages, findMessage, GREETING_KINDS, greetingState, messageAudioPath, OPERATOR_DESTINATION, setMessageFolder, type MailboxChange } from '../../voicemail/manage.js';
import type { GreetingKind } from '../../voicemail/storage.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { receiveFile } from '../upload.js';
import { parseBody } from '../validate.js';

/** Two minutes of 48 kHz stereo 16-bit WAV is 23 MB (the greeting is converted at upload). */
export const VOICEMAIL_GREETING_MAX_BYTES = 32 * 1024 * 1024;

const folderBody = z.object({ folder: z.enum(['new', 'old']) }).strict();
const ownSettingsBody = z
  .object({
    pin: voicemailPinSchema.optional(),
    email: emailAddress.nullable().optional(),
    emailEnabled: z.boolean().optional(),
  })
  .strict();
const operator = z.string().regex(OPERATOR_DESTINATION, 'format');
/** The admin changes a box as `pbxctl voicemail box` does (the store's own quota rules). */
const adminBoxBody = z
  .object({
    pin: voicemailPinSchema.nullable().optional(),
    email: emailAddress.nullable().optional(),
    emailEnabled: z.boolean().optional(),
    enabled: z.boolean().optional(),
    emailDelete: z.boolean().optional(),
    maxMessages: voicemailBoxPatch.shape.maxMessages,
    maxMinutes: voicemailBoxPatch.shape.maxMinutes,
    operator: operator.nullable().optional(),
  })
  .strict();
/** The settings of every box, as `pbxctl voicemail settings` (the store's schema, the operator rule). */
const applianceBody = voicemailSettingsSchema.extend({ operator: operator.nullable() }).partial().strict();

export function messageView(m: VoicemailMessage) {
  return { id: m.id, folder: m.folder, urgent: m.urgent, caller: m.caller, callerName: m.callerName, receivedAt: m.receivedAt, durationMs: m.durationMs, reason: m.reason };
}

/**
 * A file of ours by its directory and name: send()'s dot-file rule then applies to the name alone,
 * not to the data directory (which may live under a hidden directory).
 */
export function sendStored(res: Response, file: string): void {
  const full = path.resolve(file);
  res.sendFile(path.basename(full), { root: path.dirname(full), dotfiles: 'allow', cacheControl: false });
}

function messageId(req: Request): number {
  const text = String(req.params['id']);
  // Not a number is not a message: 404 as any id the box does not hold.
  if (!/^\d{1,12}$/.test(text)) throw notFound('message');
  return Number(text);
}

function greetingKind(req: Request): GreetingKind {
  const kind = String(req.params['kind']);
  if (!(GREETING_KINDS as readonly string[]).includes(kind)) throw notFound('greeting');
  return kind as GreetingKind;
}

/** The box a request is about: the user's own extension, or the admin's `:ext`. */
type BoxOf = (req: Request, res: Response) => string;

/** The routes of one box (mounted for the user's own and, for the admin, for any). */
function boxRoutes(deps: WebDeps, boxOf: BoxOf, settingsBody: z.ZodType<MailboxChange>): express.Router {
  const r = express.Router({ mergeParams: true });
  const { store } = deps;
  const messageOf = (req: Request, res: Response): VoicemailMessage => {
    const m = findMessage(store, boxOf(req, res), messageId(req));
    if (m === null) throw notFound('message');
    return m;
  };
  const view = (box: string) => {
    const b = store.voicemail.box(box);
    if (b === null) throw notFound('voicemail box');
    const e = store.extensions.get(box);
    return {
      box: {
        extension: box,
        displayName: e?.displayName ?? box,
        enabled: b.enabled,
        email: b.email,
        emailEnabled: b.emailEnabled,
        emailTo: store.voicemail.emailOf(box),
        emailDelete: b.emailDelete,
        maxMessages: b.maxMessages,
        maxMinutes: b.maxMinutes,
        operator: b.operator,
        pinSet: e?.voicemailPin !== null && e?.voicemailPin !== undefined,
        greetings: greetingState(deps.dataDir, box),
      },
      counts: store.voicemail.counts(box),
      messages: store.voicemail.list(box).map(messageView),
    };
  };
  /** The phones' lamp follows: best effort (a stopped pbx announces every box when it starts). */
  const changed = (box: string): Promise<boolean> => deps.live.voicemailChanged(box);

  r.get('/', route((req, res) => res.json(view(boxOf(req, res)))));

  r.get('/messages/:id/audio', route((req, res) => {
    const m = messageOf(req, res);
    const file = messageAudioPath(deps.dataDir, m);
    if (!fs.existsSync(file)) throw notFound('message audio');
    if (req.query['download'] !== undefined) res.attachment(`voicemail-${m.box}-${m.id}.wav`);
    res.type('audio/wav').set('cache-control', 'private, no-cache');
    // send() answers Range requests (206, Content-Range): the <audio> element seeks without fetching it all.
    sendStored(res, file);
  }));

  r.patch('/messages/:id', route(async (req, res) => {
    const m = messageOf(req, res);
    const { folder } = parseBody(folderBody, req.body);
    const moved = setMessageFolder(store, m, folder);
    const notified = moved ? await changed(m.box) : false;
    if (moved) deps.log.info({ box: m.box, id: m.id, folder, by: currentUser(res).username }, 'voicemail message moved (web)');
    res.json({ message: messageView({ ...m, folder }), counts: store.voicemail.counts(m.box), notified });
  }));

  r.delete('/messages/:id', route(async (req, res) => {
    const m = messageOf(req, res);
    deleteMessages(store, deps.dataDir, [m]);
    const notified = await changed(m.box);
    deps.log.info({ box: m.box, id: m.id, by: currentUser(res).username }, 'voicemail message deleted (web)');
    res.json({ deleted: m.id, counts: store.voicemail.counts(m.box), notified });
  }));

  r.put('/settings', route((req, res) => {
    const box = boxOf(req, res);
    const change = parseBody(settingsBody, req.body);
    changeMailbox(store, box, change);
    // The PIN itself is never logged.
    deps.log.info({ box, pin: change.pin === undefined ? undefined : change.pin === null ? 'removed' : 'changed', email: change.email !== undefined, emailEnabled: change.emailEnabled, enabled: change.enabled, by: currentUser(res).username }, 'voicemail box changed (web)');
    res.json(view(box));
  }));

  r.get('/greetings/:kind', route((req, res) => {
    const file = voicemailGreetingPath(deps.dataDir, boxOf(req, res), greetingKind(req));
    if (!fs.existsSync(file)) throw notFound('greeting');
    res.type('audio/wav').set('cache-control', 'private, no-cache');
    sendStored(res, file);
  }));

  r.post('/greetings/:kind', route(async (req, res) => {
    const box = boxOf(req, res);
    const kind = greetingKind(req);
    const upload = await receiveFile(req, res, path.join(deps.dataDir, 'voicemail', '.uploads'), VOICEMAIL_GREETING_MAX_BYTES, 'greeting.wav');
    let imported: { file: string; seconds: number };
    try {
      imported = await importVoicemailGreeting(deps.dataDir, box, kind, fs.readFileSync(upload.file));
    } catch (error) {
      if (error instanceof RangeError && /at most/.test(error.message)) throw new HttpError(400, 'greeting-too-long', error.message);
      if (error instanceof WavError || error instanceof RangeError) throw new HttpError(400, 'not-wav', `${upload.name} is not a usable WAV file: ${error.message}`);
      throw error;
    } finally {
      fs.rmSync(upload.file, { force: true });
    }
    deps.log.info({ box, kind, bytes: upload.bytes, seconds: imported.seconds, by: currentUser(res).username }, 'voicemail greeting uploaded (web)');
    res.status(201).json({ greeting: kind, seconds: imported.seconds, greetings: greetingState(deps.dataDir, box) });
  }));

  r.delete('/greetings/:kind', route((req, res) => {
    const box = boxOf(req, res);
    const kind = greetingKind(req);
    // As `pbxctl voicemail greeting EXT KIND none`: the default prompt plays again.
    fs.rmSync(voicemailGreetingPath(deps.dataDir, box, kind), { force: true });
    res.json({ greetings: greetingState(deps.dataDir, box) });
  }));
  return r;
}

export function voicemailRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store } = deps;

  const own: BoxOf = (_req, res) => {
    const extension = currentUser(res).extension;
    if (extension === null || store.voicemail.box(extension) === null) throw new HttpError(404, 'no-extension', 'you have no extension, so no voicemail box');
    return extension;
  };
  r.use('/me/voicemail', boxRoutes(deps, own, ownSettingsBody));

  const admin = express.Router();
  admin.use(requireAdmin);
  admin.get('/boxes', route((_req, res) => {
    const boxes = store.extensions.list().map((e) => {
      const b = store.voicemail.box(e.number);
      return {
        extension: e.number,
        displayName: e.displayName,
        enabled: b?.enabled ?? true,
        emailEnabled: b?.emailEnabled ?? true,
        emailTo: store.voicemail.emailOf(e.number),
        pinSet: e.voicemailPin !== null,
        counts: store.voicemail.counts(e.number),
      };
    });
    res.json({ boxes });
  }));
  admin.get('/settings', route((_req, res) => res.json({ settings: store.voicemail.settings() })));
  admin.put('/settings', route((req, res) => {
    const patch = parseBody(applianceBody, req.body);
    const settings = store.voicemail.setSettings(patch);
    deps.log.info({ changed: Object.keys(patch), by: currentUser(res).username }, 'voicemail settings changed (web)');
    res.json({ settings });
  }));
  const anyBox: BoxOf = (req) => {
    const extension = String(req.params['ext']);
    if (!extensionNumber.safeParse(extension).success || store.voicemail.box(extension) === null) throw notFound(`voicemail box ${extension}`);
    return extension;
  };
  admin.use('/boxes/:ext', boxRoutes(deps, anyBox, adminBoxBody));
  r.use('/voicemail', admin);
  return r;
}
