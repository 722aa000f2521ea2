// Streaming recorder: 20 ms frames of 16-bit PCM in, a WAV file out (voicemail messages, greetings,
// conference recordings). Crash safety: samples go to a temporary file beside the final one; finish()
// writes the real header, fsyncs, renames and fsyncs the directory, and only THEN returns the path a
// database row may reference. A crash at any point leaves nothing under the final name, only a
// `.name.partial-<pid>-…` file that removeStalePartials() sweeps at start-up.
//
// write() is synchronous and cheap (encode into a ~1 s chunk); full chunks are written asynchronously,
// in order, so the media loop never waits for the disk.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SAMPLE_RATE } from '../codec/g711.js';
import { fsyncDir, tempPathFor } from '../wav/atomic-file.js';
import { encodeSamples, wavHeader, wavHeaderLength, type WavWriteEncoding } from '../wav/wav.js';

export { removeStalePartials } from '../wav/atomic-file.js';

export interface RecorderOptions {
  /** File encoding; default 'pcm16'. */
  readonly encoding?: WavWriteEncoding;
  /** Sample rate written in the header; frames must already be at this rate. Default 8000. */
  readonly sampleRate?: number;
  /** Stop accepting samples after this many seconds (write() returns false). Default: no limit. */
  readonly maxSeconds?: number;
  /** Bytes buffered before an asynchronous write; default one second of audio. */
  readonly chunkBytes?: number;
}

export interface RecordingResult {
  readonly path: string;
  readonly samples: number;
  readonly durationMs: number;
  readonly bytes: number;
}

type RecorderState = 'recording' | 'finishing' | 'finished' | 'aborted' | 'failed';

export class WavRecorder {
  readonly finalPath: string;
  readonly tempPath: string;
  readonly encoding: WavWriteEncoding;
  readonly sampleRate: number;
  #fh: fsp.FileHandle;
  #state: RecorderState = 'recording';
  #samples = 0;
  #maxSamples: number;
  #chunk: Uint8Array;
  #chunkLen = 0;
  #fileOffset: number;
  #pending: Promise<void> = Promise.resolve();
  #error: Error | undefined;
  #bytesPerSample: number;

  private constructor(finalPath: string, tempPath: string, fh: fsp.FileHandle, opts: RecorderOptions) {
    this.finalPath = finalPath;
    this.tempPath = tempPath;
    this.#fh = fh;
    this.encoding = opts.encoding ?? 'pcm16';
    this.sampleRate = opts.sampleRate ?? SAMPLE_RATE;
    this.#bytesPerSample = this.encoding === 'pcm16' ? 2 : 1;
    this.#maxSamples = opts.maxSeconds !== undefined ? Math.floor(opts.maxSeconds * this.sampleRate) : Number.POSITIVE_INFINITY;
    this.#chunk = new Uint8Array(opts.chunkBytes ?? this.sampleRate * this.#bytesPerSample);
    this.#fileOffset = wavHeaderLength(this.encoding);
  }

  /** Opens the temporary file (exclusive create) beside `finalPath`. */
  static async create(finalPath: string, opts: RecorderOptions = {}): Promise<WavRecorder> {
    const abs = path.resolve(finalPath);
    const tmp = tempPathFor(abs);
    const fh = await fsp.open(tmp, 'wx', 0o644);
    const rec = new WavRecorder(abs, tmp, fh, opts);
    // Placeholder header with data size 0: readers take "0 with bytes after it" as "to the end of file",
    // so a partial file left by a crash can still be listened to.
    const hdr = wavHeader(rec.encoding, 0, rec.sampleRate);
    await fh.write(hdr, 0, hdr.length, 0);
    return rec;
  }

  get state(): RecorderState {
    return this.#state;
  }

  get samples(): number {
    return this.#samples;
  }

  /**
   * Appends one frame (any length; normally 160 samples). Returns false once the recorder is no longer
   * accepting audio (finished, aborted, failed or at maxSeconds).
   */
  write(frame: Int16Array): boolean {
    if (this.#state !== 'recording') return false;
    let n = frame.length;
    const room = this.#maxSamples - this.#samples;
    if (room <= 0) return false;
    if (n > room) n = room;
    let src = n === frame.length ? frame : frame.subarray(0, n);
    const bps = this.#bytesPerSample;
    while (src.length > 0) {
      const fit = Math.min(src.length, (this.#chunk.length - this.#chunkLen) / bps);
      const part = src.subarray(0, fit);
      encodeSamples(this.encoding, part, this.#chunk.subarray(this.#chunkLen, this.#chunkLen + fit * bps));
      this.#chunkLen += fit * bps;
      src = src.subarray(fit);
      if (this.#chunkLen === this.#chunk.length) this.#flushChunk();
    }
    this.#samples += n;
    return true;
  }

  #flushChunk(): void {
    if (this.#chunkLen === 0) return;
    const data = this.#chunk.subarray(0, this.#chunkLen);
    const at = this.#fileOffset;
    this.#fileOffset += this.#chunkLen;
    // A fresh chunk for the next second: the one in flight must not be overwritten.
    this.#chunk = new Uint8Array(this.#chunk.length);
    this.#chunkLen = 0;
    this.#pending = this.#pending.then(() => this.#writeAll(data, at)).catch((err: unknown) => {
      this.#error ??= err instanceof Error ? err : new Error(String(err));
      this.#state = this.#state === 'recording' ? 'failed' : this.#state;
    });
  }

  async #writeAll(data: Uint8Array, at: number): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.#fh.write(data, off, data.length - off, at + off);
      off += bytesWritten;
    }
  }

  /** Waits for the chunks written so far to reach the file (not fsynced). For tests and progress. */
  async drain(): Promise<void> {
    this.#flushChunk();
    await this.#pending;
  }

  /** Completes the file and publishes it under the final name; resolves with the path to store. */
  async finish(): Promise<RecordingResult> {
    if (this.#state !== 'recording' && this.#state !== 'failed') {
      throw new Error(`recorder for ${this.finalPath} is ${this.#state}`);
    }
    this.#state = 'finishing';
    try {
      this.#flushChunk();
      await this.#pending;
      if (this.#error) throw this.#error;
      const dataBytes = this.#samples * this.#bytesPerSample;
      if (dataBytes & 1) await this.#writeAll(new Uint8Array(1), this.#fileOffset); // RIFF word alignment
      const hdr = wavHeader(this.encoding, this.#samples, this.sampleRate);
      await this.#writeAll(hdr, 0);
      await this.#fh.sync();
      await this.#fh.close();
      await fsp.rename(this.tempPath, this.finalPath);
      await fsyncDir(path.dirname(this.finalPath));
    } catch (err) {
      this.#state = 'failed';
      await this.#fh.close().catch(() => undefined);
      await fsp.rm(this.tempPath, { force: true });
      throw err;
    }
    this.#state = 'finished';
    const bytes = wavHeaderLength(this.encoding) + this.#samples * this.#bytesPerSample + ((this.#samples * this.#bytesPerSample) & 1);
    return {
      path: this.finalPath,
      samples: this.#samples,
      durationMs: (this.#samples * 1000) / this.sampleRate,
      bytes,
    };
  }

  /** Discards the recording: nothing is left under either name. */
  async abort(): Promise<void> {
    if (this.#state === 'finished' || this.#state === 'aborted') return;
    this.#state = 'aborted';
    await this.#pending.catch(() => undefined);
    await this.#fh.close().catch(() => undefined);
    await fsp.rm(this.tempPath, { force: true });
  }
}
