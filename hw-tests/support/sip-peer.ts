/**
 * Test support: a raw UDP peer on loopback that plays a phone byte by byte, and request templates.
 * Used by the transport and transaction tests; real sockets, no mocks.
 */
import dgram from 'node:dgram';
import { frameStream } from '../../services/sip/framing.js';
import { parseMessage } from '../../services/sip/parser.js';
import type { SipMessage } from '../../services/sip/message.js';

export interface Received {
  data: Buffer;
  message: SipMessage | null;
  at: number;
  from: { address: string; port: number };
}

/** The parser under test must not take the test process down with it. */
function safeParse(data: Buffer): SipMessage | null {
  try {
    const parsed = parseMessage(data);
    return parsed.ok ? parsed.message : null;
  } catch {
    return null;
  }
}

export class UdpPeer {
  readonly received: Received[] = [];
  #waiters: Array<() => void> = [];
  #socket: dgram.Socket;
  port = 0;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on('message', (data, rinfo) => {
      const parsed = safeParse(data);
      this.received.push({ data, message: parsed, at: performance.now(), from: { address: rinfo.address, port: rinfo.port } });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async open(): Promise<UdpPeer> {
    const socket = dgram.createSocket('udp4');
    const peer = new UdpPeer(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    peer.port = socket.address().port;
    return peer;
  }

  send(data: string | Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, address, (error) => (error ? reject(error) : resolve())));
  }

  /** Waits until `count` datagrams matching `filter` have arrived (or fails after `timeoutMs`). */
  async waitFor(filter: (r: Received) => boolean, count = 1, timeoutMs = 5000): Promise<Received[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const matching = this.received.filter(filter);
      if (matching.length >= count) return matching;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} datagram(s); have ${matching.length} of ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RequestTemplate {
  method: string;
  /** Port of the stack we talk to (Request-URI). */
  to: number;
  /** Via sent-by host and port; defaults to 127.0.0.1 and the peer's port. */
  viaHost?: string;
  viaPort?: number;
  viaParams?: string;
  transport?: string;
  branch?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  toTag?: string;
  extra?: string[];
  body?: string;
}

/** A complete request as text, CRLF line ends, Content-Length computed. */
export function requestText(t: RequestTemplate): string {
  const body = t.body ?? '';
  const via = `Via: SIP/2.0/${t.transport ?? 'UDP'} ${t.viaHost ?? '127.0.0.1'}${t.viaPort === undefined ? '' : `:${t.viaPort}`};branch=${t.branch ?? 'z9hG4bK-' + Math.random().toString(36).slice(2)}${t.viaParams ?? ''}`;
  const lines = [
    `${t.method} sip:100@127.0.0.1:${t.to} SIP/2.0`,
    via,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=from-${t.callId ?? 'x'}`,
    `To: <sip:100@127.0.0.1>${t.toTag ? `;tag=${t.toTag}` : ''}`,
    `Call-ID: ${t.callId ?? 'call-' + Math.random().toString(36).slice(2)}`,
    `CSeq: ${t.cseq ?? 1} ${t.cseqMethod ?? t.method}`,
    'Contact: <sip:alice@127.0.0.1>',
    ...(t.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

/** A response as text, for a peer answering a request the stack sent. */
export function responseText(request: SipMessage, status: number, reason: string, toTag = 'peer-tag'): string {
  if (request.kind !== 'request') throw new TypeError('responseText needs a request');
  const raw = parseVias(request);
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    ...raw.map((via) => `Via: ${via}`),
    `From: <sip:pbx@127.0.0.1>;tag=${request.from.params.get('tag') ?? ''}`,
    `To: <sip:peer@127.0.0.1>${status > 100 ? `;tag=${toTag}` : ''}`,
    `Call-ID: ${request.callId}`,
    `CSeq: ${request.cseq.seq} ${request.cseq.method}`,
    'Content-Length: 0',
    '',
    '',
  ];
  return lines.join('\r\n');
}

function parseVias(request: SipMessage): string[] {
  return request.via.map((via) => {
    const params = [...via.params].map(([name, value]) => (value === null ? `;${name}` : `;${name}=${value}`)).join('');
    return `SIP/2.0/${via.transport} ${via.host}${via.port === null ? '' : `:${via.port}`}${params}`;
  });
}

/** A raw TCP/TLS client that frames what it receives (for stream transport tests). */
export class StreamPeer {
  readonly messages: SipMessage[] = [];
  raw = Buffer.alloc(0);
  closed = false;
  #pending = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  readonly socket: import('node:net').Socket;

  constructor(socket: import('node:net').Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      this.#pending = Buffer.concat([this.#pending, chunk]);
      for (;;) {
        const frame = frameStream(this.#pending, 1 << 20);
        if (frame.kind === 'incomplete' || frame.kind === 'error') break;
        const bytes = this.#pending.subarray(0, frame.length);
        this.#pending = this.#pending.subarray(frame.length);
        if (frame.kind === 'message') {
          const parsed = safeParse(Buffer.from(bytes));
          if (parsed) this.messages.push(parsed);
        }
      }
      this.#wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  async until(done: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
