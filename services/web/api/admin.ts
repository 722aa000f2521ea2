/** Every admin-only API, mounted at /api. */
import express from 'express';
import type { WebDeps } from '../server.js';
import { diagnosticsRoutes } from './diagnostics.js';
import { extensionFeaturesRoutes } from './features.js';
import { mohRoutes } from './moh.js';
import { monitorRoutes } from './monitor.js';
import { officeRoutes } from './office.js';
import { portsRoutes } from './ports.js';
import { receptionistRoutes } from './receptionist.js';
import { systemRoutes } from './system.js';

export function adminRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use(officeRoutes(deps));
  r.use(extensionFeaturesRoutes(deps));
  r.use(receptionistRoutes(deps));
  r.use(systemRoutes(deps));
  r.use(monitorRoutes(deps));
  r.use(diagnosticsRoutes(deps));
  r.use(mohRoutes(deps));
  r.use(portsRoutes(deps));
  return r;
}
