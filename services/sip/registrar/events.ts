/**
 * A typed event emitter whose listeners cannot crash the emitter (mediasoup `safeEmit`): a
 * listener that throws is reported through `onListenerError` and the other listeners still run.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  readonly #listeners = new Map<keyof Events, Set<unknown>>();
  onListenerError: (error: unknown, event: string) => void = () => {};

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...args: Events[K]) => void)(...args);
      } catch (error) {
        this.onListenerError(error, String(event));
      }
    }
  }
}
