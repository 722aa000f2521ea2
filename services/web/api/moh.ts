/**
 * Admin API for music on hold and transfer music, over the same code as `pbxctl moh`
 * (services/office/moh.ts): a class is created or replaced by uploading an audio file (WAV, MP3,
 * anything sox reads), converted once to the 8 kHz mono the pbx plays; a file that is not audio,
 * damaged, truncated, too short, too long or too big is refused with the reason and nothing is
 * stored. Classes are chosen per extension, number, ring group, or for the whole box; transfer
 * music is on or off (the transferee then hears the transferor's class) with the recall time.
 * The pbx re-reads all of it at each hold: nothing here talks to it.
 */
import fs from 'node:fs';
import express from 'express';
import { z } from 'zod';
import { e164 } from '../../office/numbers.js';
import { addMohClass, boxDefaultClass, builtInTune, chooseMohClass, checkMohClassName, DEFAULT_MOH_CLASS, mohClassFile, MohAudioError, removeMohClass, type MohTarget } from '../../office/moh.js';
import { MAX_MOH_SECONDS, mohDir } from '../../pbx/features/in-call/moh-files.js';
import { displayNumber } from '../../pbx/routing/phone-numbers.js';
import { encodeWav } from '../../media/wav/wav.js';
import { StoreError } from '../../store/types.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { receiveFile } from '../upload.js';
import { parseBody } from '../validate.js';

/** Ten minutes of 48 kHz stereo 16-bit WAV is 110 MB; an MP3 of the same is a tenth of it. */
export const MOH_MAX_BYTES = 128 * 1024 * 1024;

const choiceBody = z
  .object({
    target: z.string().regex(/^(default|extension:[0-9*#]{1,16}|number:[+0-9 ().-]{2,32}|ring-group:[a-z0-9][a-z0-9_-]{0,31})$/, 'format'),
    className: z.string().min(1).max(32).nullable(),
  })
  .strict();
const transferBody = z.object({ music: z.boolean().optional(), recallSeconds: z.number().int().optional() }).strict();

/** Sound file types sox tells apart by their name: the temporary upload keeps the extension. */
const AUDIO_EXTENSION = /\.(wav|mp3|ogg|oga|flac|aif|aiff|au|snd|gsm|amr|opus)$/i;

export function mohRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store, country } = deps;
  r.use(requireAdmin);

  const className = (raw: unknown): string => {
    const name = String(raw);
    try {
      checkMohClassName(name);
    } catch {
      throw new HttpError(400, 'invalid', `bad class name ${JSON.stringify(name)}`, { name: 'class-name' });
    }
    return name;
  };

  r.get('/moh', route((_req, res) => {
    const choices = store.moh.choices();
    const usedBy = (name: string) => choices.filter((c) => c.className === name).map((c) => c.owner);
    const classes = store.moh.list().map((c) => ({ name: c.name, seconds: c.seconds, source: c.sourceName, createdAt: c.createdAt, builtIn: false, usedBy: usedBy(c.name) }));
    if (!classes.some((c) => c.name === DEFAULT_MOH_CLASS)) {
      classes.unshift({ name: DEFAULT_MOH_CLASS, seconds: builtInTune().length / 8000, source: '', createdAt: '', builtIn: true, usedBy: usedBy(DEFAULT_MOH_CLASS) });
    }
    res.json({
      classes,
      defaultClass: boxDefaultClass(store),
      choices,
      transfer: store.moh.transfer(),
      limits: { maxBytes: MOH_MAX_BYTES, maxSeconds: MAX_MOH_SECONDS },
      targets: {
        extensions: store.extensions.list().map((e) => ({ number: e.number, name: e.displayName })),
        ringGroups: store.routing.ringGroups.list().map((g) => ({ name: g.name, extension: g.extension })),
        numbers: store.numbers.list().map((n) => ({ number: n.number, national: displayNumber(n.number, country) })),
      },
    });
  }));

  r.get('/moh/classes/:name/audio', route((req, res) => {
    const name = className(req.params['name']);
    const file = mohClassFile(store, deps.dataDir, name);
    if (file !== null) {
      res.type('audio/wav').sendFile(file);
      return;
    }
    if (name !== DEFAULT_MOH_CLASS) throw notFound(`music-on-hold class ${name}`);
    res.type('audio/wav').send(encodeWav(builtInTune(), 'pcm16', 8000));
  }));

  // Creates the class, or replaces its music (what `pbxctl moh add NAME FILE` does).
  r.post('/moh/classes/:name', route(async (req, res) => {
    const name = className(req.params['name']);
    const upload = await receiveFile(req, res, mohDir(deps.dataDir), MOH_MAX_BYTES, 'music.wav');
    const ext = AUDIO_EXTENSION.exec(upload.name)?.[0]?.toLowerCase() ?? '';
    const named = `${upload.file}${ext}`;
    try {
      fs.renameSync(upload.file, named);
      const saved = await addMohClass(store, deps.dataDir, name, named, upload.name);
      deps.log.info({ mohClass: name, source: upload.name, bytes: upload.bytes, seconds: saved.seconds, by: currentUser(res).username }, 'music-on-hold class uploaded (web)');
      res.status(201).json({ class: { name: saved.name, seconds: saved.seconds, source: saved.sourceName, createdAt: saved.createdAt } });
    } catch (error) {
      if (error instanceof MohAudioError) throw new HttpError(400, `audio-${error.reason}`, `${upload.name}: ${error.message}`, { file: `audio-${error.reason}` });
      throw error;
    } finally {
      fs.rmSync(upload.file, { force: true });
      fs.rmSync(named, { force: true });
    }
  }));

  r.delete('/moh/classes/:name', route((req, res) => {
    const name = className(req.params['name']);
    try {
      if (!removeMohClass(store, deps.dataDir, name)) throw notFound(`music-on-hold class ${name}`);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'conflict') throw new HttpError(409, 'moh-in-use', error.message);
      throw error;
    }
    deps.log.info({ mohClass: name, by: currentUser(res).username }, 'music-on-hold class removed (web)');
    res.json({ ok: true });
  }));

  r.put('/moh/choices', route((req, res) => {
    const body = parseBody(choiceBody, req.body);
    const [kind, ...rest] = body.target.split(':');
    const id = rest.join(':');
    let target: MohTarget;
    if (kind === 'extension') target = { kind: 'extension', number: id };
    else if (kind === 'number') target = { kind: 'number', e164: e164(id, country) };
    else if (kind === 'ring-group') target = { kind: 'ring-group', name: id };
    else target = { kind: 'default' };
    const owner = chooseMohClass(store, target, body.className);
    deps.log.info({ owner, mohClass: body.className, by: currentUser(res).username }, 'music-on-hold choice (web)');
    res.json({ owner, className: body.className });
  }));

  r.put('/moh/transfer', route((req, res) => {
    const body = parseBody(transferBody, req.body);
    try {
      res.json({ transfer: store.moh.setTransfer(body) });
    } catch (error) {
      // The store's own rule (5-300 s, as `pbxctl moh transfer --recall-seconds`), shown at the field.
      if (error instanceof StoreError && error.code === 'invalid') throw new HttpError(400, 'invalid', error.message, { recallSeconds: 'recall-range' });
      throw error;
    }
  }));
  return r;
}

