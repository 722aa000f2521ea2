/**
 * Persisted contact bindings (RFC 3261 §10.3), so registrations survive a restart of the pbx.
 * The registrar keeps its own view in memory and writes through here.
 */
import type { Db } from './db.js';
import { translateSqliteError } from './sqlite-errors.js';
import type { BindingTransport, Registration, RegistrationRepository } from './types.js';

interface RegistrationRow {
  aor: string;
  contact_uri: string;
  instance_id: string | null;
  call_id: string;
  cseq: number;
  expires_at: number;
  q: number | null;
  transport: BindingTransport;
  source_address: string;
  source_port: number;
  user_agent: string | null;
  registered_at: number;
}

function toRegistration(row: RegistrationRow): Registration {
  return {
    aor: row.aor,
    contactUri: row.contact_uri,
    instanceId: row.instance_id,
    callId: row.call_id,
    cseq: row.cseq,
    expiresAt: row.expires_at,
    q: row.q,
    transport: row.transport,
    sourceAddress: row.source_address,
    sourcePort: row.source_port,
    userAgent: row.user_agent,
    registeredAt: row.registered_at,
  };
}

export function createRegistrationRepository(db: Db): RegistrationRepository {
  const upsert = db.prepare(
    `INSERT INTO registrations (aor, contact_uri, instance_id, call_id, cseq, expires_at, q, transport,
       source_address, source_port, user_agent, registered_at)
     VALUES (@aor, @contactUri, @instanceId, @callId, @cseq, @expiresAt, @q, @transport,
       @sourceAddress, @sourcePort, @userAgent, @registeredAt)
     ON CONFLICT (aor, contact_uri) DO UPDATE SET instance_id = excluded.instance_id, call_id = excluded.call_id,
       cseq = excluded.cseq, expires_at = excluded.expires_at, q = excluded.q, transport = excluded.transport,
       source_address = excluded.source_address, source_port = excluded.source_port,
       user_agent = excluded.user_agent, registered_at = excluded.registered_at`,
  );
  const deleteOne = db.prepare<[string, string]>('DELETE FROM registrations WHERE aor = ? AND contact_uri = ?');
  const deleteAor = db.prepare<[string]>('DELETE FROM registrations WHERE aor = ?');
  const byAor = db.prepare<[string], RegistrationRow>(
    'SELECT * FROM registrations WHERE aor = ? ORDER BY q DESC NULLS LAST, registered_at DESC',
  );
  const all = db.prepare<[], RegistrationRow>('SELECT * FROM registrations ORDER BY aor, registered_at');
  const purge = db.prepare<[number]>('DELETE FROM registrations WHERE expires_at <= ?');

  return {
    upsert(registration: Registration): void {
      try {
        upsert.run(registration);
      } catch (error) {
        translateSqliteError(error, {
          conflict: `binding ${registration.aor} ${registration.contactUri} conflicts`,
          reference: `extension ${registration.aor} does not exist`,
        });
      }
    },
    remove: (aor: string, contactUri: string) => deleteOne.run(aor, contactUri).changes > 0,
    removeAor: (aor: string) => deleteAor.run(aor).changes,
    byAor: (aor: string) => byAor.all(aor).map(toRegistration),
    all: () => all.all().map(toRegistration),
    purgeExpired: (nowMs: number) => purge.run(nowMs).changes,
  };
}
