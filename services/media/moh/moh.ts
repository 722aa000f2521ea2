// Music on hold. A class is a playlist of uploaded WAV files, decoded and resampled to 8 kHz ONCE at load
// (and cached by path, size and mtime across reloads). Each class has ONE cursor: every 20 ms tick()
// produces one frame per class that has listeners and hands that same frame to every held caller, so
// a hundred callers on hold cost one stream, not a hundred decoders. A caller put on hold mid-stream
// hears from the current position, like a radio. The G.711 encoding of a frame is also done once per
// class and law, on demand.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FRAME_SAMPLES, SAMPLE_RATE, g711Encode, type G711Law } from '../codec/g711.js';
import { readWavFileOffThread } from '../wav/wav.js';

export type MohListener = (frame: Int16Array, cls: MohClass) => void;

export interface MohSubscription {
  readonly className: string;
  release(): void;
}

interface CacheEntry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly pcm: Int16Array;
}

/** Decoded files, shared by every class and reload. */
const decodeCache = new Map<string, CacheEntry>();

/** Decodes `file` to 8 kHz mono unless the same (size, mtime) version was decoded before. */
export async function loadAudioFile(file: string): Promise<Int16Array> {
  const abs = path.resolve(file);
  const st = await fsp.stat(abs);
  const hit = decodeCache.get(abs);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.pcm;
  const pcm = await readWavFileOffThread(abs, SAMPLE_RATE);
  decodeCache.set(abs, { size: st.size, mtimeMs: st.mtimeMs, pcm });
  return pcm;
}

/** Number of decoded files held in memory (for diagnostics and tests). */
export function decodeCacheSize(): number {
  return decodeCache.size;
}

export class MohClass {
  readonly name: string;
  /** The whole playlist, concatenated, at 8 kHz. */
  readonly audio: Int16Array;
  readonly files: readonly string[];
  /** The frame of the current tick, shared by all listeners (read-only for them). */
  readonly frame: Int16Array;
  #cursor = 0;
  #listeners = new Set<MohListener>();
  #encoded = new Map<G711Law, Uint8Array>();
  #encodedValid = new Set<G711Law>();

  constructor(name: string, audio: Int16Array, files: readonly string[] = [], frameSamples = FRAME_SAMPLES) {
    if (audio.length === 0) throw new Error(`music-on-hold class ${name} has no audio`);
    this.name = name;
    this.audio = audio;
    this.files = files;
    this.frame = new Int16Array(frameSamples);
  }

  /** Sample position of the next frame in `audio`. */
  get position(): number {
    return this.#cursor;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** @internal */ _add(l: MohListener): void {
    this.#listeners.add(l);
  }
  /** @internal */ _remove(l: MohListener): void {
    this.#listeners.delete(l);
  }
  /** @internal */ _takeListeners(): MohListener[] {
    const all = [...this.#listeners];
    this.#listeners.clear();
    return all;
  }

  /** Advances the one cursor by a frame (looping) and fans the frame out. */
  advance(): void {
    const a = this.audio;
    const f = this.frame;
    let i = 0;
    while (i < f.length) {
      const take = Math.min(f.length - i, a.length - this.#cursor);
      f.set(a.subarray(this.#cursor, this.#cursor + take), i);
      i += take;
      this.#cursor += take;
      if (this.#cursor >= a.length) this.#cursor = 0;
    }
    this.#encodedValid.clear();
    for (const l of this.#listeners) {
      try {
        l(f, this);
      } catch {
        // one broken leg must not silence the others
      }
    }
  }

  /** The current frame in G.711, encoded once per tick for all callers of this law. */
  encoded(law: G711Law): Uint8Array {
    let buf = this.#encoded.get(law);
    if (!buf) {
      buf = new Uint8Array(this.frame.length);
      this.#encoded.set(law, buf);
    }
    if (!this.#encodedValid.has(law)) {
      g711Encode(law, this.frame, buf);
      this.#encodedValid.add(law);
    }
    return buf;
  }
}

export class MusicOnHold {
  #classes = new Map<string, MohClass>();

  /** Loads (or reloads) a class from WAV files of any common rate/format, played in the given order. */
  async loadClass(name: string, files: readonly string[]): Promise<MohClass> {
    if (files.length === 0) throw new Error(`music-on-hold class ${name}: no files`);
    const parts: Int16Array[] = [];
    for (const f of files) parts.push(await loadAudioFile(f));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const audio = new Int16Array(total);
    let off = 0;
    for (const p of parts) {
      audio.set(p, off);
      off += p.length;
    }
    const cls = new MohClass(name, audio, files.map((f) => path.resolve(f)));
    this.#replace(cls);
    return cls;
  }

  /** Registers a class from samples already at 8 kHz (e.g. a generated tone). */
  addClass(name: string, audio: Int16Array): MohClass {
    const cls = new MohClass(name, audio);
    this.#replace(cls);
    return cls;
  }

  /** A reload keeps the callers on hold: they move to the new audio from its start. */
  #replace(cls: MohClass): void {
    const old = this.#classes.get(cls.name);
    if (old) for (const l of old._takeListeners()) cls._add(l);
    this.#classes.set(cls.name, cls);
  }

  /**
   * Loads every class under `root`: each sub-folder is a class named after it (its .wav files in name
   * order); .wav files directly in `root` form the class "default". Files that fail to decode are
   * reported in `errors` and skipped, the rest still load.
   */
  async loadFolder(root: string): Promise<{ loaded: string[]; errors: { file: string; error: string }[] }> {
    const loaded: string[] = [];
    const errors: { file: string; error: string }[] = [];
    const entries = await fsp.readdir(root, { withFileTypes: true });
    const groups = new Map<string, string[]>();
    const isWav = (n: string): boolean => n.toLowerCase().endsWith('.wav');
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) {
        const names = (await fsp.readdir(path.join(root, e.name))).filter(isWav).sort();
        if (names.length) groups.set(e.name, names.map((n) => path.join(root, e.name, n)));
      } else if (e.isFile() && isWav(e.name)) {
        const g = groups.get('default') ?? [];
        g.push(path.join(root, e.name));
        groups.set('default', g);
      }
    }
    for (const [name, files] of groups) {
      const good: string[] = [];
      for (const f of files) {
        try {
          await loadAudioFile(f);
          good.push(f);
        } catch (err) {
          errors.push({ file: f, error: err instanceof Error ? err.message : String(err) });
        }
      }
      if (good.length === 0) continue;
      await this.loadClass(name, good);
      loaded.push(name);
    }
    return { loaded, errors };
  }

  /** Removes a class; its listeners are dropped (callers on hold hear silence until re-held). */
  unload(name: string): boolean {
    return this.#classes.delete(name);
  }

  get(name: string): MohClass | undefined {
    return this.#classes.get(name);
  }

  classNames(): string[] {
    return [...this.#classes.keys()];
  }

  /** Puts a caller on hold on `className`: from the next tick on, `listener` gets each frame. */
  hold(className: string, listener: MohListener): MohSubscription {
    const cls = this.#classes.get(className);
    if (!cls) throw new Error(`no music-on-hold class ${className} (have ${this.classNames().join(', ') || 'none'})`);
    cls._add(listener);
    let released = false;
    return {
      className,
      release: () => {
        if (released) return;
        released = true;
        this.#classes.get(className)?._remove(listener);
      },
    };
  }

  /** One frame period: each class with at least one listener advances once. */
  tick(): void {
    for (const cls of this.#classes.values()) if (cls.listenerCount > 0) cls.advance();
  }
}
