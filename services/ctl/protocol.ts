/**
 * The control API between processes on the box (pbx ⇄ web, pbxctl): JSON lines over a Unix socket.
 *
 *   client → server  {"id": 1, "method": "status", "params": {...}}
 *   server → client  {"id": 1, "result": ...}  or  {"id": 1, "error": {"code": "...", "message": "..."}}
 *   server → client  {"event": "registration", "data": ...}   (pushed to every connected client)
 *
 * Methods are typed through the CtlMethods interface; a module that adds a method declares it with
 * declaration merging next to its handler:
 *
 *   declare module '../ctl/protocol.js' { interface CtlMethods { 'calls.hangup': { params: {id: string}; result: boolean } } }
 */
import { z } from 'zod';
import type { MemoryBreakdown } from '../memory/usage.js';

/** Registration as shown by `status` (a Registration from the store, as JSON). */
export interface StatusRegistration {
  aor: string;
  contactUri: string;
  transport: string;
  sourceAddress: string;
  sourcePort: number;
  userAgent: string | null;
  expiresAt: number;
}

/** One active call as shown by `status`; filled by the B2BUA's call source. */
/** RTP quality of one leg (RFC 3550 A.3 loss, A.8 jitter), as the appliance receives it. */
export interface StatusLegMedia {
  packetsIn: number;
  packetsOut: number;
  lost: number;
  jitterMs: number;
  /** Where the phone's RTP comes from (latched) or is expected from (SDP). */
  remote: string | null;
}

export interface StatusCall {
  id: string;
  from: string;
  to: string;
  state: string;
  startedAt: number;
  /** Present when the call's media is anchored on the appliance. */
  media?: { caller: StatusLegMedia; callee: StatusLegMedia };
}

export interface StatusResult {
  pid: number;
  startedAt: number;
  uptimeSeconds: number;
  bind: string;
  sip: { udp: number; tcp: number; tls: number; ws: number; wss: number };
  registrations: StatusRegistration[];
  calls: StatusCall[];
  /** The pbx process's history: starts, a crash loop, how the previous run ended (services/pbx/run-record.ts). */
  process?: StatusProcess;
  /** Things counted rather than logged one by one. */
  counters?: StatusCounters;
  /** Carrier trunks and their state (services/pbx/routing/trunks.ts). */
  trunks?: StatusTrunk[];
  /** The pbx process's memory, from inside (services/memory/usage.ts). */
  memory?: MemoryBreakdown;
}

/** One carrier trunk as `status` shows it. */
export interface StatusTrunk {
  name: string;
  kind: 'registration' | 'ip';
  host: string;
  port: number;
  transport: string;
  /** registering | registered | failing | stopped (registration trunks), ip-peer, unresolved. */
  state: string;
  lastError: string | null;
  expiresAt: number | null;
  activeCalls: number;
  maxCalls: number | null;
}

export interface StatusProcess {
  starts: number;
  startsInWindow: number;
  windowSeconds: number;
  crashLoop: boolean;
  lastExit: { at: number; pid: number; code: number | null; error: string } | null;
}

export interface StatusCounters {
  /** Requests toward a phone that did not answer (timer B/F) or could not be sent. */
  transactionTimeouts: number;
  transportErrors: number;
  /** Calls since start, by disposition (CDR). */
  calls: Record<string, number>;
  /** Calls found up at start and hung up (ended by restart). */
  recoveredCalls: number;
  /**
   * B2BUA call objects still in memory (not yet garbage-collected): the calls in progress plus
   * ended ones the next collection frees; it must not grow with the calls made (issue 21).
   */
  callObjects?: number;
}

export interface CtlMethods {
  ping: { params: void; result: { pong: true; pid: number } };
  status: { params: void; result: StatusResult };
}

export interface CtlEvents {
  [event: string]: unknown;
}

export type CtlMethod = keyof CtlMethods & string;
export type CtlParams<M extends CtlMethod> = CtlMethods[M]['params'];
export type CtlResult<M extends CtlMethod> = CtlMethods[M]['result'];

export type CtlErrorCode =
  | 'bad-request' // the line is not a valid request
  | 'unknown-method'
  | 'invalid-params'
  | 'failed' // the handler threw
  | 'timeout' // client side: no answer in time
  | 'closed' // client side: the connection closed with the request pending
  | 'unavailable'; // client side: nothing listens on the socket

export class CtlError extends Error {
  readonly code: CtlErrorCode;
  constructor(code: CtlErrorCode, message: string) {
    super(message);
    this.name = 'CtlError';
    this.code = code;
  }
}

/** Longest line either side accepts; a longer one is a protocol error, not a memory leak. */
export const MAX_LINE_BYTES = 1024 * 1024;

export const requestSchema = z.object({
  id: z.number().int().nonnegative(),
  method: z.string().min(1).max(100),
  params: z.unknown().optional(),
});
export type CtlRequest = z.infer<typeof requestSchema>;

export const serverMessageSchema = z.union([
  z.object({ id: z.number(), result: z.unknown() }).strict(),
  z.object({ id: z.number().nullable(), error: z.object({ code: z.string(), message: z.string() }) }).strict(),
  z.object({ event: z.string(), data: z.unknown() }).strict(),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** Splits a byte stream into lines, refusing lines longer than max. */
export class LineSplitter {
  #buffer = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly max = MAX_LINE_BYTES,
  ) {}

  push(chunk: string): void {
    this.#buffer += chunk;
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line.trim() !== '') this.onLine(line);
    }
    if (this.#buffer.length > this.max) {
      this.#buffer = '';
      this.onOverflow();
    }
  }
}
