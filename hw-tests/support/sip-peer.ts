/**
 * Test support: the one raw SIP peer of the tests. A UDP socket on loopback that plays a phone (or
 * any SIP element) byte by byte: it sends whatever text or bytes a test writes, records every
 * datagram it receives (parsed when it parses), can answer OPTIONS like a registered phone, and
 * writes and answers digest challenges. `StreamPeer` is the same over TCP/TLS. Used by the
 * transport, transaction, registrar and SIP service tests; real sockets, no mocks. The product
 * imports none of it (image/no-test-code.test.ts).
 */
import dgram from 'node:dgram';
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { computeHa1, computeResponse, isDigestAlgorithm, parseAuthParams } from '../../services/sip/auth/digest.js';
import { frameStream } from '../../services/sip/framing.js';
import { getHeaders, type SipMessage, type SipRequest, type SipResponse } from '../../services/sip/message.js';
import { parseMessage } from '../../services/sip/parser.js';

export interface Received {
  /** The datagram as it arrived. */
  data: Buffer;
  /** Parsed, or null when it does not parse (the parser under test may refuse it). */
  message: SipMessage | null;
  /** performance.now() at arrival. */
  at: number;
  from: { address: string; port: number };
}

export interface PeerOptions {
  /** Local address to bind (127.0.0.1 by default; any 127.0.0.0/8 address works on Linux). */
  address?: string;
  /** Answer OPTIONS requests with 200 (a registered phone's keepalive answer); off by default. */
  answerOptions?: boolean;
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A raw UDP SIP peer: sends text or bytes, keeps everything it receives. */
export class UdpPeer {
  /** Every datagram received, in arrival order (OPTIONS it answered included). */
  readonly received: Received[] = [];
  readonly socket: dgram.Socket;
  readonly address: string;
  port = 0;
  answerOptions: boolean;
  optionsReceived = 0;
  /** Call-ID and From tag of the REGISTERs built by `registerText`. */
  readonly callId = `${randomBytes(8).toString('hex')}@test`;
  readonly tag = randomBytes(4).toString('hex');
  readonly #taken = new WeakSet<Received>();
  #waiters: Array<() => void> = [];
  #cseq = 1;

  private constructor(address: string, answerOptions: boolean) {
    this.address = address;
    this.answerOptions = answerOptions;
    this.socket = dgram.createSocket('udp4');
    this.socket.on('message', (data, rinfo) => {
      const message = safeParse(data);
      this.received.push({ data, message, at: performance.now(), from: { address: rinfo.address, port: rinfo.port } });
      if (message?.kind === 'request' && message.method === 'OPTIONS') {
        this.optionsReceived++;
        if (this.answerOptions) this.socket.send(optionsOk(message), rinfo.port, rinfo.address);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** A peer bound to a free port of `address` (or of `options.address`, 127.0.0.1 by default). */
  static async open(options: PeerOptions | string = {}): Promise<UdpPeer> {
    const o = typeof options === 'string' ? { address: options } : options;
    const peer = new UdpPeer(o.address ?? '127.0.0.1', o.answerOptions ?? false);
    await new Promise<void>((resolve) => peer.socket.bind(0, peer.address, resolve));
    peer.port = peer.socket.address().port;
    return peer;
  }

  nextCseq(): number {
    return this.#cseq++;
  }

  /** Sends the bytes as they are (bare LFs, garbage and all). */
  send(data: string | Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, address, (error) => (error ? reject(error) : resolve())));
  }

  /** Waits until `count` datagrams matching `filter` have arrived (or fails after `timeoutMs`). */
  async waitFor(filter: (r: Received) => boolean, count = 1, timeoutMs = 5000): Promise<Received[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const matching = this.received.filter(filter);
      if (matching.length >= count) return matching;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} datagram(s); have ${matching.length} of ${this.received.length}`);
      await this.#wait(left);
    }
  }

  /**
   * The next final response for `cseq` not returned before, or null after `timeoutMs` (a test of
   * silence asserts on the null).
   */
  async response(cseq: number, timeoutMs = 3000): Promise<(Received & { message: SipResponse }) | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(
        (r) => !this.#taken.has(r) && r.message?.kind === 'response' && r.message.cseq.seq === cseq && r.message.status >= 200,
      );
      if (found !== undefined) {
        this.#taken.add(found);
        return found as Received & { message: SipResponse };
      }
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await this.#wait(left);
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function viaLines(request: SipMessage): string[] {
  return request.via.map((via) => {
    const params = [...via.params].map(([name, value]) => (value === null ? `;${name}` : `;${name}=${value}`)).join('');
    return `SIP/2.0/${via.transport} ${via.host}${via.port === null ? '' : `:${via.port}`}${params}`;
  });
}

function uriText(request: SipRequest, which: 'from' | 'to'): string {
  const uri = request[which].uri;
  if (uri.kind !== 'sip') return uri.raw;
  return `sip:${uri.user === null ? '' : `${uri.user}@`}${uri.host}${uri.port === null ? '' : `:${uri.port}`}`;
}

function optionsOk(request: SipRequest): Buffer {
  const lines = ['SIP/2.0 200 OK', ...viaLines(request).map((via) => `Via: ${via}`)];
  lines.push(`From: <${uriText(request, 'from')}>;tag=${request.from.params.get('tag') ?? ''}`);
  lines.push(`To: <${uriText(request, 'to')}>;tag=phone`);
  lines.push(`Call-ID: ${request.callId}`, `CSeq: ${request.cseq.seq} OPTIONS`, 'Content-Length: 0', '', '');
  return Buffer.from(lines.join('\r\n'));
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
  const raw = viaLines(request);
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

/** A raw TCP/TLS client that frames what it receives (for stream transport tests). */
export class StreamPeer {
  readonly messages: SipMessage[] = [];
  raw = Buffer.alloc(0);
  closed = false;
  #pending = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  readonly socket: net.Socket;

  constructor(socket: net.Socket) {
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

// Registration and digest answers, as a phone writes them.

export interface RegisterSpec {
  user: string;
  /** To user; defaults to `user`. */
  toUser?: string;
  contacts: string[] | '*';
  expires?: number | null;
  cseq?: number;
  callId?: string;
  authorization?: string | null;
  extra?: string[];
}

export function registerText(phone: UdpPeer, serverPort: number, spec: RegisterSpec): { text: string; cseq: number } {
  const cseq = spec.cseq ?? phone.nextCseq();
  const lines = [
    `REGISTER sip:127.0.0.1:${serverPort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${phone.address}:${phone.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:${spec.user}@127.0.0.1>;tag=${phone.tag}`,
    `To: <sip:${spec.toUser ?? spec.user}@127.0.0.1>`,
    `Call-ID: ${spec.callId ?? phone.callId}`,
    `CSeq: ${cseq} REGISTER`,
  ];
  if (spec.contacts === '*') lines.push('Contact: *');
  else for (const c of spec.contacts) lines.push(`Contact: ${c}`);
  if (spec.expires !== undefined && spec.expires !== null) lines.push(`Expires: ${spec.expires}`);
  if (spec.authorization) lines.push(`Authorization: ${spec.authorization}`);
  lines.push(...(spec.extra ?? []), 'User-Agent: test-phone', 'Content-Length: 0', '', '');
  return { text: lines.join('\r\n'), cseq };
}

export interface Answer {
  password: string;
  algorithm?: 'MD5' | 'SHA-256';
  /** null: RFC 2069 style (no qop). */
  qop?: 'auth' | null;
  nc?: number;
  realm?: string;
  username?: string;
  uri?: string;
}

/** The Authorization answering `challenge` (a 401) with `answer`. */
export function authorize(challenge: SipResponse, method: string, serverPort: number, user: string, answer: Answer): string {
  const offered = getHeaders(challenge, challenge.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate');
  // Without a choice, answer the first challenge (what most phones do).
  const algorithm = answer.algorithm ?? (/algorithm=SHA-256/.test(offered[0] ?? '') ? 'SHA-256' : 'MD5');
  const header = offered.find((h) => h.includes(`algorithm=${algorithm}`));
  if (header === undefined) throw new Error(`no ${algorithm} challenge`);
  const params = parseAuthParams(header.slice('Digest '.length));
  if (params === null || !isDigestAlgorithm(algorithm)) throw new Error('bad challenge');
  const realm = answer.realm ?? params.get('realm') ?? '';
  const nonce = params.get('nonce') ?? '';
  const opaque = params.get('opaque') ?? '';
  const uri = answer.uri ?? `sip:127.0.0.1:${serverPort}`;
  const username = answer.username ?? user;
  const qop = answer.qop === undefined ? 'auth' : answer.qop;
  const nc = (answer.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = randomBytes(6).toString('hex');
  const ha1 = computeHa1(algorithm, username, realm, answer.password);
  const response = computeResponse({ algorithm, ha1, method, uri, nonce, qop, nc: qop === null ? null : nc, cnonce: qop === null ? null : cnonce });
  let text = `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, opaque="${opaque}"`;
  if (qop !== null) text += `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"`;
  return text;
}

/** REGISTER, take the 401, answer it; returns both responses (final null on timeout). */
export async function register(
  phone: UdpPeer,
  env: { port: number },
  spec: Omit<RegisterSpec, 'authorization' | 'cseq'>,
  answer: Answer,
): Promise<{ challenge: SipResponse; final: (Received & { message: SipResponse }) | null }> {
  const first = registerText(phone, env.port, spec);
  await phone.send(first.text, env.port);
  const challenge = await phone.response(first.cseq);
  if (challenge === null) throw new Error('no response to the first REGISTER');
  if (challenge.message.status !== 401) throw new Error(`expected 401, got ${challenge.message.status}`);
  const authorization = authorize(challenge.message, 'REGISTER', env.port, spec.user, answer);
  const second = registerText(phone, env.port, { ...spec, authorization });
  await phone.send(second.text, env.port);
  return { challenge: challenge.message, final: await phone.response(second.cseq) };
}
