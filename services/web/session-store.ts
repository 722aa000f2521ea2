/** express-session's store over the SQLite store (services/store/web-sessions.ts). */
import session from 'express-session';
import type { WebSessionRepository } from '../store/web-sessions.js';

export class SqliteSessionStore extends session.Store {
  readonly #repo: WebSessionRepository;
  readonly #ttlMs: number;

  constructor(repo: WebSessionRepository, ttlMs: number) {
    super();
    this.#repo = repo;
    this.#ttlMs = ttlMs;
  }

  #expiry(data: session.SessionData): number {
    const expires = data.cookie?.expires;
    return expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : Date.now() + this.#ttlMs;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    try {
      const json = this.#repo.get(sid, Date.now());
      callback(null, json === null ? null : (JSON.parse(json) as session.SessionData));
    } catch (error) {
      callback(error);
    }
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.#repo.set(sid, JSON.stringify(data), this.#expiry(data));
      callback?.();
    } catch (error) {
      callback?.(error);
    }
  }

  override touch(sid: string, data: session.SessionData, callback?: () => void): void {
    try {
      this.#repo.touch(sid, this.#expiry(data));
    } finally {
      callback?.();
    }
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    try {
      this.#repo.destroy(sid);
      callback?.();
    } catch (error) {
      callback?.(error);
    }
  }
}
