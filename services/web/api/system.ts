/**
 * Admin API for the box itself: firmware upload and configuration restore.
 *
 * Firmware: the image is streamed to `<dataDir>/firmware/incoming/<sha256>.bin` with a JSON note
 * (`<sha256>.json`: the browser's file name, size, SHA-256, who and when), size-limited, and listed.
 * It is accepted and kept for the firmware issue: nothing flashes it yet.
 *
 * Restore: the uploaded file is checked (SQLite, integrity_check, this appliance's migrations, a
 * schema version not newer than ours: services/store/restore.ts) and staged; the pbx applies it at
 * its next start, before it opens the store. The live database is never touched here.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { BackupError, cancelStagedRestore, restoreDir, stagedRestore, stageRestore } from '../../store/restore.js';
import { currentUser, requireAdmin, route } from '../auth.js';
import { HttpError, notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { receiveFile } from '../upload.js';

export const FIRMWARE_MAX_BYTES = 256 * 1024 * 1024;
export const RESTORE_MAX_BYTES = 512 * 1024 * 1024;

export interface FirmwareImage {
  name: string;
  bytes: number;
  sha256: string;
  uploadedAt: string;
  uploadedBy: string;
}

export function firmwareDir(dataDir: string): string {
  return path.join(dataDir, 'firmware', 'incoming');
}

export function listFirmware(dataDir: string): FirmwareImage[] {
  const dir = firmwareDir(dataDir);
  if (!fs.existsSync(dir)) return [];
  const images: FirmwareImage[] = [];
  for (const entry of fs.readdirSync(dir)) {
    if (!/^[0-9a-f]{64}\.json$/.test(entry)) continue;
    try {
      const note = JSON.parse(fs.readFileSync(path.join(dir, entry), 'utf8')) as FirmwareImage;
      if (fs.existsSync(path.join(dir, `${note.sha256}.bin`))) images.push(note);
    } catch {
      // A note being written or damaged: not listed.
    }
  }
  return images.sort((a, b) => b.uploadedAt.localeCompare(a.uploadedAt));
}

export function systemRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use(requireAdmin);
  const limits = { firmware: deps.uploadLimits?.firmwareBytes ?? FIRMWARE_MAX_BYTES, restore: deps.uploadLimits?.restoreBytes ?? RESTORE_MAX_BYTES };

  r.get('/firmware', route((_req, res) => res.json({ images: listFirmware(deps.dataDir), maxBytes: limits.firmware })));
  r.post('/firmware', route(async (req, res) => {
    const dir = firmwareDir(deps.dataDir);
    const upload = await receiveFile(req, res, dir, limits.firmware, 'firmware.bin');
    const image: FirmwareImage = { name: upload.name, bytes: upload.bytes, sha256: upload.sha256, uploadedAt: new Date().toISOString(), uploadedBy: currentUser(res).username };
    // The image first, then its note: a listed image always has its bytes.
    fs.renameSync(upload.file, path.join(dir, `${upload.sha256}.bin`));
    fs.writeFileSync(path.join(dir, `${upload.sha256}.json`), `${JSON.stringify(image, null, 2)}\n`);
    deps.log.info({ name: image.name, bytes: image.bytes, sha256: image.sha256, by: image.uploadedBy }, 'firmware image received and kept (web)');
    res.status(201).json({ image });
  }));
  r.delete('/firmware/:sha256', route((req, res) => {
    const sha = String(req.params['sha256']);
    const dir = firmwareDir(deps.dataDir);
    if (!/^[0-9a-f]{64}$/.test(sha) || !fs.existsSync(path.join(dir, `${sha}.bin`))) throw notFound('firmware image');
    fs.rmSync(path.join(dir, `${sha}.json`), { force: true });
    fs.rmSync(path.join(dir, `${sha}.bin`), { force: true });
    res.json({ ok: true });
  }));

  r.get('/restore', route((_req, res) => res.json({ staged: stagedRestore(deps.dataDir), maxBytes: limits.restore })));
  r.post('/restore', route(async (req, res) => {
    const upload = await receiveFile(req, res, restoreDir(deps.dataDir), limits.restore, 'backup.sqlite');
    try {
      const staged = stageRestore(deps.dataDir, upload.file, { name: upload.name, sha256: upload.sha256 });
      deps.log.warn({ name: staged.name, schemaVersion: staged.schemaVersion, by: currentUser(res).username }, 'configuration restore staged: applied at the next pbx start (web)');
      res.status(201).json({ staged });
    } catch (error) {
      if (error instanceof BackupError) throw new HttpError(400, `backup-${error.code}`, error.message);
      throw error;
    } finally {
      fs.rmSync(upload.file, { force: true });
    }
  }));
  r.delete('/restore', route((_req, res) => {
    if (!cancelStagedRestore(deps.dataDir)) throw notFound('staged restore');
    res.json({ ok: true });
  }));
  return r;
}
