/** Maps SQLite constraint failures onto StoreError so callers never see driver errors. */
import Database from 'better-sqlite3';
import { StoreError } from './types.js';

export function translateSqliteError(error: unknown, what: { conflict: string; reference?: string }): never {
  if (error instanceof Database.SqliteError) {
    if (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || error.code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new StoreError('conflict', what.conflict);
    }
    if (error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      throw new StoreError('invalid', what.reference ?? 'refers to a record that does not exist');
    }
    if (error.code === 'SQLITE_CONSTRAINT_CHECK' || error.code === 'SQLITE_CONSTRAINT_NOTNULL') {
      throw new StoreError('invalid', error.message);
    }
  }
  throw error;
}
