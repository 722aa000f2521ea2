/**
 * Where a process's memory is, from inside (issue 21, the steady-load bench and `pbxctl status`):
 * V8's heap (what is live, and the pages it keeps: old space, code), what lives outside it (Buffers,
 * native objects V8 knows of), and the resident total the kernel sees. The difference between RSS
 * and V8's pages is the binary, the allocator's heap and native tables (the media relay's).
 */
import { getHeapSpaceStatistics } from 'node:v8';

export interface MemoryBreakdown {
  rssKb: number;
  /** V8: the pages of every heap space, and what is live in them. */
  heapTotalKb: number;
  heapUsedKb: number;
  /** V8's old space: pages kept and live objects (the part that settles after warm-up). */
  oldSpaceKb: number;
  oldSpaceUsedKb: number;
  /** Compiled code (grows once as the call path is compiled). */
  codeSpaceKb: number;
  /** Memory V8 accounts for outside its heap (Buffers, ArrayBuffers, native objects). */
  externalKb: number;
  arrayBuffersKb: number;
}

const kb = (bytes: number): number => Math.round(bytes / 1024);

export function memoryBreakdown(): MemoryBreakdown {
  const usage = process.memoryUsage();
  const spaces = new Map(getHeapSpaceStatistics().map((s) => [s.space_name, s]));
  const old = spaces.get('old_space');
  const code = spaces.get('code_space');
  return {
    rssKb: kb(usage.rss),
    heapTotalKb: kb(usage.heapTotal),
    heapUsedKb: kb(usage.heapUsed),
    oldSpaceKb: kb(old?.space_size ?? 0),
    oldSpaceUsedKb: kb(old?.space_used_size ?? 0),
    codeSpaceKb: kb(code?.space_size ?? 0),
    externalKb: kb(usage.external),
    arrayBuffersKb: kb(usage.arrayBuffers),
  };
}
