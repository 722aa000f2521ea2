/**
 * The web UI's HTTP application: security headers (helmet), sessions in SQLite (express-session),
 * CSRF tokens bound to the session (csrf-sync, `X-CSRF-Token` on every state-changing request),
 * the REST API under /api/, and the prebuilt browser app. It reaches the pbx only through the
 * store and the control socket (LiveState); it imports no SIP or media code.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { csrfSync } from 'csrf-sync';
import express, { type Express } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { CountryCode } from '../pbx/routing/phone-numbers.js';
import type { Store } from '../store/types.js';
import { adminRoutes } from './api/admin.js';
import { faxWebRoutes } from './api/fax.js';
import { meRoutes } from './api/me.js';
import { portingRoutes } from './api/porting.js';
import { voicemailRoutes } from './api/voicemail.js';
import { loadUser, requireUser, sessionRoutes } from './auth.js';
import { errorHandler, HttpError } from './http-error.js';
import type { LiveState } from './live.js';
import { SqliteSessionStore } from './session-store.js';

export interface WebDeps {
  store: Store;
  live: LiveState;
  log: Logger;
  country: CountryCode;
  dataDir: string;
  version: string;
  /** Secret the session cookie is signed with (kept in the store's settings). */
  sessionSecret: string;
  /** Failed logins allowed per address per 15 minutes. */
  loginAttempts?: number;
  /** Upload size limits (defaults in api/system.ts). */
  uploadLimits?: { firmwareBytes?: number; restoreBytes?: number };
}

export const SESSION_COOKIE = '__Host-pbx.sid';
const SESSION_TTL_MS = 8 * 3600_000;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the browser app's files are: its compiled scripts, its page and styles, its translations. */
export const WEB_FILES = {
  app: path.join(repoRoot, 'dist/web-ui/app'),
  static: path.join(repoRoot, 'web-ui/static'),
  locales: path.join(repoRoot, 'web-ui/locales'),
  i18next: path.join(repoRoot, 'node_modules/i18next/dist/esm/i18next.js'),
};

export function createWebApp(deps: WebDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // The box is reached directly (no proxy): req.ip is the socket's address, as the rate limit needs.
  app.set('trust proxy', false);
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          mediaSrc: ["'self'", 'blob:'],
          connectSrc: ["'self'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'"],
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );

  const staticOptions = { index: false, maxAge: '1h' } as const;
  app.use('/app', express.static(WEB_FILES.app, staticOptions));
  app.use('/static', express.static(WEB_FILES.static, staticOptions));
  app.use('/locales', express.static(WEB_FILES.locales, staticOptions));
  app.get('/vendor/i18next.js', (_req, res) => res.sendFile(WEB_FILES.i18next));

  app.use(
    session({
      name: SESSION_COOKIE,
      secret: deps.sessionSecret,
      store: new SqliteSessionStore(deps.store.webSessions, SESSION_TTL_MS),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: SESSION_TTL_MS },
    }),
  );
  const csrf = csrfSync({ getTokenFromRequest: (req) => req.get('x-csrf-token') });

  const api = express.Router();
  api.use(express.json({ limit: '256kb' }));
  api.use(loadUser(deps.store));
  // Login needs no token (there is no session yet); everything else that changes state does.
  api.use((req, res, next) => (req.method === 'POST' && req.path === '/session' ? next() : csrf.csrfSynchronisedProtection(req, res, next)));
  api.use(sessionRoutes({ store: deps.store, log: deps.log, csrfToken: (req, overwrite) => csrf.generateToken(req, overwrite), ...(deps.loginAttempts ? { loginAttempts: deps.loginAttempts } : {}) }));
  api.use(requireUser);
  api.use('/me', meRoutes(deps));
  api.use('/porting', portingRoutes(deps));
  api.use(voicemailRoutes(deps), faxWebRoutes(deps));
  api.use(adminRoutes(deps));
  api.use((req, _res, next) => next(new HttpError(404, 'not-found', `no API at ${req.method} ${req.path}`)));
  app.use('/api', api);

  // Every other path is the single-page app (its router reads the path).
  app.get(/^\/(?!api\/|app\/|static\/|locales\/|vendor\/).*/, (_req, res) => res.sendFile(path.join(WEB_FILES.static, 'index.html')));
  app.use(errorHandler(deps.log));
  return app;
}
