/**
 * The access policy (issue 15 item 2): one object, built before the SIP stack, that both transport
 * admission and the authenticator consult. It keeps blocks, failure counts and known phones.
 *
 * Rules (docs/security.md says them for an installer):
 * - A wrong guess is counted per (source address, extension). At `maxFailures` inside
 *   `windowSeconds` that pair is blocked for `blockSeconds`: its requests are dropped without an
 *   answer. Other extensions at that address and that extension elsewhere are untouched.
 * - A source with wrong guesses at many extensions (`3 × maxFailures` in the window) is blocked for
 *   every extension (`*`): a scanner.
 * - A known phone, an extension that authenticated from an address within `knownForDays` (30),
 *   is never blocked from that address and is always admitted there, whatever others send from
 *   it or from behind the same NAT. Its answers are always evaluated.
 * - Per extension, across all sources, at most `extensionBudget` (default 2 × maxFailures = 10)
 *   wrong guesses are evaluated per guard window (max(windowSeconds, blockSeconds)). Past that, a
 *   guess from an address where the extension is not known is not evaluated at all (a right
 *   password would not be recognised either): it gets a fresh challenge, late. Wrong answers are
 *   answered later as an extension collects failures (`failureDelayMs`, bounded by maxDelayMs).
 * - Only real guesses count: a digest answer to one of our own nonces, bound to the source (see
 *   the authenticator). Junk, forged nonces and other realms cost a challenge and count nothing,
 *   so a flood with a forged source address can neither block a phone nor use up its budget.
 * - A success resets only the (source, extension) pair it came from.
 * - Blocks are stored (`BlockStore`) so `pbxctl block list|remove` shows and lifts them; this
 *   process re-reads them at most every `refreshMs`. Every new block is logged at warn with
 *   source, extension and reason.
 */
import type { Logger } from '../../log.js';
import { getHeaders, type SipRequest } from '../message.js';
import type { AccessBlock, BlockStore, KnownDeviceStore } from '../stores.js';

/** `AccessBlock.extension` of a block that covers every extension. */
export const EVERY_EXTENSION = '*';

const DAY_MS = 86_400_000;

export interface AccessPolicyOptions {
  blocks: BlockStore;
  known: KnownDeviceStore;
  /** Wrong guesses per (source, extension) inside the window before that pair is blocked. */
  maxFailures: number;
  windowSeconds: number;
  blockSeconds: number;
  /** Wrong guesses evaluated per extension and guard window, all sources together (default 2 × maxFailures). */
  extensionBudget?: number;
  /** How long a success keeps an (address, extension) pair known (default 30 days). */
  knownForDays?: number;
  /** Longest delay of a late answer (default 4000 ms, well inside the client's Timer F of 32 s). */
  maxDelayMs?: number;
  logger: Logger;
  now?: () => number;
  /** How often blocks are re-read from the store (default 2000 ms). */
  refreshMs?: number;
  /** Bound on counters and known pairs held in memory (default 50000 each). */
  maxTracked?: number;
}

/** What the authenticator does with a digest answer before it costs a lookup or a hash. */
export type GuessAdmission = 'evaluate' | 'hold' | 'drop';

interface ActiveBlock {
  block: AccessBlock;
  dropLogged: boolean;
}

/** Failure times (ms), oldest first, trimmed to the window and to a bound. */
type Times = number[];

const pairKey = (source: string, extension: string): string => `${source}\n${extension}`;

/** User names come from the network: long ones are cut so counters, rows and log lines stay small. */
const MAX_EXTENSION_LENGTH = 64;
const clip = (extension: string): string => (extension.length > MAX_EXTENSION_LENGTH ? extension.slice(0, MAX_EXTENSION_LENGTH) : extension);

export class AccessPolicy {
  readonly #blocks: BlockStore;
  readonly #knownStore: KnownDeviceStore;
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #blockMs: number;
  readonly #guardWindowMs: number;
  readonly #extensionBudget: number;
  readonly #knownForMs: number;
  readonly #maxDelayMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #refreshMs: number;
  readonly #maxTracked: number;
  /** source → extension → block in force. */
  #active = new Map<string, Map<string, ActiveBlock>>();
  #refreshedAt = Number.NEGATIVE_INFINITY;
  readonly #byPair = new Map<string, Times>();
  readonly #bySource = new Map<string, Times>();
  readonly #byExtension = new Map<string, { times: Times; guardLoggedAt: number }>();
  /** pair key → last success (ms). */
  readonly #known = new Map<string, number>();
  /** pair key → last success already written to the store. */
  readonly #knownWritten = new Map<string, number>();
  readonly #pendingKnown = new Map<string, { address: string; extension: string; lastSuccessAt: number }>();
  #knownTimer: NodeJS.Timeout | null = null;

  constructor(options: AccessPolicyOptions) {
    if (!(options.maxFailures >= 1)) throw new TypeError('maxFailures must be >= 1');
    this.#blocks = options.blocks;
    this.#knownStore = options.known;
    this.#maxFailures = options.maxFailures;
    this.#windowMs = options.windowSeconds * 1000;
    this.#blockMs = options.blockSeconds * 1000;
    this.#guardWindowMs = Math.max(this.#windowMs, this.#blockMs);
    this.#extensionBudget = options.extensionBudget ?? 2 * options.maxFailures;
    this.#knownForMs = (options.knownForDays ?? 30) * DAY_MS;
    this.#maxDelayMs = options.maxDelayMs ?? 4000;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#refreshMs = options.refreshMs ?? 2000;
    this.#maxTracked = options.maxTracked ?? 50_000;
    const now = this.#now();
    try {
      this.#knownStore.purgeBefore(now - this.#knownForMs);
      for (const device of this.#knownStore.since(now - this.#knownForMs)) {
        if (this.#known.size >= this.#maxTracked) break;
        const key = pairKey(device.address, device.extension);
        this.#known.set(key, device.lastSuccessAt);
        this.#knownWritten.set(key, device.lastSuccessAt);
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'could not load known phones');
    }
    this.#refresh(now);
  }

  /**
   * Transport admission: false when a request from `source` naming `extension` (null: none named)
   * must be dropped before any transaction exists. A known phone is always admitted at its address.
   */
  admit(source: string, claimed: string | null): boolean {
    const extension = claimed === null ? null : clip(claimed);
    const now = this.#now();
    if (now - this.#refreshedAt >= this.#refreshMs) this.#refresh(now);
    const blocks = this.#active.get(source);
    if (blocks === undefined) return true;
    if (extension !== null && this.isKnown(source, extension)) return true;
    const active = (extension === null ? undefined : blocks.get(extension)) ?? blocks.get(EVERY_EXTENSION);
    if (active === undefined) return true;
    if (active.block.blockedUntil <= now) {
      blocks.delete(active.block.extension);
      if (blocks.size === 0) this.#active.delete(source);
      return true;
    }
    if (!active.dropLogged) {
      active.dropLogged = true;
      this.#logger.info({ event: 'auth-block-drop', source, extension: active.block.extension, blockedUntil: new Date(active.block.blockedUntil).toISOString() }, 'dropping requests from a blocked source');
    }
    return false;
  }

  /** True when `extension` authenticated from `source` within the known period. */
  isKnown(source: string, extension: string): boolean {
    const last = this.#known.get(pairKey(source, clip(extension)));
    return last !== undefined && this.#now() - last < this.#knownForMs;
  }

  /** Before a digest answer is evaluated (after its nonce and opaque proved it is ours). */
  beforeGuess(source: string, claimed: string): GuessAdmission {
    const extension = clip(claimed);
    if (this.isKnown(source, extension)) return 'evaluate';
    if (!this.admit(source, extension)) return 'drop';
    const entry = this.#byExtension.get(extension);
    if (entry !== undefined && this.#trim(entry.times, this.#guardWindowMs) >= this.#extensionBudget) return 'hold';
    return 'evaluate';
  }

  /**
   * One wrong guess at `extension` from `source`. Returns how long to wait before answering it
   * (ms): a distributed guesser is slowed, a phone with a typo barely notices.
   */
  recordFailure(source: string, claimed: string, reason: string): number {
    const extension = clip(claimed);
    const now = this.#now();
    const known = this.isKnown(source, extension);
    const extensionFailures = this.#countExtension(extension, now);
    const pairFailures = this.#count(this.#byPair, pairKey(source, extension), now, this.#windowMs, this.#maxFailures);
    // A known phone's failures (a stale secret) never count towards blocking its address.
    if (!known) {
      const sourceFailures = this.#count(this.#bySource, source, now, this.#windowMs, 3 * this.#maxFailures);
      if (pairFailures >= this.#maxFailures) {
        this.#byPair.delete(pairKey(source, extension));
        this.#block(source, extension, pairFailures, reason, now);
      } else if (sourceFailures >= 3 * this.#maxFailures) {
        this.#bySource.delete(source);
        this.#block(source, EVERY_EXTENSION, sourceFailures, `${reason} at many extensions`, now);
      }
    }
    return this.failureDelayMs(extensionFailures);
  }

  /** The delay of the answer to the n-th wrong guess at one extension: 0, 0, 250, 500 ... maxDelayMs. */
  failureDelayMs(extensionFailures: number): number {
    if (extensionFailures <= 2) return 0;
    return Math.min(this.#maxDelayMs, 250 * 2 ** (extensionFailures - 3));
  }

  /** How long a held (not evaluated) answer waits. */
  get holdDelayMs(): number {
    return this.#maxDelayMs;
  }

  /** A success: resets this pair's count only, and marks the pair known. */
  recordSuccess(source: string, claimed: string): void {
    const extension = clip(claimed);
    const key = pairKey(source, extension);
    this.#byPair.delete(key);
    const now = this.#now();
    if (!this.#known.has(key) && this.#known.size >= this.#maxTracked) this.#pruneKnown(now);
    if (!this.#known.has(key) && this.#known.size >= this.#maxTracked) return;
    this.#known.set(key, now);
    // Written when new, then at most hourly: a refresh every minute must not be a write every minute.
    const written = this.#knownWritten.get(key);
    if (written === undefined || now - written >= 3_600_000) {
      this.#pendingKnown.set(key, { address: source, extension, lastSuccessAt: now });
      this.#knownTimer ??= setTimeout(() => this.flush(), 1000).unref();
    }
  }

  /** Lifts blocks (pbxctl, UI): of (source, extension), or every block of the source. */
  unblock(source: string, extension?: string): number {
    const blocks = this.#active.get(source);
    if (extension === undefined) {
      this.#active.delete(source);
      this.#bySource.delete(source);
      for (const key of [...this.#byPair.keys()]) if (key.startsWith(`${source}\n`)) this.#byPair.delete(key);
    } else {
      blocks?.delete(extension);
      this.#byPair.delete(pairKey(source, extension));
      if (extension === EVERY_EXTENSION) this.#bySource.delete(source);
    }
    const removed = this.#blocks.remove(source, extension);
    if (removed > 0) this.#logger.info({ event: 'auth-unblock', source, extension: extension ?? null, removed }, 'block lifted');
    return removed;
  }

  /** Blocks in force now. */
  list(): AccessBlock[] {
    return this.#blocks.active(this.#now());
  }

  /** Wrong guesses counted for a pair (or a whole source) in the window (status, tests). */
  failuresOf(source: string, extension?: string): number {
    const times = extension === undefined ? this.#bySource.get(source) : this.#byPair.get(pairKey(source, extension));
    return times === undefined ? 0 : this.#trim(times, this.#windowMs);
  }

  /** Writes pending known phones now (close, tests). */
  flush(): void {
    if (this.#knownTimer !== null) clearTimeout(this.#knownTimer);
    this.#knownTimer = null;
    if (this.#pendingKnown.size === 0) return;
    const pending = [...this.#pendingKnown.entries()];
    this.#pendingKnown.clear();
    try {
      this.#knownStore.touch(pending.map(([, device]) => device));
      for (const [key, device] of pending) this.#knownWritten.set(key, device.lastSuccessAt);
    } catch (error) {
      // Memory stays authoritative for this run; the next success writes it again.
      this.#logger.error({ err: error, count: pending.length }, 'could not persist known phones');
    }
  }

  close(): void {
    this.flush();
  }

  #block(source: string, extension: string, failures: number, reason: string, now: number): void {
    const block: AccessBlock = { source, extension, failures, reason, blockedUntil: now + this.#blockMs, createdAt: now };
    try {
      this.#blocks.upsert(block);
    } catch (error) {
      this.#logger.error({ err: error, source, extension }, 'could not store a block');
    }
    let blocks = this.#active.get(source);
    if (blocks === undefined) {
      blocks = new Map();
      this.#active.set(source, blocks);
    }
    blocks.set(extension, { block, dropLogged: false });
    this.#logger.warn(
      { event: 'auth-block', source, extension, failures, reason, blockedUntil: new Date(block.blockedUntil).toISOString() },
      extension === EVERY_EXTENSION ? 'source blocked for every extension after failed guesses at many' : 'source blocked for an extension after repeated authentication failures',
    );
  }

  #countExtension(extension: string, now: number): number {
    let entry = this.#byExtension.get(extension);
    if (entry === undefined) {
      if (this.#byExtension.size >= this.#maxTracked) this.#prune(this.#byExtension, now, this.#guardWindowMs);
      entry = { times: [], guardLoggedAt: Number.NEGATIVE_INFINITY };
      this.#byExtension.set(extension, entry);
    }
    entry.times.push(now);
    const count = this.#trim(entry.times, this.#guardWindowMs);
    if (entry.times.length > this.#extensionBudget * 2) entry.times.shift();
    if (count >= this.#extensionBudget && now - entry.guardLoggedAt >= this.#guardWindowMs) {
      entry.guardLoggedAt = now;
      this.#logger.warn(
        { event: 'auth-extension-guarded', extension, failures: count, windowSeconds: this.#guardWindowMs / 1000 },
        'many wrong guesses at one extension: only its known phones are evaluated until the window passes',
      );
    }
    return count;
  }

  #count(map: Map<string, Times>, key: string, now: number, windowMs: number, bound: number): number {
    let times = map.get(key);
    if (times === undefined) {
      if (map.size >= this.#maxTracked) this.#prune(map, now, windowMs);
      times = [];
      map.set(key, times);
    }
    times.push(now);
    const count = this.#trim(times, windowMs);
    if (times.length > bound) times.shift();
    return count;
  }

  /** Drops times older than the window (from the head) and returns how many remain. */
  #trim(times: Times, windowMs: number): number {
    const now = this.#now();
    while (times.length > 0 && now - times[0]! >= windowMs) times.shift();
    return times.length;
  }

  /** Drops entries with nothing inside the window; if still full, the oldest third. */
  #prune<V extends Times | { times: Times }>(map: Map<string, V>, now: number, windowMs: number): void {
    for (const [key, value] of map) {
      const times = Array.isArray(value) ? value : value.times;
      const last = times[times.length - 1];
      if (last === undefined || now - last >= windowMs) map.delete(key);
    }
    if (map.size < this.#maxTracked) return;
    let drop = Math.ceil(map.size / 3);
    for (const key of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(key);
    }
  }

  #pruneKnown(now: number): void {
    for (const [key, last] of this.#known) {
      if (now - last >= this.#knownForMs) {
        this.#known.delete(key);
        this.#knownWritten.delete(key);
      }
    }
  }

  /** Re-reads blocks; one lifted elsewhere (pbxctl) also forgets its counts. */
  #refresh(now: number): void {
    this.#refreshedAt = now;
    let stored: AccessBlock[];
    try {
      stored = this.#blocks.active(now);
    } catch (error) {
      this.#logger.error({ err: error }, 'could not read blocks');
      return;
    }
    const next = new Map<string, Map<string, ActiveBlock>>();
    for (const block of stored) {
      let blocks = next.get(block.source);
      if (blocks === undefined) {
        blocks = new Map();
        next.set(block.source, blocks);
      }
      blocks.set(block.extension, { block, dropLogged: this.#active.get(block.source)?.get(block.extension)?.dropLogged ?? false });
    }
    for (const [source, blocks] of this.#active) {
      for (const extension of blocks.keys()) {
        if (next.get(source)?.has(extension) === true) continue;
        if (extension === EVERY_EXTENSION) this.#bySource.delete(source);
        else this.#byPair.delete(pairKey(source, extension));
      }
    }
    this.#active = next;
  }
}

/**
 * The extension a request speaks for, for admission: the digest user name when credentials are
 * present, else the From user. Cheap: no parse of the credentials beyond the user name.
 */
export function claimedExtension(request: SipRequest): string | null {
  for (const name of ['Authorization', 'Proxy-Authorization']) {
    for (const value of getHeaders(request, name)) {
      const match = /(?:^|[\s,])username\s*=\s*(?:"([^"]*)"|([^\s,]+))/i.exec(value);
      if (match !== null) return match[1] ?? match[2] ?? null;
    }
  }
  const from = request.from.uri;
  return from.kind === 'sip' && from.user !== null ? from.user : null;
}
