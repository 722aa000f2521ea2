// Worker-thread entry: decodes and resamples one WAV file away from the media loop's thread.
// Resampling three minutes of 44.1 kHz music takes seconds of CPU, which would stall every call's
// 20 ms audio if done on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { readWavFile, WavError, type ParseOptions } from './wav.js';

export interface DecodeRequest {
  readonly file: string;
  readonly targetRate: number;
  readonly opts: ParseOptions;
}

export type DecodeReply =
  | { readonly ok: true; readonly pcm: Int16Array }
  | { readonly ok: false; readonly wavCode?: string; readonly message: string };

const req = workerData as DecodeRequest;
try {
  const pcm = await readWavFile(req.file, req.targetRate, req.opts);
  const reply: DecodeReply = { ok: true, pcm };
  parentPort?.postMessage(reply, [pcm.buffer as ArrayBuffer]);
} catch (err) {
  const reply: DecodeReply =
    err instanceof WavError
      ? { ok: false, wavCode: err.code, message: err.message }
      : { ok: false, message: err instanceof Error ? err.message : String(err) };
  parentPort?.postMessage(reply);
}
