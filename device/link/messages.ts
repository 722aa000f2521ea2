// The typed messages of the serial link (docs/serial-protocol.md, "Messages"): one byte of type,
// then a fixed layout per type. decodeMessage() is the edge where bytes from the board become typed
// values; anything malformed comes back as { ok: false } with the reason, never as an exception.

import type { PortCommand, PortEvent, PortId } from '../board.js';
import { crc16 as crc16Local } from './crc16.js';
import type { RawFrame } from './frame.js';

export const PROTOCOL_VERSION = 1;
export const AUDIO_BYTES = 160;
export const BOOT_MAGIC = 0x424f4f54; // "BOOT"
export const BOOT_BLOCK_MAX = 128;

export const T = {
  HELLO_REQUEST: 0x01,
  PING: 0x02,
  RING: 0x10,
  RING_STOP: 0x11,
  POLARITY: 0x12,
  SEIZE: 0x13,
  RELEASE: 0x14,
  RELAY: 0x15,
  AUDIO: 0x20,
  BOOT_ENTER: 0x30,
  BOOT_WRITE: 0x31,
  BOOT_VERIFY: 0x32,
  BOOT_LEAVE: 0x33,
  HELLO: 0x81,
  PONG: 0x82,
  HOOK: 0x90,
  FLASH: 0x91,
  PULSE_DIGIT: 0x92,
  RING_DETECT: 0x93,
  POLARITY_EVENT: 0x94,
  LOOP_CURRENT: 0x95,
  BOOT_RESULT: 0xb0,
  NAK: 0xee,
} as const;

/** Capability bits of the hello (bit number → name). */
export const CAPABILITIES = ['pulse-detect', 'polarity-reversal', 'power-fail-relay', 'bootloader', 'on-hook-audio', 'ring-detect'] as const;

export const NAK_REASONS = { 1: 'unknown-type', 2: 'bad-length', 3: 'bad-port', 4: 'wrong-mode' } as const;
export type NakReason = (typeof NAK_REASONS)[keyof typeof NAK_REASONS];

export const BOOT_STATUS = { 0: 'ok', 1: 'bad-crc', 2: 'bad-address', 3: 'flash-error', 4: 'verify-mismatch', 5: 'not-in-bootloader' } as const;
export type BootStatus = (typeof BOOT_STATUS)[keyof typeof BOOT_STATUS];

/** One port's line state as the board last saw it (carried by every pong, so a lost event heals). */
export interface PortLineState {
  port: PortId;
  /** FXS: the phone is off-hook. FXO: the board holds the line seized. */
  offHook: boolean;
  /** FXS: the board is ringing the phone. FXO: ringing voltage present now. */
  ringing: boolean;
  polarityReversed: boolean;
  /** FXO: loop current flows. FXS: always equal to offHook. */
  loopCurrent: boolean;
}

export type BoardMode = 'application' | 'bootloader';

export type Message =
  | { t: 'hello-request'; protocol: number }
  | { t: 'hello'; protocol: number; mode: BoardMode; unsolicited: boolean; capabilities: string[]; ports: PortId[]; firmware: string }
  | { t: 'ping'; token: number }
  | { t: 'pong'; token: number; relayEngaged: boolean; states: PortLineState[] }
  | { t: 'event'; event: PortEvent }
  | { t: 'command'; command: PortCommand }
  | { t: 'audio'; port: PortId; frame: Buffer }
  | { t: 'boot-enter' }
  /** `blockCrcOk` false: the block's own CRC (over `data`) did not match; the board answers bad-crc. */
  | { t: 'boot-write'; address: number; data: Buffer; blockCrcOk: boolean }
  | { t: 'boot-verify'; address: number; length: number; crc32: number }
  | { t: 'boot-leave' }
  | { t: 'boot-result'; op: number; status: BootStatus; crc32: number }
  | { t: 'nak'; refType: number; reason: NakReason };

export function encodePort(port: PortId): number {
  return (port.kind === 'fxo' ? 0x80 : 0) | (port.index & 0x7f);
}

export function decodePort(b: number): PortId | null {
  const index = b & 0x7f;
  if (index === 0) return null;
  return { kind: b & 0x80 ? 'fxo' : 'fxs', index };
}

function u8(...bytes: number[]): Buffer {
  return Buffer.from(bytes.map((b) => b & 0xff));
}

/** Type byte and payload of a message. */
export function encodeMessage(m: Message): { type: number; payload: Buffer } {
  switch (m.t) {
    case 'hello-request':
      return { type: T.HELLO_REQUEST, payload: u8(m.protocol) };
    case 'hello': {
      let caps = 0;
      for (const c of m.capabilities) {
        const bit = (CAPABILITIES as readonly string[]).indexOf(c);
        if (bit >= 0) caps |= 1 << bit;
      }
      const fw = Buffer.from(m.firmware, 'utf8').subarray(0, 64);
      const b = Buffer.alloc(6 + m.ports.length + 1 + fw.length);
      b[0] = m.protocol;
      b[1] = m.mode === 'bootloader' ? 1 : 0;
      b[2] = m.unsolicited ? 1 : 0;
      b.writeUInt16BE(caps, 3);
      b[5] = m.ports.length;
      m.ports.forEach((p, i) => (b[6 + i] = encodePort(p)));
      b[6 + m.ports.length] = fw.length;
      fw.copy(b, 7 + m.ports.length);
      return { type: T.HELLO, payload: b };
    }
    case 'ping': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(m.token >>> 0);
      return { type: T.PING, payload: b };
    }
    case 'pong': {
      const b = Buffer.alloc(6 + m.states.length * 2);
      b.writeUInt32BE(m.token >>> 0);
      b[4] = m.relayEngaged ? 1 : 0;
      b[5] = m.states.length;
      m.states.forEach((s, i) => {
        b[6 + 2 * i] = encodePort(s.port);
        b[7 + 2 * i] = (s.offHook ? 1 : 0) | (s.ringing ? 2 : 0) | (s.polarityReversed ? 4 : 0) | (s.loopCurrent ? 8 : 0);
      });
      return { type: T.PONG, payload: b };
    }
    case 'event':
      return encodeEvent(m.event);
    case 'command':
      return encodeCommand(m.command);
    case 'audio': {
      const b = Buffer.alloc(1 + AUDIO_BYTES, 0xff);
      b[0] = encodePort(m.port);
      m.frame.copy(b, 1, 0, Math.min(AUDIO_BYTES, m.frame.length));
      return { type: T.AUDIO, payload: b };
    }
    case 'boot-enter': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(BOOT_MAGIC);
      return { type: T.BOOT_ENTER, payload: b };
    }
    case 'boot-write': {
      const b = Buffer.alloc(6 + m.data.length);
      b.writeUInt32BE(m.address >>> 0);
      b.writeUInt16BE(crc16Local(m.data), 4);
      m.data.copy(b, 6);
      return { type: T.BOOT_WRITE, payload: b };
    }
    case 'boot-verify': {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(m.address >>> 0, 0);
      b.writeUInt32BE(m.length >>> 0, 4);
      b.writeUInt32BE(m.crc32 >>> 0, 8);
      return { type: T.BOOT_VERIFY, payload: b };
    }
    case 'boot-leave':
      return { type: T.BOOT_LEAVE, payload: Buffer.alloc(0) };
    case 'boot-result': {
      const b = Buffer.alloc(6);
      b[0] = m.op;
      b[1] = Number(Object.entries(BOOT_STATUS).find(([, v]) => v === m.status)?.[0] ?? 3);
      b.writeUInt32BE(m.crc32 >>> 0, 2);
      return { type: T.BOOT_RESULT, payload: b };
    }
    case 'nak':
      return { type: T.NAK, payload: u8(m.refType, Number(Object.entries(NAK_REASONS).find(([, v]) => v === m.reason)?.[0] ?? 1)) };
  }
}

function encodeEvent(e: PortEvent): { type: number; payload: Buffer } {
  const p = encodePort(e.port);
  switch (e.kind) {
    case 'hook':
      return { type: T.HOOK, payload: u8(p, e.offHook ? 1 : 0) };
    case 'flash':
      return { type: T.FLASH, payload: u8(p) };
    case 'pulse-digit':
      return { type: T.PULSE_DIGIT, payload: u8(p, e.digit === '0' ? 10 : Number(e.digit)) };
    case 'ring':
      return { type: T.RING_DETECT, payload: u8(p, e.on ? 1 : 0) };
    case 'polarity':
      return { type: T.POLARITY_EVENT, payload: u8(p, e.reversed ? 1 : 0) };
    case 'loop-current':
      return { type: T.LOOP_CURRENT, payload: u8(p, e.present ? 1 : 0) };
  }
}

function encodeCommand(c: PortCommand): { type: number; payload: Buffer } {
  switch (c.kind) {
    case 'ring': {
      const pairs = c.cadenceMs.slice(0, 16);
      const b = Buffer.alloc(2 + pairs.length * 2);
      b[0] = encodePort(c.port);
      b[1] = pairs.length;
      pairs.forEach((ms, i) => b.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(ms))), 2 + 2 * i));
      return { type: T.RING, payload: b };
    }
    case 'ring-stop':
      return { type: T.RING_STOP, payload: u8(encodePort(c.port)) };
    case 'polarity':
      return { type: T.POLARITY, payload: u8(encodePort(c.port), c.reversed ? 1 : 0) };
    case 'seize':
      return { type: T.SEIZE, payload: u8(encodePort(c.port)) };
    case 'release':
      return { type: T.RELEASE, payload: u8(encodePort(c.port)) };
    case 'bypass-relay':
      return { type: T.RELAY, payload: u8(c.engaged ? 1 : 0) };
  }
}

export type Decoded = { ok: true; message: Message } | { ok: false; reason: NakReason };

const bad: Decoded = { ok: false, reason: 'bad-length' };
const badPort: Decoded = { ok: false, reason: 'bad-port' };

/** Parse one checked frame into a typed message. */
export function decodeMessage(frame: RawFrame): Decoded {
  const b = frame.payload;
  const ok = (message: Message): Decoded => ({ ok: true, message });
  const portAt = (i: number): PortId | null => (i < b.length ? decodePort(b[i] as number) : null);
  const flag = (i: number): boolean => (b[i] as number) !== 0;
  switch (frame.type) {
    case T.HELLO_REQUEST:
      return b.length === 1 ? ok({ t: 'hello-request', protocol: b[0] as number }) : bad;
    case T.PING:
      return b.length === 4 ? ok({ t: 'ping', token: b.readUInt32BE(0) }) : bad;
    case T.HELLO: {
      if (b.length < 7) return bad;
      const n = b[5] as number;
      if (b.length < 7 + n) return bad;
      const fwLen = b[6 + n] as number;
      if (b.length !== 7 + n + fwLen) return bad;
      const ports: PortId[] = [];
      for (let i = 0; i < n; i++) {
        const p = portAt(6 + i);
        if (p === null) return badPort;
        ports.push(p);
      }
      const caps = b.readUInt16BE(3);
      const capabilities = CAPABILITIES.filter((_, bit) => (caps & (1 << bit)) !== 0);
      const firmware = b.subarray(7 + n).toString('utf8').replace(/[^\x20-\x7e]/g, '?');
      return ok({ t: 'hello', protocol: b[0] as number, mode: b[1] === 1 ? 'bootloader' : 'application', unsolicited: flag(2), capabilities, ports, firmware });
    }
    case T.PONG: {
      if (b.length < 6) return bad;
      const n = b[5] as number;
      if (b.length !== 6 + 2 * n) return bad;
      const states: PortLineState[] = [];
      for (let i = 0; i < n; i++) {
        const port = portAt(6 + 2 * i);
        if (port === null) return badPort;
        const s = b[7 + 2 * i] as number;
        states.push({ port, offHook: (s & 1) !== 0, ringing: (s & 2) !== 0, polarityReversed: (s & 4) !== 0, loopCurrent: (s & 8) !== 0 });
      }
      return ok({ t: 'pong', token: b.readUInt32BE(0), relayEngaged: flag(4), states });
    }
    case T.HOOK:
    case T.RING_DETECT:
    case T.POLARITY_EVENT:
    case T.LOOP_CURRENT:
    case T.POLARITY:
    case T.PULSE_DIGIT: {
      if (b.length !== 2) return bad;
      const port = portAt(0);
      if (port === null) return badPort;
      const on = flag(1);
      switch (frame.type) {
        case T.HOOK:
          return ok({ t: 'event', event: { kind: 'hook', port, offHook: on } });
        case T.RING_DETECT:
          return ok({ t: 'event', event: { kind: 'ring', port, on } });
        case T.POLARITY_EVENT:
          return ok({ t: 'event', event: { kind: 'polarity', port, reversed: on } });
        case T.LOOP_CURRENT:
          return ok({ t: 'event', event: { kind: 'loop-current', port, present: on } });
        case T.POLARITY:
          return ok({ t: 'command', command: { kind: 'polarity', port, reversed: on } });
        default: {
          const d = b[1] as number;
          if (d < 1 || d > 10) return bad;
          return ok({ t: 'event', event: { kind: 'pulse-digit', port, digit: d === 10 ? '0' : String(d) } });
        }
      }
    }
    case T.FLASH:
    case T.RING_STOP:
    case T.SEIZE:
    case T.RELEASE: {
      if (b.length !== 1) return bad;
      const port = portAt(0);
      if (port === null) return badPort;
      if (frame.type === T.FLASH) return ok({ t: 'event', event: { kind: 'flash', port } });
      if (frame.type === T.RING_STOP) return ok({ t: 'command', command: { kind: 'ring-stop', port } });
      if (frame.type === T.SEIZE) return ok({ t: 'command', command: { kind: 'seize', port } });
      return ok({ t: 'command', command: { kind: 'release', port } });
    }
    case T.RING: {
      if (b.length < 2) return bad;
      const port = portAt(0);
      if (port === null) return badPort;
      const n = b[1] as number;
      if (n > 16 || b.length !== 2 + 2 * n) return bad;
      const cadenceMs: number[] = [];
      for (let i = 0; i < n; i++) cadenceMs.push(b.readUInt16BE(2 + 2 * i));
      return ok({ t: 'command', command: { kind: 'ring', port, cadenceMs } });
    }
    case T.RELAY:
      return b.length === 1 ? ok({ t: 'command', command: { kind: 'bypass-relay', engaged: flag(0) } }) : bad;
    case T.AUDIO: {
      if (b.length !== 1 + AUDIO_BYTES) return bad;
      const port = portAt(0);
      if (port === null) return badPort;
      return ok({ t: 'audio', port, frame: b.subarray(1) });
    }
    case T.BOOT_ENTER:
      return b.length === 4 && b.readUInt32BE(0) === BOOT_MAGIC ? ok({ t: 'boot-enter' }) : bad;
    case T.BOOT_WRITE: {
      if (b.length < 7 || b.length > 6 + BOOT_BLOCK_MAX) return bad;
      const data = b.subarray(6);
      return ok({ t: 'boot-write', address: b.readUInt32BE(0), data, blockCrcOk: crc16Local(data) === b.readUInt16BE(4) });
    }
    case T.BOOT_VERIFY:
      return b.length === 12 ? ok({ t: 'boot-verify', address: b.readUInt32BE(0), length: b.readUInt32BE(4), crc32: b.readUInt32BE(8) }) : bad;
    case T.BOOT_LEAVE:
      return b.length === 0 ? ok({ t: 'boot-leave' }) : bad;
    case T.BOOT_RESULT: {
      if (b.length !== 6) return bad;
      const status = BOOT_STATUS[(b[1] as number) as keyof typeof BOOT_STATUS];
      if (status === undefined) return bad;
      return ok({ t: 'boot-result', op: b[0] as number, status, crc32: b.readUInt32BE(2) });
    }
    case T.NAK: {
      if (b.length !== 2) return bad;
      const reason = NAK_REASONS[(b[1] as number) as keyof typeof NAK_REASONS];
      return reason === undefined ? bad : ok({ t: 'nak', refType: b[0] as number, reason });
    }
    default:
      return { ok: false, reason: 'unknown-type' };
  }
}
