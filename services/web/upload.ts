/**
 * A file upload as the request body (the browser sends the file itself, `fetch(url, {body: file})`):
 * streamed to a temporary file beside its destination while its SHA-256 is computed, so a large
 * image never sits in memory. Refused cleanly, with nothing left on disk:
 * - a declared Content-Length above the limit (413 before a byte is read), or more bytes than the
 *   limit (413, the connection closed);
 * - fewer bytes than declared, or a connection that ends early (400 `truncated`);
 * - a SHA-256 announced in `X-Content-SHA256` that the bytes do not have (400 `checksum`).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';
import { HttpError } from './http-error.js';

export interface ReceivedFile {
  /** The temporary file: the caller renames it into place or removes it. */
  file: string;
  bytes: number;
  sha256: string;
  /** The name the browser gave (`X-File-Name`, URI-encoded), reduced to a safe base name. */
  name: string;
}

export function safeFileName(raw: string | undefined, fallback: string): string {
  let name = fallback;
  if (raw !== undefined) {
    try {
      name = decodeURIComponent(raw);
    } catch {
      name = raw;
    }
  }
  const base = path.basename(name).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 100);
  return base === '' ? fallback : base;
}

export async function receiveFile(req: Request, res: Response, dir: string, maxBytes: number, fallbackName: string): Promise<ReceivedFile> {
  const declared = req.get('content-length');
  const expected = declared === undefined ? null : Number(declared);
  if (expected !== null && (!Number.isSafeInteger(expected) || expected < 0)) throw new HttpError(400, 'invalid', 'bad Content-Length');
  const tooLarge = (): HttpError => {
    // The client may still be sending: end the connection after the answer instead of reading it all.
    res.set('connection', 'close');
    return new HttpError(413, 'too-large', `the file is larger than ${maxBytes} bytes`);
  };
  if (expected !== null && expected > maxBytes) throw tooLarge();
  if (expected === 0) throw new HttpError(400, 'empty-file', 'the file is empty');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `.upload-${randomBytes(8).toString('hex')}.part`);
  const out = fs.createWriteStream(file, { flags: 'wx' });
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          // Without a declared length (chunked): read the rest away, then answer, so the answer is not lost in a reset.
          req.resume();
          await new Promise<void>((resolve) => {
            req.once('end', resolve);
            req.once('close', resolve);
          });
          throw tooLarge();
        }
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, 'truncated', 'the upload ended before the whole file arrived');
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    if (!req.complete || (expected !== null && bytes !== expected)) throw new HttpError(400, 'truncated', `the upload ended after ${bytes} of ${expected ?? '?'} bytes`);
    if (bytes === 0) throw new HttpError(400, 'empty-file', 'the file is empty');
    const sha256 = hash.digest('hex');
    const announced = req.get('x-content-sha256')?.toLowerCase();
    if (announced !== undefined && announced !== sha256) throw new HttpError(400, 'checksum', 'the file that arrived is not the one sent (SHA-256 differs)');
    return { file, bytes, sha256, name: safeFileName(req.get('x-file-name'), fallbackName) };
  } catch (error) {
    out.destroy();
    fs.rmSync(file, { force: true });
    throw error;
  }
}
