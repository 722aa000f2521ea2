/**
 * RFC 3261 §17 timer values (Table 4) and a small owner of named one-shot timers, so a
 * transaction can stop all of its timers at once when it terminates.
 */

export interface TimerSettings {
  /** RTT estimate (§17.1.1.1), 500 ms. */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s. */
  T2: number;
  /** Maximum time a message stays in the network, 5 s. */
  T4: number;
  /** Timer D: wait for response retransmits after a non-2xx to INVITE over UDP, ≥ 32 s. */
  D: number;
  /** §17.2.1: the INVITE server transaction sends 100 Trying if the TU has not answered by then. */
  trying100: number;
}

export const DEFAULT_TIMERS: TimerSettings = { T1: 500, T2: 4000, T4: 5000, D: 32_000, trying100: 200 };

export function resolveTimers(partial: Partial<TimerSettings> = {}): TimerSettings {
  const merged = { ...DEFAULT_TIMERS, ...partial };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`timer ${name} must be a non-negative number`);
  }
  return merged;
}

/**
 * The server transaction watchdog: how long the TU may leave a request unanswered before the layer
 * answers 500 itself and frees the transaction. Derived from T1 so tests with a short T1 are quick.
 * - non-INVITE: 32*T1 (16 s), half of the client's Timer F (64*T1, §17.1.2.2), so the 500 still
 *   reaches a client that is waiting;
 * - INVITE with no response from the TU at all (only the layer's own 100 Trying): 64*T1 (32 s);
 * - INVITE after a provisional from the TU: 360*T1 (3 min) since the last one, the value of a
 *   proxy's Timer C (§16.6 step 11), so ringing for as long as a proxy would allow is never cut.
 */
export interface WatchdogLimits {
  nonInviteMs: number;
  inviteNoAnswerMs: number;
  inviteProvisionalMs: number;
  /** How often the layer looks for overdue transactions. */
  sweepMs: number;
}

export function watchdogLimits(timers: TimerSettings): WatchdogLimits {
  const t1 = timers.T1;
  return {
    nonInviteMs: 32 * t1,
    inviteNoAnswerMs: 64 * t1,
    inviteProvisionalMs: 360 * t1,
    sweepMs: Math.min(1000, Math.max(20, 2 * t1)),
  };
}

/** A scheduled end-of-state timer; `cancel()` is idempotent. */
export interface Expiry {
  cancel(): void;
}

interface ExpiryEntry extends Expiry {
  due: number;
  fire: (() => void) | null;
}

/** At most this late: an end timer firing up to 100 ms after its due time changes nothing on the wire. */
export const EXPIRY_SLACK_MS = 100;

/**
 * Timers that only end a state (D, I, K, L, M, and J's compact records): they must never fire early
 * and may fire a little late. Every entry of one duration expires in the order it was added, so
 * each duration is a FIFO served by a single Node timer set at the oldest entry's due time plus a
 * slack: one wakeup ends every transaction due within the slack. At 100 calls/s that is ~10 wakeups
 * a second per duration instead of one per transaction and timer.
 */
export class ExpiryQueues {
  readonly #queues = new Map<number, { entries: ExpiryEntry[]; head: number; timer: NodeJS.Timeout | null }>();
  readonly #slackMs: number;

  constructor(slackMs = EXPIRY_SLACK_MS) {
    this.#slackMs = slackMs;
  }

  schedule(ms: number, fire: () => void): Expiry {
    const entry: ExpiryEntry = {
      due: performance.now() + ms,
      fire,
      cancel() {
        entry.fire = null;
      },
    };
    let queue = this.#queues.get(ms);
    if (queue === undefined) {
      queue = { entries: [], head: 0, timer: null };
      this.#queues.set(ms, queue);
    }
    queue.entries.push(entry);
    if (queue.timer === null) this.#arm(ms, queue);
    return entry;
  }

  #arm(ms: number, queue: { entries: ExpiryEntry[]; head: number; timer: NodeJS.Timeout | null }): void {
    const head = queue.entries[queue.head];
    if (head === undefined) {
      queue.timer = null;
      queue.entries = [];
      queue.head = 0;
      return;
    }
    // Short timers (tests run with T1 = 40 ms) get a proportionally short slack.
    const slack = Math.min(this.#slackMs, ms / 4);
    queue.timer = setTimeout(() => {
      // `finally`: an entry that throws must not leave the rest of its queue without a timer.
      try {
        const now = performance.now();
        for (;;) {
          const entry = queue.entries[queue.head];
          if (entry === undefined || entry.due > now) break;
          queue.head++;
          const fire = entry.fire;
          entry.fire = null;
          fire?.();
        }
      } finally {
        if (queue.head > 1024 && queue.head * 2 > queue.entries.length) {
          queue.entries = queue.entries.slice(queue.head);
          queue.head = 0;
        }
        this.#arm(ms, queue);
      }
    }, Math.max(0, head.due - performance.now()) + slack);
  }

  /** Forgets everything without firing (shutdown). */
  clear(): void {
    for (const queue of this.#queues.values()) {
      if (queue.timer !== null) clearTimeout(queue.timer);
      for (let i = queue.head; i < queue.entries.length; i++) queue.entries[i]!.fire = null;
    }
    this.#queues.clear();
  }
}

/** Named one-shot timers of one transaction (A, B, E, F, G, H, ...). */
export class TimerSet {
  readonly #timers = new Map<string, NodeJS.Timeout | Expiry>();

  start(name: string, ms: number, fire: () => void): void {
    this.stop(name);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        fire();
      }, ms),
    );
  }

  /** An end-of-state timer on the shared expiry queues (may fire up to the slack late). */
  expire(name: string, queues: ExpiryQueues, ms: number, fire: () => void): void {
    this.stop(name);
    this.#timers.set(
      name,
      queues.schedule(ms, () => {
        this.#timers.delete(name);
        fire();
      }),
    );
  }

  stop(name: string): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) {
      cancel(timer);
      this.#timers.delete(name);
    }
  }

  clear(): void {
    for (const timer of this.#timers.values()) cancel(timer);
    this.#timers.clear();
  }
}

function cancel(timer: NodeJS.Timeout | Expiry): void {
  if ('cancel' in timer) timer.cancel();
  else clearTimeout(timer);
}
