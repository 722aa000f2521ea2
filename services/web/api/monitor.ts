/**
 * Admin API for what the box is doing: the dashboard, the call log (and its CSV), blocked
 * addresses (which the admin can lift), and the configuration backup (SQLite's online backup).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { portRows } from '../../office/analog-ports.js';
import { toCsv } from '../../store/cdr-csv.js';
import { requireAdmin, route } from '../auth.js';
import { notFound } from '../http-error.js';
import type { WebDeps } from '../server.js';
import { extensionViews } from './office.js';

function storage(dir: string): { totalBytes: number; freeBytes: number } | null {
  try {
    const s = fs.statfsSync(dir);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

export function monitorRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  const { store } = deps;
  r.use(requireAdmin);

  r.get('/dashboard', route(async (_req, res) => {
    const live = await deps.live.status();
    const extensions = await extensionViews(deps);
    res.json({
      version: deps.version,
      pbx: live === null ? { up: false } : { up: true, uptimeSeconds: live.uptimeSeconds, crashLoop: live.process?.crashLoop ?? false },
      devices: { registered: extensions.filter((e) => e.registered).length, extensions: extensions.length },
      calls: (live?.calls ?? []).map((c) => ({ from: c.from, to: c.to, state: c.state, startedAt: c.startedAt })),
      trunks: (live?.trunks ?? []).map((t) => ({ name: t.name, state: t.state, lastError: t.lastError })),
      // What the analog process last reported ('not reported' when it is not running).
      ports: portRows(store, deps.country).map((p) => ({ name: p.port, state: p.state })),
      storage: storage(deps.dataDir),
    });
  }));

  r.get('/calls', route((req, res) => {
    const limit = Math.min(Number(req.query['limit'] ?? 200) || 200, 5000);
    res.json({ calls: store.cdr.list({ limit, latest: true }).reverse() });
  }));
  r.get('/calls.csv', route((_req, res) => {
    res.type('text/csv').attachment('calls.csv').send(toCsv(store.cdr.list()));
  }));

  r.get('/blocks', route((_req, res) => res.json({ blocks: store.authBlocks.active(Date.now()) })));
  r.delete('/blocks/:source', route((req, res) => {
    const source = String(req.params['source']);
    const extension = typeof req.query['extension'] === 'string' ? req.query['extension'] : undefined;
    const lifted = store.authBlocks.remove(source, extension);
    if (lifted === 0) throw notFound(`block of ${source}`);
    deps.log.warn({ source, extension: extension ?? '*', lifted }, 'block lifted by the admin (web)');
    res.json({ lifted });
  }));

  r.get('/backup', route(async (_req, res) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-backup-'));
    const file = path.join(dir, 'pbx-backup.sqlite');
    await store.backup(file);
    res.download(file, `pbx-backup-${new Date().toISOString().slice(0, 10)}.sqlite`, () => fs.rmSync(dir, { recursive: true, force: true }));
  }));
  return r;
}
