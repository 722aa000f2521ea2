/**
 * The analog board as the gateway sees it, whatever carries it (the serial driver on a real board
 * or on the virtual board's pty). The driver (`device/driver/`) parses frames into these typed
 * values; the gateway (`device/gateway/`) turns them into SIP calls. Neither reaches into the other.
 *
 * Audio is G.711 µ-law, 160 bytes = 20 ms at 8 kHz, each way, per port, also while on-hook (caller ID
 * is FSK sent between rings) — the same payload an RTP PCMU packet carries, so it needs no transcoding
 * toward a PCMU leg.
 */

export type PortKind = 'fxs' | 'fxo';

/** Ports are numbered from 1 as printed on the box (`fxs1`, `fxs2`, `fxo1`). */
export interface PortId {
  kind: PortKind;
  index: number;
}

export interface BoardHello {
  firmware: string;
  /** Protocol version the board speaks (docs/serial-protocol.md). */
  protocol: number;
  ports: PortId[];
  /** e.g. 'pulse-detect', 'polarity-reversal', 'power-fail-relay', 'bootloader'. */
  capabilities: string[];
}

/** What the board reports (docs/serial-protocol.md, "Events"). */
export type PortEvent =
  /** FXS: the phone's hook switch (debounced by the board). */
  | { kind: 'hook'; port: PortId; offHook: boolean }
  /** FXS: an on-hook of flash length (board-timed, 100–700 ms by default). */
  | { kind: 'flash'; port: PortId }
  /** FXS: a rotary digit counted from loop breaks. */
  | { kind: 'pulse-digit'; port: PortId; digit: string }
  /** FXO: ringing voltage seen (on) or its end (off); cadence is timed by the host. */
  | { kind: 'ring'; port: PortId; on: boolean }
  /** FXO: the central office reversed (or restored) the line's polarity: answer/disconnect supervision. */
  | { kind: 'polarity'; port: PortId; reversed: boolean }
  /** FXO: loop current present or dropped (disconnect supervision). */
  | { kind: 'loop-current'; port: PortId; present: boolean };

/** What the host asks of the board (docs/serial-protocol.md, "Commands"). */
export type PortCommand =
  /** FXS: ring with this cadence (on/off pairs in ms, repeated) until `ring-stop` or off-hook. */
  | { kind: 'ring'; port: PortId; cadenceMs: number[] }
  | { kind: 'ring-stop'; port: PortId }
  /** FXS: line polarity (some phones show caller ID / answer supervision with it). */
  | { kind: 'polarity'; port: PortId; reversed: boolean }
  /** FXO: go off-hook toward the central office (seize) or on-hook (release). */
  | { kind: 'seize'; port: PortId }
  | { kind: 'release'; port: PortId }
  /** The power-fail relay: true connects FXS 1 straight to the landline (what an unpowered box does). */
  | { kind: 'bypass-relay'; engaged: boolean };

export type LinkState = 'down' | 'syncing' | 'up';

export interface LinkCounters {
  framesIn: number;
  framesOut: number;
  checksumErrors: number;
  /** Bytes skipped while hunting for the next frame start. */
  garbageBytes: number;
  sequenceGaps: number;
  resyncs: number;
  boardResets: number;
}

/**
 * One board. `onEvent`/`onAudio` listeners are called on the JS thread in arrival order. After a board
 * reset or a replugged cable the driver re-handshakes, emits `link: 'up'` with a fresh hello, and the
 * gateway re-applies the ports' state (ringing, seized, relay) — the SIP side never notices.
 */
export interface AnalogBoard {
  readonly hello: BoardHello | null;
  readonly link: LinkState;
  counters(): LinkCounters;
  onLink(listener: (state: LinkState, hello: BoardHello | null) => void): () => void;
  onEvent(listener: (event: PortEvent) => void): () => void;
  /** 20 ms of µ-law from the port's line (what the phone or the central office sends). */
  onAudio(listener: (port: PortId, frame: Buffer) => void): () => void;
  /** Never throws: a command while the link is down is dropped and counted. */
  send(command: PortCommand): void;
  /** 20 ms of µ-law toward the port's line. */
  sendAudio(port: PortId, frame: Buffer): void;
  close(): Promise<void>;
}

export function portName(port: PortId): string {
  return `${port.kind}${port.index}`;
}

/** `fxs1` → { kind: 'fxs', index: 1 }; null when it is not a port name. */
export function parsePortName(text: string): PortId | null {
  const match = /^(fxs|fxo)([1-9][0-9]?)$/.exec(text);
  if (match === null) return null;
  return { kind: match[1] as PortKind, index: Number(match[2]) };
}
