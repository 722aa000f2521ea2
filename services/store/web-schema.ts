/**
 * What the web UI adds to the store (migration 13): browser sessions, the first-login password
 * change, and number porting requests with their status history and the outbox the cloud sync
 * agent will read. Lists inside a request (the numbers to port, the service address) are JSON
 * columns validated by zod on every write and read (services/porting/request.ts).
 */
import type { Migration } from './migrations.js';

export const WEB_MIGRATION: Migration = {
  version: 13,
  name: 'web sessions, first-login password change, number porting',
  up(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0,1));
      -- The first admin's password was printed on the console: it must be changed at first login.
      UPDATE users SET must_change_password = 1 WHERE id = (SELECT MIN(id) FROM users WHERE role = 'admin');
      CREATE TABLE web_sessions (
        sid        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL,
        data       TEXT NOT NULL
      );
      CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
      CREATE TABLE porting_requests (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        request       TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('submitted','foc','ported','test-call','completed','rejected')),
        foc_date      TEXT,
        reason        TEXT,
        created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      CREATE TABLE porting_events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES porting_requests(id) ON DELETE CASCADE,
        status     TEXT NOT NULL,
        date       TEXT,
        reason     TEXT,
        at         TEXT NOT NULL
      );
      CREATE INDEX porting_events_request ON porting_events(request_id, id);
      -- Requests waiting for the cloud sync agent (a later issue) to hand them to the carrier.
      CREATE TABLE porting_outbox (
        request_id INTEGER PRIMARY KEY REFERENCES porting_requests(id) ON DELETE CASCADE,
        queued_at  TEXT NOT NULL,
        sent_at    TEXT
      );
    `);
  },
};
