/**
 * `pbxctl backup FILE`: a consistent copy of the live database by SQLite's online backup API
 * (better-sqlite3 `db.backup()`), safe while the pbx runs and writes; never a file copy, which could
 * catch the main file and its WAL at different moments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Failure, out, positionals, printJson, withStore, type CommandGroup } from './cli.js';

export const backupCommands: CommandGroup = {
  name: 'backup',
  usage: '  backup FILE [--json]     copy the live database to FILE (SQLite online backup; FILE must not exist)',
  async run({ config, json }, args) {
    const [target] = positionals(args, ['FILE'], 'backup');
    const file = path.resolve(target as string);
    if (fs.existsSync(file)) throw new Failure(`${file} exists: choose a new file name`);
    await withStore(config, async (store) => {
      if (path.resolve(store.path) === file) throw new Failure('the backup cannot be the database itself');
      try {
        await store.backup(file);
      } catch (error) {
        fs.rmSync(file, { force: true });
        throw new Failure(`backup to ${file} failed: ${(error as Error).message}`);
      }
    });
    const bytes = fs.statSync(file).size;
    if (json) printJson({ file, bytes });
    else out(`database backed up to ${file} (${bytes} bytes); to restore it see docs/operations.md`);
  },
};
