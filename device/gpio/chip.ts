/**
 * A GPIO chip as the front panel uses it: a few output lines (LEDs) and an input line (the reset
 * button). Two implementations: the Linux GPIO character device (chardev.ts, the appliance) and a
 * simulated chip backed by JSON files (sim-chip.ts, simulation mode and tests).
 */

export interface GpioOutputs {
  /** Drive one of the requested lines (true = active; active-low wiring is the chip's business). */
  set(offset: number, active: boolean): void;
  release(): void;
}

export interface GpioInput {
  /** The line's active state now (a pressed button reads true). */
  read(): boolean;
  release(): void;
}

export interface GpioChip {
  readonly label: string;
  requestOutputs(offsets: number[], consumer: string): GpioOutputs;
  requestInput(offset: number, consumer: string, options?: { activeLow?: boolean; pullUp?: boolean; debounceMs?: number }): GpioInput;
  close(): void;
}
