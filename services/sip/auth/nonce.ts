/**
 * Nonces (RFC 7616 §3.3, §5.4–5.5): stateless to issue, so an unauthenticated flood of REGISTERs
 * costs no memory. A nonce is `base64url(issuedAt(6) | counter(4) | HMAC-SHA256(bootKey, those 10)[0..12])`;
 * the key is random per boot, so a restart invalidates every outstanding nonce (phones get a new
 * challenge, as after any stale nonce).
 *
 * Replay protection is stateful but bounded: the highest `nc` is kept per nonce that authenticated
 * successfully, only for the nonce's lifetime, and within a byte budget (`maxTrackedBytes`). When
 * the table is full the oldest entry is evicted and every untracked nonce issued at or before it
 * becomes stale, so eviction can never reopen a replay window. Entries are keyed by the nonce's
 * counter (a number, unique per boot for far longer than a lifetime), never by the nonce text: a
 * string cut from a request would keep the whole request alive for as long as the entry.
 *
 * `verify` is the cheap first gate: the HMAC alone, before any table access or digest hashing, so
 * a forged or foreign nonce (another box, a previous boot) costs two SHA-256 blocks and nothing else.
 */
import { createHmac, hash, randomBytes } from 'node:crypto';

const PAYLOAD_BYTES = 10;
const MAC_BYTES = 12;
/** SHA-256 block and output sizes (RFC 2104's B and L). */
const BLOCK = 64;
const DIGEST = 32;

export interface NonceOptions {
  /** How long a nonce is accepted after it was issued (default 30 s). */
  lifetimeMs?: number;
  /** Upper bound of nonces tracked for replay (default: what `maxTrackedBytes` holds). */
  maxTracked?: number;
  /** Byte budget of the replay table (default 2 MiB, about 32,000 nonces: 30 s at 1,000 logins/s). */
  maxTrackedBytes?: number;
  now?: () => number;
  /** For tests only; a fresh random key per boot otherwise. */
  key?: Buffer;
}

export type NonceCheck = { kind: 'valid'; issuedAt: number } | { kind: 'stale' } | { kind: 'invalid' };

/** What one tracked nonce costs: a Map entry with a number key and a two-field object (measured ~60 B). */
const TRACKED_ENTRY_BYTES = 64;

/** RFC 7616 §3.4: nc must grow per nonce; a nonce used without qop may be used once. */
export type NonceUse = 'fresh' | 'replay';

interface Tracked {
  issuedAt: number;
  /** -1 marks a nonce consumed without qop: any further use is a replay. */
  highestNc: number;
}

export class NonceManager {
  readonly lifetimeMs: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  readonly #key: Buffer;
  /** RFC 2104 with the key pads precomputed: HMAC = H(K^opad | H(K^ipad | m)), two one-shot hashes. */
  readonly #inner = Buffer.alloc(BLOCK + PAYLOAD_BYTES);
  readonly #outer = Buffer.alloc(BLOCK + DIGEST);
  /** Opaque is constant per boot: it carries nothing, RFC 7616 only asks that it be echoed. */
  readonly opaque: string;
  #counter = 0;
  /** Keyed by the nonce's counter (see above); insertion order is use order. */
  readonly #tracked = new Map<number, Tracked>();
  /** Sweeps the table while it holds entries, so an idle box does not keep a flood's nonces. */
  #sweepTimer: NodeJS.Timeout | null = null;
  /** Untracked nonces issued at or before this are treated as stale (see eviction above). */
  #floor = Number.NEGATIVE_INFINITY;

  constructor(options: NonceOptions = {}) {
    this.lifetimeMs = options.lifetimeMs ?? 30_000;
    this.#maxTracked = options.maxTracked ?? Math.max(1, Math.floor((options.maxTrackedBytes ?? 2 * 1024 * 1024) / TRACKED_ENTRY_BYTES));
    this.#now = options.now ?? Date.now;
    this.#key = options.key ?? randomBytes(32);
    if (this.#key.length > BLOCK) throw new RangeError('nonce key: at most 64 bytes');
    for (let i = 0; i < BLOCK; i++) {
      this.#inner[i] = (this.#key[i] ?? 0) ^ 0x36;
      this.#outer[i] = (this.#key[i] ?? 0) ^ 0x5c;
    }
    this.opaque = createHmac('sha256', this.#key).update('opaque').digest('base64url').slice(0, 22);
  }

  issue(): string {
    const payload = Buffer.allocUnsafe(PAYLOAD_BYTES + MAC_BYTES);
    payload.writeUIntBE(Math.max(0, Math.floor(this.#now())), 0, 6);
    this.#counter = (this.#counter + 1) >>> 0;
    payload.writeUInt32BE(this.#counter, 6);
    this.#mac(payload.subarray(0, PAYLOAD_BYTES)).copy(payload, PAYLOAD_BYTES, 0, MAC_BYTES);
    return payload.toString('base64url');
  }

  /**
   * True when this box issued the nonce during this boot: its HMAC only, whatever its age. No table
   * access, no allocation beyond the decoded 22 bytes. Call it before anything costlier.
   */
  verify(nonce: string): boolean {
    return this.#decode(nonce) !== null;
  }

  /** Checks the signature and age only; says nothing about replay. */
  check(nonce: string): NonceCheck {
    const bytes = this.#decode(nonce);
    if (bytes === null) return { kind: 'invalid' };
    const issuedAt = bytes.readUIntBE(0, 6);
    const now = this.#now();
    if (issuedAt > now + 1_000 || now - issuedAt > this.lifetimeMs) return { kind: 'stale' };
    if (issuedAt <= this.#floor && !this.#tracked.has(bytes.readUInt32BE(6))) return { kind: 'stale' };
    return { kind: 'valid', issuedAt };
  }

  /** The nonce's bytes when its format and HMAC are ours, else null. */
  #decode(nonce: string): Buffer | null {
    if (nonce.length !== 30 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return null;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== PAYLOAD_BYTES + MAC_BYTES) return null;
    const mac = this.#mac(bytes.subarray(0, PAYLOAD_BYTES));
    return mac.subarray(0, MAC_BYTES).equals(bytes.subarray(PAYLOAD_BYTES)) ? bytes : null;
  }

  /**
   * Records a use of a valid nonce whose digest was correct. `nc` null = no qop (RFC 2069).
   * Call only after the response verified, so a guesser cannot fill the table.
   */
  use(nonce: string, issuedAt: number, nc: number | null): NonceUse {
    this.#sweep();
    const counter = counterOf(nonce);
    if (counter === null) return 'replay';
    const entry = this.#tracked.get(counter);
    if (entry === undefined) {
      if (this.#tracked.size >= this.#maxTracked) this.#evictOldest();
      this.#tracked.set(counter, { issuedAt, highestNc: nc ?? -1 });
      this.#armSweep();
      return 'fresh';
    }
    if (nc === null || entry.highestNc < 0 || nc <= entry.highestNc) return 'replay';
    entry.highestNc = nc;
    return 'fresh';
  }

  get trackedCount(): number {
    return this.#tracked.size;
  }

  /** The replay table's size in bytes (its budget's measure). */
  get trackedBytes(): number {
    return this.#tracked.size * TRACKED_ENTRY_BYTES;
  }

  /**
   * HMAC-SHA256 of a 10-byte payload. Two `crypto.hash` calls instead of an Hmac object per nonce:
   * a REGISTER issues one nonce and checks one, and the object setup was most of their cost.
   */
  #mac(data: Buffer): Buffer {
    data.copy(this.#inner, BLOCK);
    hash('sha256', this.#inner, 'buffer').copy(this.#outer, BLOCK);
    return hash('sha256', this.#outer, 'buffer');
  }

  #armSweep(): void {
    if (this.#sweepTimer !== null) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = null;
      this.#sweep();
      if (this.#tracked.size > 0) this.#armSweep();
    }, this.lifetimeMs + 1000);
    this.#sweepTimer.unref();
  }

  /** Insertion order is roughly issue order: drop expired entries from the head. */
  #sweep(): void {
    const oldestAllowed = this.#now() - this.lifetimeMs;
    for (const [counter, entry] of this.#tracked) {
      if (entry.issuedAt >= oldestAllowed) break;
      this.#tracked.delete(counter);
    }
  }

  #evictOldest(): void {
    const first = this.#tracked.entries().next();
    if (first.done === true) return;
    const [counter, entry] = first.value;
    this.#tracked.delete(counter);
    if (entry.issuedAt > this.#floor) this.#floor = entry.issuedAt;
  }
}

/** The issue counter inside a nonce of ours (bytes 6..9), decoded without keeping the string. */
function counterOf(nonce: string): number | null {
  if (nonce.length !== 30) return null;
  const bytes = Buffer.from(nonce, 'base64url');
  return bytes.length === PAYLOAD_BYTES + MAC_BYTES ? bytes.readUInt32BE(6) : null;
}
