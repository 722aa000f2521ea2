/** Every admin-only API, mounted at /api. */
import express from 'express';
import type { WebDeps } from '../server.js';
import { diagnosticsRoutes } from './diagnostics.js';
import { monitorRoutes } from './monitor.js';
import { officeRoutes } from './office.js';

export function adminRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use(officeRoutes(deps));
  r.use(monitorRoutes(deps));
  r.use(diagnosticsRoutes(deps));
  return r;
}
