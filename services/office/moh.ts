/**
 * Music on hold as pbxctl (`pbxctl moh`) and the web UI edit it: a class from an uploaded audio file
 * (converted once to 8 kHz mono by services/pbx/features/in-call/moh-files.ts), removing a class
 * and its file, which class an extension, number, ring group (or the whole box) plays to the
 * callers it holds, and the transfer settings. One implementation, so both editors refuse the same
 * things; errors are StoreErrors ('invalid' for what the user gave, 'not-found', 'conflict').
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AudioFileError, builtInTune, importMohFile, MAX_MOH_CLASS_SECONDS, mohDir } from '../pbx/features/in-call/moh-files.js';
import { DEFAULT_MOH_CLASS, validMohClassName, type MohClassRow } from '../store/in-call-schema.js';
import { StoreError, type Store } from '../store/types.js';

type MohStore = Pick<Store, 'moh' | 'extensions'>;

/** Who a class is chosen for: the owner strings of the `moh_choices` table. */
export type MohTarget = { kind: 'extension'; number: string } | { kind: 'number'; e164: string } | { kind: 'ring-group'; name: string } | { kind: 'default' };

/** An upload refused for what it holds: `reason` says why (not audio, too short, too long). */
export class MohAudioError extends StoreError {
  constructor(
    readonly reason: AudioFileError['reason'],
    message: string,
  ) {
    super('invalid', message);
  }
}

export function checkMohClassName(name: string): void {
  if (!validMohClassName(name)) throw new StoreError('invalid', `class name ${JSON.stringify(name)}: lower-case letters, digits, - and _ (at most 32)`);
}

async function convert(dataDir: string, name: string, file: string, stored?: string): Promise<{ file: string; seconds: number }> {
  try {
    return await importMohFile(dataDir, name, file, stored);
  } catch (error) {
    if (error instanceof AudioFileError) throw new MohAudioError(error.reason, error.message);
    throw new MohAudioError('not-audio', error instanceof Error ? error.message : String(error));
  }
}

const dropFiles = (dataDir: string, files: readonly string[]): void => {
  for (const f of files) fs.rmSync(path.join(mohDir(dataDir), f), { force: true });
};

/**
 * Converts `file` and makes it class `name`'s only music (a new class, or the whole playlist
 * replaced: `pbxctl moh add NAME FILE`). A file that is not audio, truncated, shorter than 0.5 s
 * or longer than the limit is refused ('invalid') and nothing is written.
 */
export async function addMohClass(store: MohStore, dataDir: string, name: string, file: string, sourceName: string): Promise<MohClassRow> {
  checkMohClassName(name);
  const before = store.moh.get(name)?.files.map((f) => f.file) ?? [];
  const stored = await convert(dataDir, name, file);
  const saved = store.moh.put({ name, file: stored.file, sourceName, seconds: stored.seconds });
  dropFiles(dataDir, before.filter((f) => f !== stored.file));
  return saved;
}

/**
 * Converts `file` and appends it to class `name`'s playlist (a new class when there is none:
 * `pbxctl moh add NAME FILE --append`). The playlist stays within MAX_MOH_CLASS_SECONDS.
 */
export async function addMohFile(store: MohStore, dataDir: string, name: string, file: string, sourceName: string): Promise<MohClassRow> {
  checkMohClassName(name);
  const existing = store.moh.get(name);
  // The first file of a class keeps the name version 7 gave it; the others get their own.
  const storedName = existing === null ? `${name}.wav` : `${name}--${randomBytes(4).toString('hex')}.wav`;
  const stored = await convert(dataDir, name, file, storedName);
  const total = (existing?.seconds ?? 0) + stored.seconds;
  if (total > MAX_MOH_CLASS_SECONDS) {
    dropFiles(dataDir, [stored.file]);
    throw new MohAudioError('too-long', `class ${name} would play ${Math.round(total)} s: a class plays at most ${MAX_MOH_CLASS_SECONDS} s`);
  }
  return store.moh.addFile(name, { file: stored.file, sourceName, seconds: stored.seconds });
}

/** Drops one file of a class (the class with its last file); null when there is no such file. */
export function removeMohFile(store: MohStore, dataDir: string, name: string, file: string): 'file' | 'class' | null {
  const removed = store.moh.removeFile(name, file);
  if (removed !== null) dropFiles(dataDir, [file]);
  return removed;
}

/** Removes class `name` and its files; false when there is no such class; 'conflict' while someone uses it. */
export function removeMohClass(store: MohStore, dataDir: string, name: string): boolean {
  const row = store.moh.get(name);
  if (!store.moh.remove(name)) return false;
  if (row !== null) dropFiles(dataDir, row.files.map((f) => f.file));
  return true;
}

export function mohOwner(target: MohTarget): string {
  switch (target.kind) {
    case 'extension':
      return `extension:${target.number}`;
    case 'number':
      return `number:${target.e164}`;
    case 'ring-group':
      return `ring-group:${target.name}`;
    case 'default':
      return 'default';
  }
}

/** Chooses `className` (null: back to the next rule) for `target`; the extension must exist, the class too. */
export function chooseMohClass(store: MohStore, target: MohTarget, className: string | null): string {
  if (target.kind === 'extension' && store.extensions.get(target.number) === null) throw new StoreError('not-found', `extension ${target.number} does not exist`);
  const owner = mohOwner(target);
  store.moh.choose(owner, className);
  return owner;
}

/** The class a transfer-music or hold with no other rule plays: the box's choice, else `default`. */
export function boxDefaultClass(store: Pick<Store, 'moh'>): string {
  return store.moh.choiceOf('default') ?? DEFAULT_MOH_CLASS;
}

/** Where class `name`'s files are, in playing order; null when there is no such class (the built-in `default` included). */
export function mohClassFiles(store: Pick<Store, 'moh'>, dataDir: string, name: string): string[] | null {
  const row = store.moh.get(name);
  return row === null ? null : row.files.map((f) => path.join(path.resolve(mohDir(dataDir)), f.file));
}

export { builtInTune, DEFAULT_MOH_CLASS };
