/**
 * Where voicemail lives on disk and how it gets there without ever losing or half-writing a message.
 *
 *   <dataDir>/voicemail/<ext>/msg-<time>-<rand>.wav   messages (8 kHz mono 16-bit PCM WAV)
 *   <dataDir>/voicemail/<ext>/greeting-unavailable.wav, greeting-busy.wav, name.wav
 *
 * A message is recorded into a temporary file (`.msg-….partial-<pid>-…`, WavRecorder); when it ends
 * the file is fsynced, renamed to its final name, the directory fsynced, and only then is its row
 * committed. So after a kill -9 at any moment: a partial file (swept at start), a complete file
 * without a row (swept at start), or the whole message with its row. Deleting goes the other way:
 * row first, then the file (a crash in between leaves an orphan file, swept at start).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { removeStalePartials, WavRecorder } from '../media/recorder/recorder.js';
import type { NewVoicemailMessage, VoicemailMessage, VoicemailRepository } from '../store/voicemail.js';

export type GreetingKind = 'unavailable' | 'busy' | 'name';

const MESSAGE_FILE = /^msg-[0-9]+-[0-9a-f]+\.wav$/;

export interface SweepResult {
  partials: number;
  orphanFiles: number;
  rowsWithoutAudio: number;
  expired: number;
}

export class VoicemailStorage {
  readonly root: string;
  readonly #repo: VoicemailRepository;
  readonly #log: Logger;

  constructor(dataDir: string, repo: VoicemailRepository, logger: Logger) {
    this.root = path.join(dataDir, 'voicemail');
    this.#repo = repo;
    this.#log = logger.child({ module: 'voicemail-storage' });
  }

  boxDir(extension: string): string {
    if (!/^\d{2,6}$/.test(extension)) throw new RangeError(`not an extension: ${extension}`);
    return path.join(this.root, extension);
  }

  audioPath(message: Pick<VoicemailMessage, 'box' | 'file'>): string {
    return path.join(this.boxDir(message.box), message.file);
  }

  greetingPath(extension: string, kind: GreetingKind): string {
    return path.join(this.boxDir(extension), kind === 'name' ? 'name.wav' : `greeting-${kind}.wav`);
  }

  hasGreeting(extension: string, kind: GreetingKind): boolean {
    return fs.existsSync(this.greetingPath(extension, kind));
  }

  /** A recorder writing a new message of `extension` (temporary file until `commit`). */
  async startMessage(extension: string, maxSeconds: number): Promise<WavRecorder> {
    const dir = this.boxDir(extension);
    await fsp.mkdir(dir, { recursive: true });
    const name = `msg-${Date.now()}-${randomBytes(4).toString('hex')}.wav`;
    return WavRecorder.create(path.join(dir, name), { maxSeconds });
  }

  /** Publishes the recording (fsync, rename, fsync dir), then commits its row. */
  async commit(recorder: WavRecorder, meta: Omit<NewVoicemailMessage, 'file' | 'bytes' | 'durationMs'>): Promise<VoicemailMessage> {
    const result = await recorder.finish();
    try {
      return this.#repo.add({ ...meta, file: path.basename(result.path), bytes: result.bytes, durationMs: result.durationMs });
    } catch (error) {
      // The row could not be written: the file must not stay as an orphan.
      await fsp.rm(result.path, { force: true });
      throw error;
    }
  }

  /** A greeting or the recorded name, replacing the previous one atomically. */
  async startGreeting(extension: string, kind: GreetingKind, maxSeconds: number): Promise<WavRecorder> {
    await fsp.mkdir(this.boxDir(extension), { recursive: true });
    return WavRecorder.create(this.greetingPath(extension, kind), { maxSeconds });
  }

  async removeGreeting(extension: string, kind: GreetingKind): Promise<boolean> {
    try {
      await fsp.rm(this.greetingPath(extension, kind));
      return true;
    } catch {
      return false;
    }
  }

  /** Row first, then the audio. */
  async remove(id: number): Promise<VoicemailMessage | null> {
    const message = this.#repo.get(id);
    if (message === null) return null;
    if (!this.#repo.remove(id)) return null;
    await fsp.rm(this.audioPath(message), { force: true });
    return message;
  }

  /**
   * Start-up: temporary files of dead writers, message files without a row, rows without their
   * audio, and messages past the retention. Runs before the pbx takes calls.
   */
  async sweep(retentionDays: number, now = Date.now()): Promise<SweepResult> {
    const result: SweepResult = { partials: 0, orphanFiles: 0, rowsWithoutAudio: 0, expired: 0 };
    const rows = this.#repo.all();
    const known = new Set(rows.map((m) => `${m.box}/${m.file}`));
    for (const message of rows) {
      if (!fs.existsSync(this.audioPath(message))) {
        this.#repo.remove(message.id);
        result.rowsWithoutAudio++;
        this.#log.warn({ box: message.box, id: message.id, file: message.file }, 'message row without audio removed');
      }
    }
    let boxes: string[] = [];
    try {
      boxes = (await fsp.readdir(this.root, { withFileTypes: true })).filter((d) => d.isDirectory() && /^\d{2,6}$/.test(d.name)).map((d) => d.name);
    } catch {
      // no voicemail yet
    }
    for (const box of boxes) {
      const dir = this.boxDir(box);
      result.partials += (await removeStalePartials(dir)).length;
      for (const name of await fsp.readdir(dir)) {
        if (!MESSAGE_FILE.test(name) || known.has(`${box}/${name}`)) continue;
        await fsp.rm(path.join(dir, name), { force: true });
        result.orphanFiles++;
        this.#log.warn({ box, file: name }, 'message audio without a row removed');
      }
    }
    result.expired = (await this.expire(retentionDays, now)).length;
    return result;
  }

  /** Messages older than `retentionDays` (0: keep forever) are deleted. */
  async expire(retentionDays: number, now = Date.now()): Promise<VoicemailMessage[]> {
    if (retentionDays <= 0) return [];
    const limit = now - retentionDays * 86_400_000;
    const gone: VoicemailMessage[] = [];
    for (const message of this.#repo.all()) {
      if (message.receivedAt >= limit) continue;
      const removed = await this.remove(message.id);
      if (removed !== null) gone.push(removed);
    }
    if (gone.length > 0) this.#log.info({ deleted: gone.length, retentionDays }, 'messages past retention deleted');
    return gone;
  }
}
