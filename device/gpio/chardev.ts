/**
 * GpioChip on the Linux GPIO character device (/dev/gpiochipN), uAPI v2, through a small N-API addon
 * (native/gpio_chardev.c, built from source by scripts/build.d/30-gpio-native.sh). The button is
 * polled (GPIO_V2_LINE_GET_VALUES every 20 ms by the panel) rather than read as edge events: a
 * blocking read() of the event fd would hold a libuv worker thread forever, and 20 ms is far below
 * a human press. The kernel debounces the input (GPIO_V2_LINE_ATTR_ID_DEBOUNCE) where it can.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpioChip, GpioInput, GpioOutputs } from './chip.js';

interface Addon {
  chipInfo(path: string): { name: string; label: string; lines: number };
  requestLines(path: string, offsets: number[], flags: number, consumer: string, outputBits: number, debounceUs: number): number;
  getValues(fd: number, mask: number): number;
  setValues(fd: number, mask: number, bits: number): void;
  close(fd: number): void;
}

// linux/gpio.h, enum gpio_v2_line_flag.
export const LINE_FLAG = { ACTIVE_LOW: 1 << 1, INPUT: 1 << 2, OUTPUT: 1 << 3, BIAS_PULL_UP: 1 << 8, BIAS_PULL_DOWN: 1 << 9 } as const;

let addon: Addon | null = null;
function load(): Addon {
  if (addon === null) {
    // dist/device/gpio/chardev.js → device/gpio/native/build/Release (the addon is built in the source tree).
    const here = path.dirname(fileURLToPath(import.meta.url));
    const root = path.resolve(here, '../../..');
    addon = createRequire(import.meta.url)(path.join(root, 'device/gpio/native/build/Release/gpio_chardev.node')) as Addon;
  }
  return addon;
}

export class ChardevGpioChip implements GpioChip {
  readonly label: string;
  readonly lines: number;
  readonly #fds = new Set<number>();

  /** Throws (ENOENT, EACCES, ENOTTY "not a GPIO chip") when the path is not a usable chip. */
  constructor(readonly path: string) {
    const info = load().chipInfo(path);
    this.label = info.label;
    this.lines = info.lines;
  }

  requestOutputs(offsets: number[], consumer: string): GpioOutputs {
    const a = load();
    const fd = a.requestLines(this.path, offsets, LINE_FLAG.OUTPUT, consumer, 0, 0);
    this.#fds.add(fd);
    return {
      set: (offset, active) => {
        const i = offsets.indexOf(offset);
        if (i < 0) throw new RangeError(`line ${offset} was not requested`);
        a.setValues(fd, 1 << i, active ? 1 << i : 0);
      },
      release: () => this.#release(fd),
    };
  }

  requestInput(offset: number, consumer: string, options: { activeLow?: boolean; pullUp?: boolean; debounceMs?: number } = {}): GpioInput {
    const a = load();
    const flags = LINE_FLAG.INPUT | (options.activeLow ? LINE_FLAG.ACTIVE_LOW : 0) | (options.pullUp ? LINE_FLAG.BIAS_PULL_UP : 0);
    const fd = a.requestLines(this.path, [offset], flags, consumer, 0, Math.round((options.debounceMs ?? 0) * 1000));
    this.#fds.add(fd);
    return { read: () => (a.getValues(fd, 1) & 1) === 1, release: () => this.#release(fd) };
  }

  close(): void {
    for (const fd of [...this.#fds]) this.#release(fd);
  }

  #release(fd: number): void {
    if (!this.#fds.delete(fd)) return;
    load().close(fd);
  }
}
