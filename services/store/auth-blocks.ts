/** Sources blocked after repeated authentication failures, shared with the web UI to show and lift them. */
import type { Db } from './db.js';
import type { AuthBlock, AuthBlockRepository } from './types.js';

interface AuthBlockRow {
  source: string;
  identity: string | null;
  failures: number;
  reason: string;
  blocked_until: number;
  created_at: number;
}

export function createAuthBlockRepository(db: Db): AuthBlockRepository {
  const upsert = db.prepare(
    `INSERT INTO auth_blocks (source, identity, failures, reason, blocked_until, created_at)
     VALUES (@source, @identity, @failures, @reason, @blockedUntil, @createdAt)
     ON CONFLICT (source) DO UPDATE SET identity = excluded.identity, failures = excluded.failures,
       reason = excluded.reason, blocked_until = excluded.blocked_until`,
  );
  const deleteOne = db.prepare<[string]>('DELETE FROM auth_blocks WHERE source = ?');
  const active = db.prepare<[number], AuthBlockRow>(
    'SELECT * FROM auth_blocks WHERE blocked_until > ? ORDER BY blocked_until DESC',
  );
  return {
    upsert: (block: AuthBlock) => void upsert.run(block),
    remove: (source: string) => deleteOne.run(source).changes > 0,
    active: (nowMs: number) =>
      active.all(nowMs).map((row) => ({
        source: row.source,
        identity: row.identity,
        failures: row.failures,
        reason: row.reason,
        blockedUntil: row.blocked_until,
        createdAt: row.created_at,
      })),
  };
}
