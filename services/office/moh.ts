/**
 * Music on hold as pbxctl (`pbxctl moh`) and the web UI edit it: a class from an uploaded audio file
 * (converted once to 8 kHz mono by services/pbx/features/in-call/moh-files.ts), removing a class
 * and its file, which class an extension, number, ring group (or the whole box) plays to the
 * callers it holds, and the transfer settings. One implementation, so both editors refuse the same
 * things; errors are StoreErrors ('invalid' for what the user gave, 'not-found', 'conflict').
 */
import fs from 'node:fs';
import path from 'node:path';
import { AudioFileError, builtInTune, importMohFile, mohDir } from '../pbx/features/in-call/moh-files.js';
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

/**
 * Converts `file` and stores it as class `name` (replacing the class's music if it exists). A file
 * that is not audio, truncated, shorter than 0.5 s or longer than the limit is refused ('invalid')
 * and nothing is written.
 */
export async function addMohClass(store: MohStore, dataDir: string, name: string, file: string, sourceName: string): Promise<MohClassRow> {
  checkMohClassName(name);
  let stored: { file: string; seconds: number };
  try {
    stored = await importMohFile(dataDir, name, file);
  } catch (error) {
    if (error instanceof AudioFileError) throw new MohAudioError(error.reason, error.message);
    throw new MohAudioError('not-audio', error instanceof Error ? error.message : String(error));
  }
  return store.moh.put({ name, file: stored.file, sourceName, seconds: stored.seconds });
}

/** Removes class `name` and its file; false when there is no such class; 'conflict' while someone uses it. */
export function removeMohClass(store: MohStore, dataDir: string, name: string): boolean {
  const row = store.moh.get(name);
  if (!store.moh.remove(name)) return false;
  if (row !== null) fs.rmSync(path.join(mohDir(dataDir), row.file), { force: true });
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

/** Where class `name`'s playable file is: the stored one, else (the built-in `default`) null. */
export function mohClassFile(store: Pick<Store, 'moh'>, dataDir: string, name: string): string | null {
  const row = store.moh.get(name);
  return row === null ? null : path.join(path.resolve(mohDir(dataDir)), row.file);
}

export { builtInTune, DEFAULT_MOH_CLASS };
