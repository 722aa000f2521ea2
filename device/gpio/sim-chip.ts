/**
 * The simulated GPIO chip of simulation mode: outputs are written to `<dir>/gpio-out.json` (what the
 * LEDs show, read by `pbxctl sim status`), inputs are read from `<dir>/gpio-in.json` (written by the
 * virtual board when `pbxctl sim button` presses the reset button). Writes are atomic (temp +
 * rename) so a reader never sees half a file; a missing or unreadable input file reads as released.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GpioChip, GpioInput, GpioOutputs } from './chip.js';

export const SIM_GPIO_OUT = 'gpio-out.json';
export const SIM_GPIO_IN = 'gpio-in.json';

export interface SimGpioOut {
  label: string;
  /** offset → { consumer, active } */
  lines: Record<string, { consumer: string; active: boolean }>;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value));
  fs.renameSync(tmp, file);
}

/** Active input lines as the file says (offset → active). */
export function readSimInputs(dir: string): Record<string, boolean> {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, SIM_GPIO_IN), 'utf8')) as unknown;
    if (v === null || typeof v !== 'object') return {};
    const out: Record<string, boolean> = {};
    for (const [k, b] of Object.entries(v as Record<string, unknown>)) if (/^[0-9]+$/.test(k) && typeof b === 'boolean') out[k] = b;
    return out;
  } catch {
    return {};
  }
}

export function readSimOutputs(dir: string): SimGpioOut | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, SIM_GPIO_OUT), 'utf8')) as SimGpioOut;
  } catch {
    return null;
  }
}

export class SimGpioChip implements GpioChip {
  readonly label = 'sim-gpio';
  readonly #out: SimGpioOut = { label: 'sim-gpio', lines: {} };

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    writeJsonAtomic(path.join(dir, SIM_GPIO_OUT), this.#out);
  }

  requestOutputs(offsets: number[], consumer: string): GpioOutputs {
    for (const o of offsets) {
      if (this.#out.lines[o] !== undefined) throw new Error(`line ${o} busy (${this.#out.lines[o]?.consumer})`);
      this.#out.lines[o] = { consumer, active: false };
    }
    this.#flush();
    return {
      set: (offset, active) => {
        const line = this.#out.lines[offset];
        if (line === undefined || !offsets.includes(offset)) throw new RangeError(`line ${offset} was not requested`);
        if (line.active === active) return;
        line.active = active;
        this.#flush();
      },
      release: () => {
        for (const o of offsets) delete this.#out.lines[o];
        this.#flush();
      },
    };
  }

  requestInput(offset: number): GpioInput {
    return { read: () => readSimInputs(this.dir)[offset] === true, release: () => {} };
  }

  close(): void {}

  #flush(): void {
    try {
      writeJsonAtomic(path.join(this.dir, SIM_GPIO_OUT), this.#out);
    } catch {
      /* a full disk must not stop the panel: the next change writes again */
    }
  }
}
