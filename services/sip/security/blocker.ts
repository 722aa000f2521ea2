/**
 * Brute-force blocker (issue 2 item 5; DESIGN.md risk "the blocker locks out the office's own
 * phones"). Failures are counted per source IP in a sliding window; at `maxFailures` the source is
 * blocked for `blockSeconds` and its requests are dropped without an answer (an answer would tell a
 * scanner it found a PBX). Blocks live in `store.authBlocks` so `pbxctl` and the UI list and lift
 * them; this process re-reads that table at most every `refreshMs`, so a block lifted elsewhere ends
 * within that time.
 *
 * Failures are also counted per identity (user name) across sources: a distributed guess at one
 * extension is logged once per window, but the identity itself is never locked (that would let any
 * outsider lock a colleague's phone out).
 *
 * A source that holds a currently valid registration (`isExempt`, wired to the registrar) is never
 * blocked: a phone with a stale secret sitting next to registered phones behind the same NAT must
 * not take the office down.
 */
import type { Logger } from '../../log.js';
import type { AuthBlock, AuthBlockRepository } from '../../store/types.js';

export interface BlockerOptions {
  repository: AuthBlockRepository;
  maxFailures: number;
  windowSeconds: number;
  blockSeconds: number;
  logger: Logger;
  /** True for a source that must never be blocked (it has a valid registration). */
  isExempt?: (source: string) => boolean;
  now?: () => number;
  /** How often blocks are re-read from the store (default 2000 ms). */
  refreshMs?: number;
  /** Bound on tracked sources / identities (default 10000 each). */
  maxTracked?: number;
}

interface Counter {
  /** Failure times (ms), oldest first, at most maxFailures kept. */
  times: number[];
  identity: string | null;
}

interface ActiveBlock {
  block: AuthBlock;
  dropLogged: boolean;
}

export class Blocker {
  readonly #repository: AuthBlockRepository;
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #blockMs: number;
  readonly #logger: Logger;
  #isExempt: (source: string) => boolean;
  readonly #now: () => number;
  readonly #refreshMs: number;
  readonly #maxTracked: number;
  readonly #bySource = new Map<string, Counter>();
  readonly #byIdentity = new Map<string, { times: number[]; loggedAt: number }>();
  #blocks = new Map<string, ActiveBlock>();
  #refreshedAt = Number.NEGATIVE_INFINITY;

  constructor(options: BlockerOptions) {
    if (!(options.maxFailures >= 1)) throw new TypeError('maxFailures must be >= 1');
    this.#repository = options.repository;
    this.#maxFailures = options.maxFailures;
    this.#windowMs = options.windowSeconds * 1000;
    this.#blockMs = options.blockSeconds * 1000;
    this.#logger = options.logger;
    this.#isExempt = options.isExempt ?? (() => false);
    this.#now = options.now ?? Date.now;
    this.#refreshMs = options.refreshMs ?? 2000;
    this.#maxTracked = options.maxTracked ?? 10_000;
    this.#refresh(this.#now());
  }

  /** Wires the exemption after construction (the registrar is built after the blocker). */
  setExemption(isExempt: (source: string) => boolean): void {
    this.#isExempt = isExempt;
  }

  /**
   * True when requests from `source` must be dropped. Logs the first dropped request of a block.
   */
  isBlocked(source: string): boolean {
    const now = this.#now();
    if (now - this.#refreshedAt >= this.#refreshMs) this.#refresh(now);
    if (this.#blocks.size === 0) return false;
    const active = this.#blocks.get(source);
    if (active === undefined) return false;
    if (active.block.blockedUntil <= now || this.#isExempt(source)) {
      this.#blocks.delete(source);
      return false;
    }
    if (!active.dropLogged) {
      active.dropLogged = true;
      this.#logger.info({ event: 'auth-block-drop', source, blockedUntil: active.block.blockedUntil }, 'dropping requests from blocked source');
    }
    return true;
  }

  /** One failed authentication from `source` naming `identity` (null if none was given). */
  recordFailure(source: string, identity: string | null, reason: string): void {
    const now = this.#now();
    this.#countIdentity(identity, now);
    if (this.#isExempt(source)) return;
    let counter = this.#bySource.get(source);
    if (counter === undefined) {
      if (this.#bySource.size >= this.#maxTracked) this.#prune(this.#bySource, now);
      counter = { times: [], identity };
      this.#bySource.set(source, counter);
    }
    counter.identity = identity ?? counter.identity;
    counter.times.push(now);
    while (counter.times.length > 0 && now - counter.times[0]! >= this.#windowMs) counter.times.shift();
    if (counter.times.length > this.#maxFailures) counter.times.shift();
    if (counter.times.length < this.#maxFailures) return;
    this.#bySource.delete(source);
    const block: AuthBlock = {
      source,
      identity: counter.identity,
      failures: counter.times.length,
      reason,
      blockedUntil: now + this.#blockMs,
      createdAt: now,
    };
    this.#repository.upsert(block);
    this.#blocks.set(source, { block, dropLogged: false });
    this.#logger.warn(
      { event: 'auth-block', source, identity: block.identity, failures: block.failures, reason, blockedUntil: new Date(block.blockedUntil).toISOString() },
      'source blocked after repeated authentication failures',
    );
  }

  /** A successful authentication resets the source's count. */
  recordSuccess(source: string): void {
    this.#bySource.delete(source);
  }

  /** Lifts a block (pbxctl / UI); true when one existed. */
  unblock(source: string): boolean {
    const inMemory = this.#blocks.delete(source);
    this.#bySource.delete(source);
    const inStore = this.#repository.remove(source);
    if (inMemory || inStore) this.#logger.info({ event: 'auth-unblock', source }, 'block lifted');
    return inMemory || inStore;
  }

  /** Blocks in force now. */
  list(): AuthBlock[] {
    return this.#repository.active(this.#now());
  }

  /** Failures currently counted for a source (for status and tests). */
  failuresOf(source: string): number {
    const counter = this.#bySource.get(source);
    if (counter === undefined) return 0;
    const now = this.#now();
    return counter.times.filter((t) => now - t < this.#windowMs).length;
  }

  #refresh(now: number): void {
    this.#refreshedAt = now;
    const next = new Map<string, ActiveBlock>();
    for (const block of this.#repository.active(now)) {
      const previous = this.#blocks.get(block.source);
      next.set(block.source, { block, dropLogged: previous?.dropLogged ?? false });
    }
    this.#blocks = next;
  }

  #countIdentity(identity: string | null, now: number): void {
    if (identity === null) return;
    let entry = this.#byIdentity.get(identity);
    if (entry === undefined) {
      if (this.#byIdentity.size >= this.#maxTracked) this.#prune(this.#byIdentity, now);
      entry = { times: [], loggedAt: Number.NEGATIVE_INFINITY };
      this.#byIdentity.set(identity, entry);
    }
    entry.times.push(now);
    while (entry.times.length > 0 && now - entry.times[0]! >= this.#windowMs) entry.times.shift();
    if (entry.times.length > this.#maxFailures * 4) entry.times.shift();
    if (entry.times.length >= this.#maxFailures * 2 && now - entry.loggedAt >= this.#windowMs) {
      entry.loggedAt = now;
      this.#logger.warn({ event: 'auth-identity-attack', identity, failures: entry.times.length }, 'many failed authentications for one identity');
    }
  }

  /** Drops counters with no failure inside the window; if still full, the oldest third. */
  #prune(map: Map<string, { times: number[] }>, now: number): void {
    for (const [key, value] of map) {
      const last = value.times[value.times.length - 1];
      if (last === undefined || now - last >= this.#windowMs) map.delete(key);
    }
    if (map.size < this.#maxTracked) return;
    let drop = Math.ceil(map.size / 3);
    for (const key of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(key);
    }
  }
}
