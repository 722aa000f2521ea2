/**
 * Who is asking: login, logout, the first-login password change, and the guards every API route
 * sits behind. Passwords are the store's scrypt hashes; a login regenerates the session (no
 * fixation); a failed login is a warn log line with the source address and the name tried, and
 * ten failures from one address in 15 minutes are answered 429 (express-rate-limit).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store, User } from '../store/types.js';
import { password as passwordSchema } from '../store/validation.js';
import { HttpError } from './http-error.js';
import { parseBody } from './validate.js';

declare module 'express-session' {
  interface SessionData {
    userId?: number;
    csrfToken?: string;
  }
}

export interface PublicUser {
  id: number;
  username: string;
  displayName: string;
  role: User['role'];
  language: User['language'];
  extension: string | null;
  email: string | null;
  mustChangePassword: boolean;
}

export function publicUser(user: User): PublicUser {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    role: user.role,
    language: user.language,
    extension: user.extension,
    email: user.email,
    mustChangePassword: user.mustChangePassword,
  };
}

/** The logged-in user of this request (set by `loadUser`); only behind `requireUser`. */
export function currentUser(res: Response): User {
  const user = res.locals['user'] as User | undefined;
  if (user === undefined) throw new HttpError(401, 'login-required', 'log in first');
  return user;
}

export function loadUser(store: Pick<Store, 'users'>): RequestHandler {
  return (req, res, next) => {
    const id = req.session.userId;
    if (id !== undefined) {
      // Read at every request: a role change or a removed user takes effect at once.
      const user = store.users.get(id);
      if (user === null) delete req.session.userId;
      else res.locals['user'] = user;
    }
    next();
  };
}

/** Paths a user who must change their password may still reach. */
const BEFORE_PASSWORD_CHANGE = new Set(['/session', '/session/password', '/session/logout']);

export const requireUser: RequestHandler = (req, res, next) => {
  const user = res.locals['user'] as User | undefined;
  if (user === undefined) return next(new HttpError(401, 'login-required', 'log in first'));
  if (user.mustChangePassword && !BEFORE_PASSWORD_CHANGE.has(req.path)) {
    return next(new HttpError(403, 'password-change-required', 'choose a new password first'));
  }
  next();
};

export const requireAdmin: RequestHandler = (_req, res, next) => {
  const user = res.locals['user'] as User | undefined;
  if (user === undefined) return next(new HttpError(401, 'login-required', 'log in first'));
  if (user.role !== 'admin') return next(new HttpError(403, 'forbidden', 'only an administrator may do this'));
  next();
};

const loginSchema = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();
const passwordChangeSchema = z.object({ current: z.string().min(1).max(256), next: passwordSchema }).strict();

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((error: unknown) => (error ? reject(error) : resolve())));
}

export interface SessionRoutesDeps {
  store: Pick<Store, 'users' | 'webSessions'>;
  log: Logger;
  csrfToken(req: Request, overwrite?: boolean): string;
  /** Failed logins allowed per address per 15 minutes (default 10). */
  loginAttempts?: number;
}

/** /api/session: GET who am I (+ CSRF token), POST login, /logout, /password. */
export function sessionRoutes(deps: SessionRoutesDeps): express.Router {
  const router = express.Router();
  const limiter = rateLimit({
    windowMs: 15 * 60_000,
    limit: deps.loginAttempts ?? 10,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req: Request, res: Response) => {
      deps.log.warn({ source: req.ip }, 'web login: too many failures from this address');
      res.status(429).json({ error: { code: 'too-many-attempts', message: 'too many failed logins; wait 15 minutes' } });
    },
  });

  router.get('/session', (req, res) => {
    const user = res.locals['user'] as User | undefined;
    res.json({ user: user ? publicUser(user) : null, csrfToken: user ? deps.csrfToken(req) : null });
  });

  router.post('/session', limiter, async (req, res, next) => {
    try {
      const input = parseBody(loginSchema, req.body);
      const user = deps.store.users.verifyPassword(input.username, input.password);
      if (user === null) {
        deps.log.warn({ source: req.ip, username: input.username.slice(0, 64) }, 'web login failed');
        throw new HttpError(401, 'bad-credentials', 'wrong user name or password');
      }
      await regenerate(req);
      req.session.userId = user.id;
      deps.log.info({ source: req.ip, username: user.username }, 'web login');
      res.json({ user: publicUser(user), csrfToken: deps.csrfToken(req, true) });
    } catch (error) {
      next(error);
    }
  });

  router.post('/session/logout', requireUser, (req, res, next) => {
    req.session.destroy((error: unknown) => (error ? next(error) : res.json({ ok: true })));
  });

  router.post('/session/password', requireUser, async (req, res, next) => {
    try {
      const user = currentUser(res);
      const input = parseBody(passwordChangeSchema, req.body);
      if (deps.store.users.verifyPassword(user.username, input.current) === null) {
        throw new HttpError(400, 'invalid', 'the current password is wrong', { current: 'wrong-password' });
      }
      if (input.next === input.current) throw new HttpError(400, 'invalid', 'choose a different password', { next: 'same-password' });
      deps.store.users.setPassword(user.id, input.next, false);
      // Every other session of this user ends: whoever knew the old password is out.
      const sid = req.sessionID;
      deps.store.webSessions.destroyWhere((data) => sessionUser(data) === user.id);
      await regenerate(req);
      req.session.userId = user.id;
      deps.log.info({ username: user.username, previousSession: sid.slice(0, 6) }, 'web password changed');
      const updated = deps.store.users.get(user.id);
      res.json({ user: updated ? publicUser(updated) : null, csrfToken: deps.csrfToken(req, true) });
    } catch (error) {
      next(error);
    }
  });
  return router;
}

function sessionUser(json: string): number | null {
  try {
    const data = JSON.parse(json) as { userId?: unknown };
    return typeof data.userId === 'number' ? data.userId : null;
  } catch {
    return null;
  }
}

/** Wraps an async handler so a rejection reaches the error handler. */
export function route(handler: (req: Request, res: Response) => unknown): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(next);
  };
}
