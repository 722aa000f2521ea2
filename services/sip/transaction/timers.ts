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

/** Named one-shot timers of one transaction (A, B, E, F, G, H, ...). */
export class TimerSet {
  readonly #timers = new Map<string, NodeJS.Timeout>();

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

  stop(name: string): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(name);
    }
  }

  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
