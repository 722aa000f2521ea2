/**
 * RTP port pool over the configured range: RTP on even ports, RTCP on the next odd one (RFC 3550
 * §11). Ports are handed out round-robin so a port just freed is not reused at once (late packets of
 * the previous call must not reach the next one). A port found busy (another process) is skipped.
 */
import { MediaError } from './errors.js';

export class PortAllocator {
  readonly #free: number[] = [];
  readonly #inUse = new Set<number>();
  readonly min: number;
  readonly max: number;

  constructor(min: number, max: number) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min > max) {
      throw new RangeError(`bad RTP port range ${min}-${max}`);
    }
    this.min = min + (min % 2);
    this.max = max;
    for (let p = this.min; p + 1 <= max; p += 2) this.#free.push(p);
    if (this.#free.length === 0) throw new RangeError(`RTP port range ${min}-${max} holds no even/odd pair`);
  }

  get capacity(): number {
    return this.#free.length + this.#inUse.size;
  }

  get available(): number {
    return this.#free.length;
  }

  /**
   * Takes a pair and gives its even port to `bind`, which returns a value or throws; an
   * EADDRINUSE throw skips to the next pair. Every pair busy or taken: ERR_PORTS_EXHAUSTED.
   */
  allocate<T>(bind: (rtpPort: number) => T): { port: number; value: T } {
    const tries = this.#free.length;
    const busy: number[] = [];
    try {
      for (let i = 0; i < tries; i++) {
        const port = this.#free.shift();
        if (port === undefined) break;
        try {
          const value = bind(port);
          this.#inUse.add(port);
          return { port, value };
        } catch (e) {
          if ((e as { code?: unknown }).code === 'EADDRINUSE') {
            busy.push(port);
            continue;
          }
          this.#free.unshift(port);
          throw e;
        }
      }
    } finally {
      this.#free.push(...busy);
    }
    throw new MediaError(
      'ERR_PORTS_EXHAUSTED',
      `no free RTP port pair in ${this.min}-${this.max} (${this.#inUse.size} in use, ${busy.length} busy elsewhere)`,
    );
  }

  release(port: number): void {
    if (!this.#inUse.delete(port)) return;
    this.#free.push(port);
  }
}
