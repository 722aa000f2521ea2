import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChardevGpioChip } from './chardev.js';
import { FrontPanel, DEFAULT_PINS } from './panel.js';
import { SIM_GPIO_IN, SimGpioChip, readSimOutputs, writeJsonAtomic } from './sim-chip.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpio-'));
  const chip = new SimGpioChip(dir);
  const calls: string[] = [];
  const panel = new FrontPanel(chip, DEFAULT_PINS, { restartServices: () => calls.push('restart'), factoryReset: () => calls.push('factory') }, { pollMs: 10, debounceMs: 30, longPressMs: 400, confirmMs: 300 });
  const press = (down: boolean) => writeJsonAtomic(path.join(dir, SIM_GPIO_IN), { [DEFAULT_PINS.resetButton]: down });
  const led = (offset: number) => readSimOutputs(dir)?.lines[offset]?.active;
  return { dir, panel, calls, press, led, done: () => { panel.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

test('LEDs drive their lines on the simulated chip', async () => {
  const s = setup();
  try {
    s.panel.set('power', 'on');
    s.panel.set('voicemail', 'off');
    await sleep(50);
    assert.equal(s.led(DEFAULT_PINS.leds.power), true);
    assert.equal(s.led(DEFAULT_PINS.leds.voicemail), false);
    s.panel.set('network', 'blink-fast');
    const seen = new Set<boolean | undefined>();
    for (let i = 0; i < 30; i++) {
      seen.add(s.led(DEFAULT_PINS.leds.network));
      await sleep(15);
    }
    assert.deepEqual([...seen].sort(), [false, true], 'blinking');
  } finally {
    s.done();
  }
});

test('a short press restarts the services; a glitch shorter than the debounce does nothing', async () => {
  const s = setup();
  try {
    s.press(true);
    await sleep(12);
    s.press(false);
    await sleep(100);
    assert.deepEqual(s.calls, []);
    s.press(true);
    await sleep(150);
    s.press(false);
    await sleep(100);
    assert.deepEqual(s.calls, ['restart']);
  } finally {
    s.done();
  }
});

test('a long press blinks every LED, then restores factory settings (once)', async () => {
  const s = setup();
  try {
    s.panel.set('power', 'on');
    s.press(true);
    await sleep(500);
    assert.equal(s.panel.button, 'confirming');
    const seen = new Set<boolean | undefined>();
    for (let i = 0; i < 10; i++) {
      seen.add(s.led(DEFAULT_PINS.leds.power));
      await sleep(20);
    }
    assert.deepEqual([...seen].sort(), [false, true], 'the power LED blinks during the confirmation');
    await sleep(300);
    assert.deepEqual(s.calls, ['factory']);
    s.press(false);
    await sleep(100);
    assert.deepEqual(s.calls, ['factory'], 'no restart on the release after a factory reset');
  } finally {
    s.done();
  }
});

test('chardev: the addon loads and reports a missing chip and a non-GPIO file clearly (no /dev/gpiochip here)', () => {
  assert.throws(() => new ChardevGpioChip('/dev/gpiochip-none'), (e: Error & { code?: string }) => e.code === 'ENOENT' && /gpiochip-none/.test(e.message));
  assert.throws(() => new ChardevGpioChip('/dev/null'), (e: Error & { code?: string }) => e.code === 'ENOTTY' && /not a GPIO chip/.test(e.message));
});

test('factory reset moves the database, its WAL, config and audio aside, nothing else', async () => {
  const { moveStateAside } = await import('./actions.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factory-'));
  try {
    for (const f of ['pbx.sqlite', 'pbx.sqlite-wal', 'config.json', 'pbx.sock']) fs.writeFileSync(path.join(dir, f), 'x');
    fs.mkdirSync(path.join(dir, 'logs'));
    const target = moveStateAside(dir, new Date('2026-12-06T10:00:00Z'));
    assert.ok(target !== null);
    assert.deepEqual(fs.readdirSync(target).sort(), ['config.json', 'pbx.sqlite', 'pbx.sqlite-wal']);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(target), 'logs', 'pbx.sock'].sort());
    assert.equal(moveStateAside(dir), null, 'nothing left to move');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const hilChip = process.env.HIL_GPIOCHIP;
test('chardev on a real chip (HIL_GPIOCHIP=/dev/gpiochipN, HIL_GPIO_LINE=free line)', { skip: hilChip === undefined ? 'no HIL_GPIOCHIP: no GPIO chip on this machine' : false }, () => {
  const chip = new ChardevGpioChip(hilChip as string);
  try {
    assert.ok(chip.lines > 0);
    const line = Number(process.env.HIL_GPIO_LINE ?? 0);
    const input = chip.requestInput(line, 'pbx-hil-test', { pullUp: true });
    assert.equal(typeof input.read(), 'boolean');
    input.release();
  } finally {
    chip.close();
  }
});
