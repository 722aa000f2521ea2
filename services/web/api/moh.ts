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
import path from 'node:path';
import express from 'express';
import { z } from 'zod';
import { e164 } from '../../office/numbers.js';
import { addMohClass, addMohFile, boxDefaultClass, builtInTune, chooseMohClass, checkMohClassName, DEFAULT_MOH_CLASS, mohClassFiles, MohAudioError, removeMohClass, removeMohFile, type MohTarget } from '../../office/moh.js';
import { MAX_MOH_CLASS_SECONDS, MAX_MOH_SECONDS, mohDir } from '../../pbx/features/in-call/moh-files.js';
import { displayNumber } from '../../pbx/routing/phone-numbers.js';
import { decodeWavMono, encodeWav } from '../../media/wav/wav.js';
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
    const classes = store.moh.list().map((c) => ({
      name: c.name,
      seconds: c.seconds,
      createdAt: c.createdAt,
      builtIn: false,
      usedBy: usedBy(c.name),
      files: c.files.map((f) => ({ file: f.file, source: f.sourceName, seconds: f.seconds, createdAt: f.createdAt })),
    }));
    if (!classes.some((c) => c.name === DEFAULT_MOH_CLASS)) {
      classes.unshift({ name: DEFAULT_MOH_CLASS, seconds: builtInTune().length / 8000, createdAt: '', builtIn: true, usedBy: usedBy(DEFAULT_MOH_CLASS), files: [] });
    }
    res.json({
      classes,
      defaultClass: boxDefaultClass(store),
      choices,
      transfer: store.moh.transfer(),
      limits: { maxBytes: MOH_MAX_BYTES, maxSeconds: MAX_MOH_SECONDS, maxClassSeconds: MAX_MOH_CLASS_SECONDS },
      targets: {
        extensions: store.extensions.list().map((e) => ({ number: e.number, name: e.displayName })),
        ringGroups: store.routing.ringGroups.list().map((g) => ({ name: g.name, extension: g.extension })),
        numbers: store.numbers.list().map((n) => ({ number: n.number, national: displayNumber(n.number, country) })),
      },
    });
  }));

  // The class as a held caller hears it: its files one after the other (the built-in tune too).
  r.get('/moh/classes/:name/audio', route((req, res) => {
    const name = className(req.params['name']);
    const files = mohClassFiles(store, deps.dataDir, name);
    if (files === null && name !== DEFAULT_MOH_CLASS) throw notFound(`music-on-hold class ${name}`);
    if (files === null) {
      res.type('audio/wav').send(encodeWav(builtInTune(), 'pcm16', 8000));
      return;
    }
    if (files.length === 1) {
      res.type('audio/wav').sendFile(files[0] as string);
      return;
    }
    const parts = files.map((f) => decodeWavMono(fs.readFileSync(f), 8000));
    const all = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    res.type('audio/wav').send(encodeWav(all, 'pcm16', 8000));
  }));

  r.get('/moh/classes/:name/files/:file/audio', route((req, res) => {
    const name = className(req.params['name']);
    const file = String(req.params['file']);
    if (!store.moh.get(name)?.files.some((f) => f.file === file)) throw notFound('music file');
    res.type('audio/wav').sendFile(path.join(path.resolve(mohDir(deps.dataDir)), file));
  }));

  // A new class, or its music replaced (`pbxctl moh add NAME FILE`); `?append=1` adds the file to
  // the class's playlist instead (`pbxctl moh add NAME FILE --append`).
  r.post('/moh/classes/:name', route(async (req, res) => {
    const name = className(req.params['name']);
    const append = req.query['append'] === '1' || req.query['append'] === 'true';
    const upload = await receiveFile(req, res, mohDir(deps.dataDir), MOH_MAX_BYTES, 'music.wav');
    const ext = AUDIO_EXTENSION.exec(upload.name)?.[0]?.toLowerCase() ?? '';
    const named = `${upload.file}${ext}`;
    try {
      fs.renameSync(upload.file, named);
      const saved = append ? await addMohFile(store, deps.dataDir, name, named, upload.name) : await addMohClass(store, deps.dataDir, name, named, upload.name);
      deps.log.info({ mohClass: name, append, source: upload.name, bytes: upload.bytes, seconds: saved.seconds, files: saved.files.length, by: currentUser(res).username }, 'music-on-hold file uploaded (web)');
      res.status(201).json({ class: { name: saved.name, seconds: saved.seconds, files: saved.files.map((f) => ({ file: f.file, source: f.sourceName, seconds: f.seconds })) } });
    } catch (error) {
      if (error instanceof MohAudioError) throw new HttpError(400, `audio-${error.reason}`, `${upload.name}: ${error.message}`, { file: `audio-${error.reason}` });
      throw error;
    } finally {
      fs.rmSync(upload.file, { force: true });
      fs.rmSync(named, { force: true });
    }
  }));

  r.delete('/moh/classes/:name/files/:file', route((req, res) => {
    const name = className(req.params['name']);
    let removed: 'file' | 'class' | null;
    try {
      removed = removeMohFile(store, deps.dataDir, name, String(req.params['file']));
    } catch (error) {
      if (error instanceof StoreError && error.code === 'conflict') throw new HttpError(409, 'moh-in-use', `the last file of ${name}: ${error.message}`);
      throw error;
    }
    if (removed === null) throw notFound('music file');
    deps.log.info({ mohClass: name, file: String(req.params['file']), classRemoved: removed === 'class', by: currentUser(res).username }, 'music-on-hold file removed (web)');
    res.json({ removed });
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

