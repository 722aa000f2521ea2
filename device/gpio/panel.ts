/**
 * The front panel: four LEDs (power, network, line in use, voicemail waiting) and the reset button.
 *
 * Button (state machine, sampled every pollMs, debounced over debounceMs):
 *   released → pressed                                   (stable press)
 *   pressed  → released  before longPressMs              → restartServices()   (short press)
 *   pressed  → held      at longPressMs                  → every LED blinks fast (the confirmation)
 *   held     → (confirmMs of blinking)                   → factoryReset()      whether or not released
 * A press shorter than debounceMs is noise and does nothing. As on common ATAs (Grandstream, Cisco
 * SPA: "hold 10 s until the LEDs flash"), the blink tells the user the reset is coming.
 */
import type { GpioChip, GpioInput, GpioOutputs } from './chip.js';

export type LedName = 'power' | 'network' | 'lineInUse' | 'voicemail';
export type LedState = 'off' | 'on' | 'blink-slow' | 'blink-fast';

export interface PanelPins {
  leds: Record<LedName, number>;
  resetButton: number;
}

/** The board's wiring on the appliance (device tree of the box; also used by the simulated chip). */
export const DEFAULT_PINS: PanelPins = { leds: { power: 0, network: 1, lineInUse: 2, voicemail: 3 }, resetButton: 4 };

export interface PanelActions {
  restartServices(): void;
  factoryReset(): void;
}

export interface PanelOptions {
  pollMs?: number;
  debounceMs?: number;
  longPressMs?: number;
  confirmMs?: number;
}

type ButtonState = { s: 'released' } | { s: 'pressed'; since: number } | { s: 'confirming'; since: number } | { s: 'done' };

const LEDS: LedName[] = ['power', 'network', 'lineInUse', 'voicemail'];

export class FrontPanel {
  readonly #outputs: GpioOutputs;
  readonly #button: GpioInput;
  readonly #leds = new Map<LedName, LedState>(LEDS.map((l) => [l, 'off']));
  #state: ButtonState = { s: 'released' };
  #raw = false;
  #rawSince = 0;
  #timer: NodeJS.Timeout;
  #t = 0;
  readonly #o: Required<PanelOptions>;

  constructor(
    chip: GpioChip,
    private readonly pins: PanelPins,
    private readonly actions: PanelActions,
    options: PanelOptions = {},
  ) {
    this.#o = { pollMs: options.pollMs ?? 20, debounceMs: options.debounceMs ?? 50, longPressMs: options.longPressMs ?? 10000, confirmMs: options.confirmMs ?? 3000 };
    this.#outputs = chip.requestOutputs(LEDS.map((l) => pins.leds[l]), 'pbx-panel');
    this.#button = chip.requestInput(pins.resetButton, 'pbx-reset', { activeLow: true, pullUp: true, debounceMs: 10 });
    this.#timer = setInterval(() => this.#tick(), this.#o.pollMs);
    this.#timer.unref?.();
  }

  set(led: LedName, state: LedState): void {
    this.#leds.set(led, state);
    this.#render();
  }

  get button(): ButtonState['s'] {
    return this.#state.s;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#outputs.release();
    this.#button.release();
  }

  #tick(): void {
    const now = Date.now();
    this.#t = now;
    let pressed: boolean;
    try {
      pressed = this.#button.read();
    } catch {
      pressed = false; // a read error is not a press
    }
    if (pressed !== this.#raw) {
      this.#raw = pressed;
      this.#rawSince = now;
    }
    const stable = now - this.#rawSince >= this.#o.debounceMs;
    const st = this.#state;
    switch (st.s) {
      case 'released':
        if (this.#raw && stable) this.#state = { s: 'pressed', since: this.#rawSince };
        break;
      case 'pressed':
        if (!this.#raw && stable) {
          this.#state = { s: 'released' };
          this.#safe(() => this.actions.restartServices());
        } else if (now - st.since >= this.#o.longPressMs) {
          this.#state = { s: 'confirming', since: now };
        }
        break;
      case 'confirming':
        if (now - st.since >= this.#o.confirmMs) {
          this.#state = { s: 'done' };
          this.#safe(() => this.actions.factoryReset());
        }
        break;
      case 'done':
        if (!this.#raw && stable) this.#state = { s: 'released' };
        break;
    }
    this.#render();
  }

  #render(): void {
    const confirming = this.#state.s === 'confirming';
    for (const led of LEDS) {
      const state: LedState = confirming ? 'blink-fast' : (this.#leds.get(led) ?? 'off');
      const on = state === 'on' || (state === 'blink-slow' && Math.floor(this.#t / 500) % 2 === 0) || (state === 'blink-fast' && Math.floor(this.#t / 100) % 2 === 0);
      try {
        this.#outputs.set(this.pins.leds[led], on);
      } catch {
        /* an LED that cannot be driven must not stop the button */
      }
    }
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch {
      /* the action reports its own failure */
    }
  }
}
