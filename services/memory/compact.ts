/**
 * Hands a flood's memory back once the process is quiet again: V8's low-memory collection (the
 * native addon of this folder: full collections that also shrink the young generation and unmap
 * the pages V8 pooled; else two full collections when node runs with --expose-gc, as the pm2 app
 * does), then glibc's malloc_trim (the same addon). V8 and glibc both keep what they grew for reuse, and without allocation
 * nothing prompts them to return it, so an idle box would keep its flood-time RSS for good.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface TrimAddon {
  trim(): boolean;
  /** Isolate::LowMemoryNotification (services/memory/native/pressure.cc); absent in an old build. */
  lowMemory?: () => boolean;
}

let addon: TrimAddon | null | undefined;

function loadTrim(): TrimAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'services/memory/native/build/Release/malloc_trim.node');
    if (existsSync(candidate)) {
      try {
        addon = createRequire(import.meta.url)(candidate) as TrimAddon;
      } catch {
        addon = null; // another libc (musl) or an old build: GC alone still helps
      }
      break;
    }
    if (existsSync(join(dir, 'package.json'))) break;
    dir = dirname(dir);
  }
  return addon;
}

export interface Compaction {
  /** A full collection ran (the low-memory one, or node --expose-gc). */
  readonly collected: boolean;
  /** malloc_trim returned memory to the kernel. */
  readonly trimmed: boolean;
  readonly rssBefore: number;
  readonly rssAfter: number;
}

export function compactMemory(): Compaction {
  const rssBefore = process.memoryUsage.rss();
  const gc = (globalThis as { gc?: () => void }).gc;
  const native = loadTrim();
  // The low-memory collection also gives back the young generation a busy spell grew (up to
  // 2 x --max-semi-space-size) and V8's pooled pages, which full collections keep (measured on a
  // churned heap: heapTotal 5.2 MB after it, 11.7 MB after two gc(); RSS 45.7 against 54.9 MB).
  let collected = native?.lowMemory?.() ?? false;
  if (!collected && gc !== undefined) {
    // Twice: the first full collection frees the garbage, the second compacts the pages it left
    // sparse and releases them (measured: RSS 95 → 96 MB after one, → 82 MB after two).
    gc();
    gc();
    collected = true;
  }
  const trimmed = native?.trim() ?? false;
  return { collected, trimmed, rssBefore, rssAfter: process.memoryUsage.rss() };
}
