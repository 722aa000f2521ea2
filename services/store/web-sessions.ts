/**
 * Web UI sessions, one row each, so a restart of the web process logs nobody out and several web
 * workers could share them. The data is the session object express-session keeps, as JSON.
 */
import type { Db } from './db.js';

export interface WebSessionRepository {
  /** The session's JSON, or null when absent or expired at `nowMs`. */
  get(sid: string, nowMs: number): string | null;
  set(sid: string, data: string, expiresAt: number): void;
  touch(sid: string, expiresAt: number): void;
  destroy(sid: string): void;
  /** Every session of a user ends (password changed, user removed): returns how many. */
  destroyWhere(predicate: (data: string) => boolean): number;
  purgeExpired(nowMs: number): number;
}

export function createWebSessionRepository(db: Db): WebSessionRepository {
  const select = db.prepare<[string, number], { data: string }>('SELECT data FROM web_sessions WHERE sid = ? AND expires_at > ?');
  const upsert = db.prepare<[string, number, string]>(
    `INSERT INTO web_sessions (sid, expires_at, data) VALUES (?, ?, ?)
     ON CONFLICT (sid) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data`,
  );
  const touch = db.prepare<[number, string]>('UPDATE web_sessions SET expires_at = ? WHERE sid = ?');
  const remove = db.prepare<[string]>('DELETE FROM web_sessions WHERE sid = ?');
  const all = db.prepare<[], { sid: string; data: string }>('SELECT sid, data FROM web_sessions');
  const purge = db.prepare<[number]>('DELETE FROM web_sessions WHERE expires_at <= ?');
  return {
    get: (sid, nowMs) => select.get(sid, nowMs)?.data ?? null,
    set: (sid, data, expiresAt) => void upsert.run(sid, expiresAt, data),
    touch: (sid, expiresAt) => void touch.run(expiresAt, sid),
    destroy: (sid) => void remove.run(sid),
    destroyWhere(predicate) {
      let n = 0;
      for (const row of all.all()) if (predicate(row.data)) n += remove.run(row.sid).changes;
      return n;
    },
    purgeExpired: (nowMs) => purge.run(nowMs).changes,
  };
}
