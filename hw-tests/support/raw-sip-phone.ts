/**
 * Test support (not shipped behaviour): a minimal UDP phone on loopback that speaks raw SIP text
 * to the real stack and answers digest challenges, plus the wiring of a real store + stack +
 * registration service in a temp dir. Used by the registrar and authenticator tests.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { silentLogger, type Logger } from '../../services/log.js';
import { openStore } from '../../services/store/index.js';
import type { Store } from '../../services/store/types.js';
import { computeHa1, computeResponse, isDigestAlgorithm, parseAuthParams } from '../../services/sip/auth/digest.js';
import { getHeaders, type SipMessage, type SipRequest, type SipResponse } from '../../services/sip/message.js';
import { parseMessage } from '../../services/sip/parser.js';
import { createSipStack, type SipStack } from '../../services/sip/stack.js';
import { admissionOf, createAccessPolicy, createRegistrationService, type RegistrationService, type RegistrationServiceOptions } from '../../services/sip/registrar/index.js';

export const REALM = 'pbx.test';

export interface Env {
  dir: string;
  store: Store;
  stack: SipStack;
  service: RegistrationService;
  port: number;
  /** Closes service, stack and store; keeps the data dir (for restart tests) unless `wipe`. */
  close(wipe?: boolean): Promise<void>;
}

export interface EnvOptions {
  dir?: string;
  nonceLifetimeMs?: number;
  auth?: RegistrationServiceOptions['auth'];
  registrar?: RegistrationServiceOptions['registrar'];
  keepalive?: RegistrationServiceOptions['keepalive'];
  /** Transaction timer T1 (ms); short values make keepalive timeouts quick. */
  t1?: number;
  logger?: Logger;
  extensions?: Array<{ number: string; secret: string }>;
  digestAlgorithms?: RegistrationServiceOptions['digestAlgorithms'];
}

export async function startEnv(options: EnvOptions = {}): Promise<Env> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-'));
  const store = openStore(dir);
  for (const ext of options.extensions ?? [
    { number: '101', secret: 's3cret-101' },
    { number: '102', secret: 's3cret-102' },
  ]) {
    if (store.extensions.get(ext.number) === null) store.extensions.add({ number: ext.number, displayName: `Ext ${ext.number}`, secret: ext.secret });
  }
  const logger = options.logger ?? silentLogger();
  // As the pbx process does: one access policy before the stack, shared with the authenticator.
  const access = createAccessPolicy({ store, auth: options.auth ?? { maxFailures: 5, windowSeconds: 60, blockSeconds: 300 }, logger });
  const stack = await createSipStack({
    admit: admissionOf(access),
    bind: '127.0.0.1',
    udpPort: 0,
    tcpPort: 0,
    logger,
    validate: { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
    ...(options.t1 !== undefined && { timers: { T1: options.t1 } }),
  });
  const service = createRegistrationService({
    store,
    realm: REALM,
    registrar: options.registrar ?? { minExpires: 60, maxExpires: 3600, defaultExpires: 600 },
    access,
    transactions: stack.transactions,
    localEndpoint: (t) => stack.localEndpoint(t),
    keepalive: options.keepalive ?? false,
    ...(options.nonceLifetimeMs !== undefined && { nonceLifetimeMs: options.nonceLifetimeMs }),
    ...(options.digestAlgorithms !== undefined && { digestAlgorithms: options.digestAlgorithms }),
    logger,
  });
  stack.transactions.onRequest((txn) => {
    if (txn.request.method === 'REGISTER') service.registrar.handleRegister(txn);
    else if (txn.request.method === 'MESSAGE') {
      // Stands for the B2BUA's INVITE path: proxy-style authentication (407).
      if (service.authenticator.authenticate(txn, 'proxy').ok) txn.respond(200);
    } else txn.respond(405, { headers: [{ name: 'Allow', value: 'REGISTER, MESSAGE' }] });
  });
  const port = stack.ports().udp ?? 0;
  return {
    dir,
    store,
    stack,
    service,
    port,
    async close(wipe = true) {
      service.close();
      await stack.close();
      store.close();
      if (wipe) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  message: SipMessage;
  raw: Buffer;
}

/** A UDP phone: sends SIP text, collects what comes back, optionally answers OPTIONS with 200. */
export class UdpPhone {
  readonly socket: dgram.Socket;
  readonly address: string;
  port = 0;
  answerOptions = true;
  optionsReceived = 0;
  readonly #queue: Received[] = [];
  readonly #waiters: Array<() => void> = [];
  #cseq = 1;
  readonly callId = `${randomBytes(8).toString('hex')}@test`;
  readonly tag = randomBytes(4).toString('hex');

  private constructor(address: string) {
    this.address = address;
    this.socket = dgram.createSocket('udp4');
    this.socket.on('message', (raw, rinfo) => {
      const parsed = parseMessage(raw);
      if (!parsed.ok) return;
      const message = parsed.message;
      if (message.kind === 'request' && message.method === 'OPTIONS') {
        this.optionsReceived++;
        if (this.answerOptions) this.socket.send(optionsOk(message), rinfo.port, rinfo.address);
        return;
      }
      this.#queue.push({ message, raw });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(address = '127.0.0.1'): Promise<UdpPhone> {
    const phone = new UdpPhone(address);
    await new Promise<void>((resolve) => phone.socket.bind(0, address, resolve));
    phone.port = phone.socket.address().port;
    return phone;
  }

  nextCseq(): number {
    return this.#cseq++;
  }

  send(text: string, port: number, host = '127.0.0.1'): void {
    this.socket.send(Buffer.from(text.replace(/\r?\n/g, '\r\n')), port, host);
  }

  /** The next final response for `cseq`, or null after `timeoutMs`. */
  async response(cseq: number, timeoutMs = 3000): Promise<(Received & { message: SipResponse }) | null> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const index = this.#queue.findIndex((r) => r.message.kind === 'response' && r.message.cseq.seq === cseq && r.message.status >= 200);
      if (index >= 0) return this.#queue.splice(index, 1)[0] as Received & { message: SipResponse };
      const left = deadline - Date.now();
      if (left <= 0) return null;
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
    this.socket.close();
  }
}

function optionsOk(request: SipRequest): Buffer {
  const lines = ['SIP/2.0 200 OK'];
  const raw = request;
  for (const via of getRawVia(raw)) lines.push(`Via: ${via}`);
  lines.push(`From: <${uriText(raw, 'from')}>;tag=${raw.from.params.get('tag') ?? ''}`);
  lines.push(`To: <${uriText(raw, 'to')}>;tag=phone`);
  lines.push(`Call-ID: ${raw.callId}`, `CSeq: ${raw.cseq.seq} OPTIONS`, 'Content-Length: 0', '', '');
  return Buffer.from(lines.join('\r\n'));
}

function getRawVia(request: SipRequest): string[] {
  return request.via.map((v) => {
    let text = `SIP/2.0/${v.transport} ${v.host}${v.port === null ? '' : `:${v.port}`}`;
    for (const [k, value] of v.params) text += value === null ? `;${k}` : `;${k}=${value}`;
    return text;
  });
}

function uriText(request: SipRequest, which: 'from' | 'to'): string {
  const uri = request[which].uri;
  if (uri.kind !== 'sip') return uri.raw;
  return `sip:${uri.user === null ? '' : `${uri.user}@`}${uri.host}${uri.port === null ? '' : `:${uri.port}`}`;
}

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

export function registerText(phone: UdpPhone, serverPort: number, spec: RegisterSpec): { text: string; cseq: number } {
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
  phone: UdpPhone,
  env: Pick<Env, 'port'>,
  spec: Omit<RegisterSpec, 'authorization' | 'cseq'>,
  answer: Answer,
): Promise<{ challenge: SipResponse; final: (Received & { message: SipResponse }) | null }> {
  const first = registerText(phone, env.port, spec);
  phone.send(first.text, env.port);
  const challenge = await phone.response(first.cseq);
  if (challenge === null) throw new Error('no response to the first REGISTER');
  if (challenge.message.status !== 401) throw new Error(`expected 401, got ${challenge.message.status}`);
  const authorization = authorize(challenge.message, 'REGISTER', env.port, spec.user, answer);
  const second = registerText(phone, env.port, { ...spec, authorization });
  phone.send(second.text, env.port);
  return { challenge: challenge.message, final: await phone.response(second.cseq) };
}
