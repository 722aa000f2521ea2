/** Web UI users. Passwords exist only as scrypt hashes. */
import type { Db } from './db.js';
import { hashPassword, verifyPasswordHash } from './passwords.js';
import { translateSqliteError } from './sqlite-errors.js';
import type { Language, NewUser, User, UserPatch, UserRepository, UserRole } from './types.js';
import { StoreError } from './types.js';
import { newUserSchema, parseOrThrow, password as passwordSchema, userPatchSchema } from './validation.js';

interface UserRow {
  id: number;
  username: string;
  display_name: string;
  email: string | null;
  role: UserRole;
  language: Language;
  extension: string | null;
  password_hash: string;
  must_change_password: number;
  created_at: string;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    role: row.role,
    language: row.language,
    extension: row.extension,
    mustChangePassword: row.must_change_password === 1,
    createdAt: row.created_at,
  };
}

export function createUserRepository(db: Db, defaultLanguage: Language = 'en'): UserRepository {
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const all = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY id');
  const insert = db.prepare(
    `INSERT INTO users (username, display_name, email, role, language, extension, password_hash, must_change_password, created_at)
     VALUES (@username, @displayName, @email, @role, @language, @extension, @passwordHash, @mustChange, @now)`,
  );
  const updatePassword = db.prepare<[string, number, number]>('UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?');
  const updateFields = db.prepare(
    `UPDATE users SET display_name = COALESCE(@displayName, display_name), email = CASE WHEN @setEmail THEN @email ELSE email END,
       role = COALESCE(@role, role), language = COALESCE(@language, language),
       extension = CASE WHEN @setExtension THEN @extension ELSE extension END WHERE id = @id`,
  );
  const deleteRow = db.prepare<[number]>('DELETE FROM users WHERE id = ?');

  const get = (id: number): User | null => {
    const row = byId.get(id);
    return row ? toUser(row) : null;
  };

  return {
    get,
    byUsername(username: string): User | null {
      const row = byName.get(username);
      return row ? toUser(row) : null;
    },
    list: () => all.all().map(toUser),
    add(input: NewUser): User {
      const valid = parseOrThrow(newUserSchema, input);
      let id: number;
      try {
        const info = insert.run({
          username: valid.username,
          displayName: valid.displayName,
          email: valid.email ?? null,
          role: valid.role,
          language: valid.language ?? defaultLanguage,
          extension: valid.extension ?? null,
          passwordHash: hashPassword(valid.password),
          mustChange: valid.mustChangePassword === true ? 1 : 0,
          now: new Date().toISOString(),
        });
        id = Number(info.lastInsertRowid);
      } catch (error) {
        translateSqliteError(error, {
          conflict: `user ${valid.username} already exists`,
          reference: `extension ${valid.extension ?? ''} does not exist`,
        });
      }
      const added = get(id);
      if (!added) throw new Error(`user ${valid.username} vanished after insert`);
      return added;
    },
    verifyPassword(username: string, password: string): User | null {
      const row = byName.get(username);
      // Hash even for an unknown user so the time taken does not reveal which names exist.
      const ok = verifyPasswordHash(password, row?.password_hash ?? DUMMY_HASH);
      return row && ok ? toUser(row) : null;
    },
    setPassword(id: number, password: string, mustChange = false): void {
      const valid = parseOrThrow(passwordSchema, password);
      if (updatePassword.run(hashPassword(valid), mustChange ? 1 : 0, id).changes === 0) {
        throw new StoreError('not-found', `user ${id} does not exist`);
      }
    },
    update(id: number, patch: UserPatch): User | null {
      const valid = parseOrThrow(userPatchSchema, patch);
      try {
        updateFields.run({
          id,
          displayName: valid.displayName ?? null,
          setEmail: valid.email !== undefined ? 1 : 0,
          email: valid.email ?? null,
          role: valid.role ?? null,
          language: valid.language ?? null,
          setExtension: valid.extension !== undefined ? 1 : 0,
          extension: valid.extension ?? null,
        });
      } catch (error) {
        translateSqliteError(error, { conflict: 'conflict', reference: `extension ${valid.extension ?? ''} does not exist` });
      }
      return get(id);
    },
    remove: (id: number) => deleteRow.run(id).changes > 0,
  };
}

// The hash of a random password nobody knows, in the stored form: an unknown user costs the same
// scrypt as a known one. A constant, not hashed at import: that was ~50 ms of CPU (more on a busy
// box) at every start of every process that opens the store.
const DUMMY_HASH = 'scrypt$16384$8$1$34RwZkcv0bQLTMR5j568zw==$MSZODzYI8G/5YGGp+SRnm1kItiqPvI6+pZtANWmpCus=';
