/**
 * Authentication blocks per (source address, extension), and the known phones (an extension that
 * authenticated from an address) that no block may touch. The pbx process writes both; `pbxctl
 * block` and the web UI list and lift blocks. Shapes match the access policy's narrow interfaces
 * (services/sip/security/access-policy.ts) without importing SIP.
 */
import type { Db } from './db.js';
import type { AuthBlock, AuthBlockRepository, KnownDevice, KnownDeviceRepository } from './types.js';

interface AuthBlockRow {
  source: string;
  extension: string;
  failures: number;
  reason: string;
  blocked_until: number;
  created_at: number;
}

export function createAuthBlockRepository(db: Db): AuthBlockRepository {
  const upsert = db.prepare(
    `INSERT INTO auth_blocks (source, extension, failures, reason, blocked_until, created_at)
     VALUES (@source, @extension, @failures, @reason, @blockedUntil, @createdAt)
     ON CONFLICT (source, extension) DO UPDATE SET failures = excluded.failures,
       reason = excluded.reason, blocked_until = excluded.blocked_until`,
  );
  const deleteOne = db.prepare<[string, string]>('DELETE FROM auth_blocks WHERE source = ? AND extension = ?');
  const deleteSource = db.prepare<[string]>('DELETE FROM auth_blocks WHERE source = ?');
  const active = db.prepare<[number], AuthBlockRow>(
    'SELECT * FROM auth_blocks WHERE blocked_until > ? ORDER BY blocked_until DESC, source, extension',
  );
  return {
    upsert: (block: AuthBlock) => void upsert.run(block),
    remove: (source: string, extension?: string) =>
      (extension === undefined ? deleteSource.run(source) : deleteOne.run(source, extension)).changes,
    active: (nowMs: number) =>
      active.all(nowMs).map((row) => ({
        source: row.source,
        extension: row.extension,
        failures: row.failures,
        reason: row.reason,
        blockedUntil: row.blocked_until,
        createdAt: row.created_at,
      })),
  };
}

interface KnownDeviceRow {
  address: string;
  extension: string;
  last_success_at: number;
}

export function createKnownDeviceRepository(db: Db): KnownDeviceRepository {
  // An extension deleted since (or never stored: a test realm) is skipped, not an error.
  const touch = db.prepare(
    `INSERT INTO known_devices (address, extension, last_success_at)
     SELECT @address, @extension, @lastSuccessAt WHERE EXISTS (SELECT 1 FROM extensions WHERE number = @extension)
     ON CONFLICT (address, extension) DO UPDATE SET last_success_at = MAX(last_success_at, excluded.last_success_at)`,
  );
  const since = db.prepare<[number], KnownDeviceRow>('SELECT * FROM known_devices WHERE last_success_at >= ?');
  const purge = db.prepare<[number]>('DELETE FROM known_devices WHERE last_success_at < ?');
  const touchAll = db.transaction((devices: readonly KnownDevice[]) => {
    for (const device of devices) touch.run(device);
  });
  return {
    touch: (devices) => {
      if (devices.length > 0) touchAll(devices);
    },
    since: (sinceMs) => since.all(sinceMs).map((row) => ({ address: row.address, extension: row.extension, lastSuccessAt: row.last_success_at })),
    purgeBefore: (beforeMs) => purge.run(beforeMs).changes,
  };
}
