/**
 * The virtual analog board: the firmware's behaviour (docs/serial-protocol.md) on the board end of a
 * socat pty pair, with simulated lines and devices behind its ports. It is test equipment: the
 * host driver cannot tell it from a real board on /dev/ttyACM0.
 *
 * Line model per port:
 *   FXS: hook switch (the device), ringer (the board, by cadence; ring trip on off-hook), polarity.
 *   FXO: seize (the host), ringing voltage, polarity and loop current (the central office).
 *   Power-fail relay: engaged by command or when the board is unpowered; FXS 1 is then wired to the
 *   FXO line (hook → seize, ringing → ringer, audio both ways) and the host sees neither port.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SerialPort } from 'serialport';
import type { Logger } from '../../services/log.js';
import type { Country } from '../../services/media/tones/table.js';
import { portName, type PortEvent, type PortId } from '../board.js';
import { crc32 } from '../link/crc16.js';
import { LinkEndpoint, type EndpointStats } from '../link/endpoint.js';
import { PROTOCOL_VERSION, T, type BoardMode, type Message, type PortLineState } from '../link/messages.js';
import { AnalogPhone, CentralOffice, SimError, type CentralOfficeStatus, type FxoLine, type FxsDeviceStatus, type FxsLine } from './devices.js';
import { FaxMachine } from './fax-machine.js';
import { PtyPair } from './pty-pair.js';
import { DEFAULT_PINS, type LedName } from '../gpio/panel.js';
import { SIM_GPIO_IN, readSimInputs, readSimOutputs, writeJsonAtomic } from '../gpio/sim-chip.js';

export type FxsDeviceKind = 'phone' | 'fax';

export interface VirtualBoardOptions {
  /** The tty the driver opens (a symlink, like /dev/ttyACM0). */
  hostPath: string;
  /** The board's own end. */
  boardPath: string;
  country: Country;
  fxs?: FxsDeviceKind[];
  firmware?: string;
  /** Silence after a reset before the board's hello (a real MCU boots in ~100-500 ms). */
  bootMs?: number;
  log?: Logger;
}

const FLASH_SIZE = 256 * 1024;
const CAPABILITIES = ['pulse-detect', 'polarity-reversal', 'power-fail-relay', 'bootloader', 'on-hook-audio', 'ring-detect'];

class FxsPort implements FxsLine {
  offHook = false;
  ring: { cadence: number[]; pos: number } | null = null;
  ringOn = false;
  polarityReversed = false;

  constructor(
    readonly id: PortId,
    public device: AnalogPhone | FaxMachine,
    private readonly board: VirtualBoard,
  ) {
    device.attach(this);
  }

  setHook(offHook: boolean): void {
    this.offHook = offHook;
    if (this.board.bridged(this.id)) {
      this.board.co.seize(offHook);
      return;
    }
    if (offHook && this.ring !== null) this.stopRing(); // ring trip
    this.board.event({ kind: 'hook', port: this.id, offHook });
  }

  flash(): void {
    if (!this.board.bridged(this.id)) this.board.event({ kind: 'flash', port: this.id });
  }

  pulseDigit(digit: string): void {
    if (!this.board.bridged(this.id)) this.board.event({ kind: 'pulse-digit', port: this.id, digit });
  }

  startRing(cadence: number[]): void {
    if (this.offHook) return;
    const c = cadence.length === 0 || cadence.every((ms) => ms === 0) ? [2000, 4000] : cadence.length % 2 === 1 ? [...cadence, 0] : cadence;
    this.ring = { cadence: c, pos: 0 };
  }

  stopRing(): void {
    this.ring = null;
    this.setRingOn(false);
  }

  setRingOn(on: boolean): void {
    if (on === this.ringOn) return;
    this.ringOn = on;
    this.device.ringVoltage(on);
  }

  tick(ms: number): void {
    const r = this.ring;
    if (r === null) return;
    const period = r.cadence.reduce((a, b) => a + b, 0);
    const pos = period > 0 ? r.pos % period : 0;
    let acc = 0;
    let on = true;
    for (let i = 0; i < r.cadence.length; i++) {
      acc += r.cadence[i] as number;
      if (pos < acc) {
        on = i % 2 === 0;
        break;
      }
    }
    this.setRingOn(on);
    r.pos += ms;
  }
}

class FxoPort implements FxoLine {
  seized = false;
  ringOn = false;
  polarityReversed = false;
  loopCurrent = false;

  constructor(
    readonly id: PortId,
    private readonly board: VirtualBoard,
  ) {}

  setRingVoltage(on: boolean): void {
    this.ringOn = on;
    if (this.board.relayEngaged) {
      this.board.fxs[0]?.device.ringVoltage(on);
      return;
    }
    this.board.event({ kind: 'ring', port: this.id, on });
  }

  setPolarity(reversed: boolean): void {
    this.polarityReversed = reversed;
    if (!this.board.relayEngaged) this.board.event({ kind: 'polarity', port: this.id, reversed });
  }

  setLoopCurrent(present: boolean): void {
    this.loopCurrent = present;
    if (!this.board.relayEngaged) this.board.event({ kind: 'loop-current', port: this.id, present });
  }
}

export interface BoardStatus {
  hostTty: string;
  plugged: boolean;
  powered: boolean;
  mode: BoardMode;
  firmware: string;
  country: Country;
  relayEngaged: boolean;
  link: EndpointStats & { corruptedFrames: number; garbageBytesSent: number; framesDroppedNoReader: number };
}

export type FxsPortStatus = FxsDeviceStatus & { port: string; polarityReversed: boolean; boardRinging: boolean };
export type FxoPortStatus = CentralOfficeStatus & { port: string };

/** The simulated front panel (device/gpio on the simulated chip in the same folder as the tty). */
export interface PanelStatus {
  /** null: no panel process has opened the simulated chip. */
  leds: Record<LedName, boolean> | null;
  buttonPressed: boolean;
}

export interface SimStatus {
  board: BoardStatus;
  panel: PanelStatus;
  ports: (FxsPortStatus | FxoPortStatus)[];
}

export class VirtualBoard {
  readonly pty: PtyPair;
  readonly fxs: FxsPort[];
  readonly co: CentralOffice;
  readonly fxo: FxoPort;
  relayCommanded = false;
  #powered = true;
  #mode: BoardMode = 'application';
  #firmware: string;
  #booting = false;
  #serial: SerialPort | null = null;
  #endpoint: LinkEndpoint;
  #unplugged = false;
  #stopped = false;
  #clock: NodeJS.Timeout | null = null;
  #clockStart = 0;
  #framesDone = 0;
  #corruptNext = 0;
  #corrupted = 0;
  #garbageSent = 0;
  #txDropped = 0;
  /** The flash holds an image verified since its last write (the factory image is). */
  #verified = true;
  readonly #flash = Buffer.alloc(FLASH_SIZE, 0xff);
  readonly #log: Logger | undefined;

  constructor(private readonly opts: VirtualBoardOptions) {
    this.pty = new PtyPair(opts.hostPath, opts.boardPath);
    this.#firmware = opts.firmware ?? 'vboard-1.0.0';
    this.#log = opts.log;
    const kinds = opts.fxs ?? ['phone', 'phone'];
    this.fxs = kinds.map((k, i) => new FxsPort({ kind: 'fxs', index: i + 1 }, this.#makeDevice(k), this));
    this.co = new CentralOffice(opts.country);
    this.fxo = new FxoPort({ kind: 'fxo', index: 1 }, this);
    this.co.attach(this.fxo);
    this.#endpoint = this.#newEndpoint();
    this.pty.onExit = () => {
      // socat died on its own (not unplug()): a real cable does not vanish by itself, so restore it.
      if (!this.#unplugged && !this.#stopped) {
        this.plug().catch((err: unknown) => this.#log?.error({ err }, 'restoring the pty pair failed'));
      }
    };
  }

  get relayEngaged(): boolean {
    return this.relayCommanded || !this.#powered;
  }

  get ports(): PortId[] {
    return [...this.fxs.map((p) => p.id), this.fxo.id];
  }

  /** True when this port is wired through the power-fail relay rather than the board. */
  bridged(port: PortId): boolean {
    return this.relayEngaged && port.index === 1;
  }

  async start(): Promise<void> {
    await this.pty.plug();
    await this.#openSerial();
    this.#clockStart = performance.now();
    this.#framesDone = 0;
    this.#clock = setInterval(() => this.#onClock(), 10);
    // A board that just got power announces itself.
    this.#sendHello(true);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#clock !== null) clearInterval(this.#clock);
    await this.#closeSerial();
    await this.pty.unplug();
  }

  // ---- control (pbxctl sim, tests) ----

  /** Pull the USB cable: both ttys vanish. */
  async unplug(): Promise<void> {
    this.#unplugged = true;
    await this.#closeSerial();
    await this.pty.unplug();
  }

  async plug(): Promise<void> {
    this.#unplugged = false;
    await this.pty.plug();
    await this.#openSerial();
  }

  /** The MCU resets (watchdog, brown-out): every command it held is lost; the hook switches are not. */
  reset(): void {
    this.#reboot();
  }

  power(on: boolean): void {
    if (on === this.#powered) return;
    this.#powered = on;
    if (!on) {
      this.#log?.info('board unpowered: relay engaged');
      this.#applyRelay();
      return;
    }
    this.#reboot();
  }

  /** Line noise: `bytes` random bytes now, and the next `corruptFrames` frames with one bit flipped. */
  garble(bytes: number, corruptFrames: number): void {
    if (bytes > 0) {
      const junk = randomBytes(Math.min(bytes, 65536));
      this.#garbageSent += junk.length;
      this.#rawWrite(junk);
    }
    this.#corruptNext += Math.max(0, Math.min(corruptFrames, 10000));
  }

  /** Bytes straight onto the line toward the host (the fuzz test). */
  rawToHost(bytes: Buffer): void {
    this.#rawWrite(bytes);
  }

  get gpioDir(): string {
    return path.dirname(this.opts.hostPath);
  }

  /** Holds the front panel's reset button for `seconds`. */
  pressButton(seconds: number): void {
    const file = path.join(this.gpioDir, SIM_GPIO_IN);
    writeJsonAtomic(file, { [DEFAULT_PINS.resetButton]: true });
    clearTimeout(this.#buttonTimer ?? undefined);
    this.#buttonTimer = setTimeout(() => writeJsonAtomic(file, { [DEFAULT_PINS.resetButton]: false }), seconds * 1000);
  }

  #buttonTimer: NodeJS.Timeout | null = null;

  attach(index: number, kind: FxsDeviceKind): void {
    const port = this.fxs[index - 1];
    if (port === undefined) throw new SimError(`no port fxs${index}`);
    if (port.offHook) port.device.onhook();
    port.device = this.#makeDevice(kind);
    port.device.attach(port);
  }

  fxsDevice(index: number): AnalogPhone | FaxMachine {
    const port = this.fxs[index - 1];
    if (port === undefined) throw new SimError(`no port fxs${index} (the board has ${this.fxs.length})`);
    return port.device;
  }

  status(): SimStatus {
    const ports: (FxsPortStatus | FxoPortStatus)[] = this.fxs.map((p) => ({
      port: portName(p.id),
      ...p.device.status(),
      polarityReversed: p.polarityReversed,
      boardRinging: p.ring !== null,
    }));
    ports.push({ port: portName(this.fxo.id), ...this.co.status() });
    const out = readSimOutputs(this.gpioDir);
    const leds = out === null ? null : (Object.fromEntries(Object.entries(DEFAULT_PINS.leds).map(([name, offset]) => [name, out.lines[offset]?.active === true])) as Record<LedName, boolean>);
    return {
      panel: { leds, buttonPressed: readSimInputs(this.gpioDir)[DEFAULT_PINS.resetButton] === true },
      board: {
        hostTty: this.opts.hostPath,
        plugged: this.pty.plugged,
        powered: this.#powered,
        mode: this.#mode,
        firmware: this.#firmware,
        country: this.opts.country,
        relayEngaged: this.relayEngaged,
        link: { ...this.#endpoint.stats(), corruptedFrames: this.#corrupted, garbageBytesSent: this.#garbageSent, framesDroppedNoReader: this.#txDropped },
      },
      ports,
    };
  }

  // ---- firmware ----

  event(e: PortEvent): void {
    if (!this.#live() || this.#mode !== 'application') return;
    this.#send({ t: 'event', event: e });
  }

  #makeDevice(kind: FxsDeviceKind): AnalogPhone | FaxMachine {
    return kind === 'fax' ? new FaxMachine(this.opts.country, { dir: path.join(this.gpioDir, 'fax') }) : new AnalogPhone(this.opts.country);
  }

  #live(): boolean {
    return this.#powered && !this.#booting && this.#serial !== null;
  }

  #newEndpoint(): LinkEndpoint {
    return new LinkEndpoint(
      (bytes) => this.#write(bytes),
      (m) => this.#onMessage(m),
      (frame, reason) => {
        if (this.#live()) this.#send({ t: 'nak', refType: frame.type, reason });
      },
    );
  }

  #send(m: Message): void {
    this.#endpoint.send(m);
  }

  #write(bytes: Buffer): void {
    if (this.#corruptNext > 0 && bytes.length > 3) {
      this.#corruptNext--;
      this.#corrupted++;
      const copy = Buffer.from(bytes);
      const i = 1 + Math.floor(Math.random() * (copy.length - 2));
      copy[i] = (copy[i] as number) ^ (1 << Math.floor(Math.random() * 8)) || 1;
      this.#rawWrite(copy);
      return;
    }
    this.#rawWrite(bytes);
  }

  #rawWrite(bytes: Buffer): void {
    const s = this.#serial;
    if (s === null || !s.isOpen) return;
    // Nobody reading the host end (no driver yet): the pty fills and socat stops reading us. A real
    // board's USB-CDC endpoint drops what the host does not take; so do we, instead of queueing.
    if (s.writableLength > 64 * 1024) {
      this.#txDropped++;
      return;
    }
    try {
      s.write(bytes);
    } catch {
      /* the pty is going away */
    }
  }

  async #openSerial(): Promise<void> {
    if (this.#serial !== null) return;
    const s = new SerialPort({ path: this.opts.boardPath, baudRate: 921600, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => s.open((err) => (err ? reject(err) : resolve())));
    this.#serial = s;
    this.#endpoint.resetSequence();
    s.on('data', (chunk: Buffer) => {
      if (this.#powered) this.#endpoint.push(chunk);
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (this.#serial === s) this.#serial = null;
    });
  }

  async #closeSerial(): Promise<void> {
    const s = this.#serial;
    this.#serial = null;
    if (s === null || !s.isOpen) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #reboot(): void {
    this.#booting = true;
    for (const p of this.fxs) {
      p.stopRing();
      p.polarityReversed = false;
    }
    if (this.fxo.seized) {
      this.fxo.seized = false;
      this.co.seize(false);
    }
    this.relayCommanded = false;
    this.#mode = 'application';
    this.#applyRelay();
    setTimeout(() => {
      this.#booting = false;
      this.#endpoint.restartOutgoing();
      this.#endpoint.resetSequence();
      this.#sendHello(true);
    }, this.opts.bootMs ?? 300);
  }

  /** After the relay moved: the ports as the board now sees them. */
  #applyRelay(): void {
    const p1 = this.fxs[0];
    if (p1 === undefined) return;
    if (this.relayEngaged) {
      // The phone is now on the landline: its hook state seizes the exchange's line.
      if (this.fxo.seized) {
        this.fxo.seized = false;
      }
      p1.stopRing();
      this.co.seize(p1.offHook);
    } else if (!this.fxo.seized) {
      this.co.seize(false);
    }
  }

  #sendHello(unsolicited: boolean): void {
    if (!this.#powered || this.#serial === null) return;
    this.#send({
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      mode: this.#mode,
      unsolicited,
      capabilities: this.#mode === 'bootloader' ? ['bootloader'] : CAPABILITIES,
      ports: this.#mode === 'bootloader' ? [] : this.ports,
      firmware: this.#firmware,
    });
  }

  #lineStates(): PortLineState[] {
    const s: PortLineState[] = this.fxs.map((p) => ({ port: p.id, offHook: p.offHook && !this.bridged(p.id), ringing: p.ring !== null, polarityReversed: p.polarityReversed, loopCurrent: p.offHook && !this.bridged(p.id) }));
    const bridged = this.relayEngaged;
    s.push({ port: this.fxo.id, offHook: this.fxo.seized, ringing: !bridged && this.fxo.ringOn, polarityReversed: !bridged && this.fxo.polarityReversed, loopCurrent: !bridged && this.fxo.loopCurrent });
    return s;
  }

  #onMessage(m: Message): void {
    if (!this.#powered || this.#booting) return;
    switch (m.t) {
      case 'hello-request':
        this.#sendHello(false);
        return;
      case 'ping':
        this.#send({ t: 'pong', token: m.token, relayEngaged: this.relayEngaged, states: this.#lineStates() });
        return;
      case 'boot-enter':
        this.#mode = 'bootloader';
        this.#sendHello(false);
        return;
      default:
        break;
    }
    if (this.#mode === 'bootloader') {
      this.#bootloader(m);
      return;
    }
    switch (m.t) {
      case 'command':
        this.#command(m.command);
        return;
      case 'audio': {
        if (this.bridged(m.port)) return;
        if (m.port.kind === 'fxs') this.fxs[m.port.index - 1]?.device.hear(m.frame);
        else if (m.port.index === 1) this.co.hear(m.frame);
        return;
      }
      case 'boot-write':
      case 'boot-verify':
      case 'boot-leave':
        this.#send({ t: 'boot-result', op: m.t === 'boot-write' ? T.BOOT_WRITE : m.t === 'boot-verify' ? T.BOOT_VERIFY : T.BOOT_LEAVE, status: 'not-in-bootloader', crc32: 0 });
        return;
      default:
        return; // board-bound only; what the host should never send is ignored
    }
  }

  #command(c: Extract<Message, { t: 'command' }>['command']): void {
    if (c.kind === 'bypass-relay') {
      this.relayCommanded = c.engaged;
      this.#applyRelay();
      return;
    }
    const port = c.port;
    const fxs = port.kind === 'fxs' ? this.fxs[port.index - 1] : undefined;
    const fxo = port.kind === 'fxo' && port.index === 1 ? this.fxo : undefined;
    const refuse = (): void => this.#send({ t: 'nak', refType: c.kind === 'ring' ? T.RING : c.kind === 'seize' ? T.SEIZE : T.RELEASE, reason: 'bad-port' });
    switch (c.kind) {
      case 'ring':
        if (fxs === undefined) return refuse();
        if (!this.bridged(port)) fxs.startRing(c.cadenceMs);
        return;
      case 'ring-stop':
        if (fxs === undefined) return refuse();
        fxs.stopRing();
        return;
      case 'polarity':
        if (fxs !== undefined) fxs.polarityReversed = c.reversed;
        else return refuse();
        return;
      case 'seize':
      case 'release':
        if (fxo === undefined) return refuse();
        if (this.relayEngaged) return;
        fxo.seized = c.kind === 'seize';
        this.co.seize(fxo.seized);
        return;
    }
  }

  #bootloader(m: Message): void {
    switch (m.t) {
      case 'boot-write': {
        const end = m.address + m.data.length;
        const status = !m.blockCrcOk ? 'bad-crc' : m.data.length === 0 || end > FLASH_SIZE ? 'bad-address' : 'ok';
        if (status === 'ok') {
          m.data.copy(this.#flash, m.address);
          this.#verified = false;
        }
        this.#send({ t: 'boot-result', op: T.BOOT_WRITE, status, crc32: 0 });
        return;
      }
      case 'boot-verify': {
        if (m.address + m.length > FLASH_SIZE) {
          this.#send({ t: 'boot-result', op: T.BOOT_VERIFY, status: 'bad-address', crc32: 0 });
          return;
        }
        const actual = crc32(this.#flash.subarray(m.address, m.address + m.length));
        this.#verified = actual === m.crc32;
        this.#send({ t: 'boot-result', op: T.BOOT_VERIFY, status: this.#verified ? 'ok' : 'verify-mismatch', crc32: actual });
        return;
      }
      case 'boot-leave': {
        // Never boot an image that was written and not verified since.
        if (!this.#verified) {
          this.#send({ t: 'boot-result', op: T.BOOT_LEAVE, status: 'verify-mismatch', crc32: 0 });
          return;
        }
        this.#send({ t: 'boot-result', op: T.BOOT_LEAVE, status: 'ok', crc32: 0 });
        // An image that starts with "FW:<version>\n" names its version (the firmware issue's bundles).
        const head = this.#flash.subarray(0, 64).toString('latin1');
        const match = /^FW:([\x20-\x7e]{1,40})\n/.exec(head);
        if (match !== null) this.#firmware = match[1] as string;
        this.#reboot();
        return;
      }
      case 'audio':
        return;
      case 'command':
        this.#send({ t: 'nak', refType: T.RING, reason: 'wrong-mode' });
        return;
      default:
        return;
    }
  }

  #onClock(): void {
    // Catch up on the frames due since start (timers drift); never more than 5 at once.
    const due = Math.floor((performance.now() - this.#clockStart) / 20);
    let n = due - this.#framesDone;
    if (n > 5) {
      this.#framesDone = due - 5;
      n = 5;
    }
    for (; n > 0; n--) {
      this.#framesDone++;
      this.#frame();
    }
  }

  /** One 20 ms period: ringers, devices, audio both ways. */
  #frame(): void {
    const live = this.#live() && this.#mode === 'application';
    for (const p of this.fxs) p.tick(20);
    const relay = this.relayEngaged;
    const coFrame = this.co.nextFrame();
    this.fxs.forEach((p, i) => {
      const frame = p.device.nextFrame();
      if (relay && i === 0) {
        this.co.hear(frame);
        p.device.hear(coFrame);
        return;
      }
      if (live) this.#send({ t: 'audio', port: p.id, frame });
    });
    if (live && !relay) this.#send({ t: 'audio', port: this.fxo.id, frame: coFrame });
  }
}
