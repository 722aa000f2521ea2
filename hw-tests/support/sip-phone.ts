/**
 * A SIP test phone for Node: sip.js 0.21 as the user agent (REGISTER with digest auth, INVITE with
 * 407 handling, BYE, INFO), a ~20-line UDP transport for it, and RtpPhone for RTP. Incoming calls
 * are answered at once. One call at a time per phone (tests make phones, not PBXes).
 *
 * sip.js needs: `forceRport` (we talk to it from an ephemeral port), a Via host without a port
 * (it drops responses otherwise), `contactParams: {transport: 'udp'}` (its default is ws).
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import {
  EmitterImpl,
  Invitation,
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  Subscriber,
  TransportState,
  UserAgent,
  type Notification,
  type Emitter,
  type Session,
  type SessionDescriptionHandler,
  type Transport,
} from 'sip.js/lib/api/index.js';
import type { Logger as SipJsLogger } from 'sip.js/lib/core/index.js';
import type { DtmfDigit } from '../../services/media/dtmf/digits.js';
import { formatDtmfRelay, formatDtmf } from '../../services/media/dtmf/info.js';
import { Transport as WebTransport } from 'sip.js/lib/platform/web/transport/index.js';
import { WebSocket as NodeWebSocket } from 'ws';
import { RtpPhone, within } from './rtp-phone.js';

// sip.js's WebSocket transport uses the global WebSocket, which Node 20 does not have.
(globalThis as { WebSocket?: unknown }).WebSocket ??= NodeWebSocket;

export interface UdpTransportOptions {
  server: { address: string; port: number };
}

/** sip.js Transport over one UDP socket; everything goes to the PBX (a phone has one proxy). */
export class UdpTransport implements Transport {
  readonly protocol = 'UDP';
  readonly stateChange: Emitter<TransportState>;
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  #state = TransportState.Disconnected;
  #emitter = new EmitterImpl<TransportState>();
  #socket: Socket | null = null;
  readonly #server: UdpTransportOptions['server'];

  constructor(_logger: SipJsLogger, options: UdpTransportOptions) {
    this.#server = options.server;
    this.stateChange = this.#emitter;
  }

  get state(): TransportState {
    return this.#state;
  }

  #set(state: TransportState): void {
    this.#state = state;
    this.#emitter.emit(state);
  }

  async connect(): Promise<void> {
    if (this.#socket) return;
    this.#set(TransportState.Connecting);
    const socket = createSocket('udp4');
    socket.on('message', (msg) => this.onMessage?.(msg.toString('utf8')));
    socket.on('error', () => undefined);
    socket.bind(0, '127.0.0.1');
    await within(once(socket, 'listening'), 5000, 'SIP UDP bind on 127.0.0.1');
    this.#socket = socket;
    this.#set(TransportState.Connected);
    this.onConnect?.();
  }

  async disconnect(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    this.#set(TransportState.Disconnecting);
    socket.close();
    this.#set(TransportState.Disconnected);
    this.onDisconnect?.();
  }

  async dispose(): Promise<void> {
    await this.disconnect();
  }

  isConnected(): boolean {
    return this.#state === TransportState.Connected;
  }

  async send(message: string): Promise<void> {
    if (!this.#socket) throw new Error('transport not connected');
    this.#socket.send(Buffer.from(message, 'utf8'), this.#server.port, this.#server.address);
  }
}

/** sip.js's view of our media: SDP out of RtpPhone, the other side's SDP into it. */
class PhoneSdh implements SessionDescriptionHandler {
  readonly media: RtpPhone;
  /** every SDP body we received (offers and answers), for anchoring checks */
  readonly remoteSdps: string[] = [];

  constructor(media: RtpPhone) {
    this.media = media;
  }

  close(): void {
    this.media.close();
  }

  async getDescription(): Promise<{ body: string; contentType: string }> {
    return { body: this.media.describe(), contentType: 'application/sdp' };
  }

  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }

  async setDescription(sdp: string): Promise<void> {
    this.remoteSdps.push(sdp);
    this.media.setRemote(sdp);
  }

  sendDtmf(tones: string): boolean {
    return this.media.sendRfc4733(tones as DtmfDigit);
  }
}

export interface PhoneOptions {
  user: string;
  password: string;
  pbx: { address: string; port: number };
  /** offer/accept RFC 4733 telephone-event (default true) */
  telephoneEvent?: boolean;
  /**
   * Talk SIP over WebSocket (RFC 7118) to this URL, as a browser phone does, with sip.js's own
   * WebSocket transport (Node 20 has no global WebSocket: the `ws` package stands in).
   */
  websocket?: string;
}

export interface PhoneCall {
  readonly session: Session;
  readonly media: RtpPhone;
  /** the SDP bodies the phone received in this call */
  readonly remoteSdps: string[];
  /** resolves when the call is established */
  readonly established: Promise<void>;
  /** resolves when the call is over (either side) */
  readonly ended: Promise<void>;
}

/** A NOTIFY the phone received: inside a subscription it made, or unsolicited (out of dialog). */
export interface ReceivedNotify {
  at: number;
  event: string | undefined;
  subscriptionState: string | undefined;
  unsolicited: boolean;
  body: string;
}

export class SipPhone {
  readonly user: string;
  /** Every NOTIFY received (answered 200), in order. */
  readonly notifies: ReceivedNotify[] = [];
  readonly #subscribers: Subscriber[] = [];
  readonly ua: UserAgent;
  readonly #options: PhoneOptions;
  #registerer: Registerer | null = null;
  /** media of sessions not yet wrapped in a PhoneCall, by session id */
  readonly #sdh = new Map<string, PhoneSdh>();
  readonly calls: PhoneCall[] = [];
  readonly #incoming: ((call: PhoneCall) => void)[] = [];
  /** Incoming calls are answered at once (0), or ring this long first (a blind transfer's target). */
  answerAfterMs = 0;

  private constructor(options: PhoneOptions) {
    this.#options = options;
    this.user = options.user;
    const { address, port } = options.pbx;
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${options.user}@${address}:${port}`),
      authorizationUsername: options.user,
      authorizationPassword: options.password,
      contactName: options.user,
      contactParams: { transport: options.websocket === undefined ? 'udp' : 'ws' },
      viaHost: `${options.user}.phone.invalid`,
      forceRport: true,
      // PHONE_SIP_LOG=debug shows sip.js's own log when a test phone misbehaves.
      logBuiltinEnabled: process.env.PHONE_SIP_LOG !== undefined,
      logLevel: process.env.PHONE_SIP_LOG === 'debug' ? 'debug' : 'warn',
      ...(options.websocket === undefined
        ? { transportConstructor: UdpTransport, transportOptions: { server: options.pbx } satisfies UdpTransportOptions }
        : { transportConstructor: WebTransport, transportOptions: { server: options.websocket } }),
      sessionDescriptionHandlerFactory: (session: Session) => {
        throw new Error(`no media prepared for session ${session.id}`);
      },
      delegate: {
        onNotify: (notification: Notification) => this.#notified(notification, true),
        onInvite: (invitation: Invitation) => {
          const call = this.#track(invitation);
          if (this.answerAfterMs > 0) {
            // A person answering: 180, then the answer (a CANCEL meanwhile ends it, unanswered).
            void invitation.progress().catch(() => undefined);
            setTimeout(() => {
              if (invitation.state === SessionState.Initial) void invitation.accept().catch(() => undefined);
            }, this.answerAfterMs).unref();
          } else void invitation.accept().catch(() => undefined);
          for (const w of this.#incoming.splice(0)) w(call);
        },
      },
    });
  }

  static async start(options: PhoneOptions): Promise<SipPhone> {
    const phone = new SipPhone(options);
    await phone.#prepareMedia();
    await phone.ua.start();
    return phone;
  }

  /** The next call's media is opened ahead (sip.js asks for the handler synchronously). */
  #nextMedia: RtpPhone | null = null;
  async #prepareMedia(): Promise<void> {
    this.#nextMedia = await RtpPhone.open({ telephoneEvent: this.#options.telephoneEvent ?? true });
    const opts = this.ua.configuration;
    opts.sessionDescriptionHandlerFactory = (session: Session) => {
      const media = this.#nextMedia;
      if (media === null) throw new Error('media not ready');
      this.#nextMedia = null;
      void this.#prepareMedia();
      const sdh = new PhoneSdh(media);
      this.#sdh.set(session.id, sdh);
      return sdh;
    };
  }

  /** REGISTER (digest auth answered by sip.js); resolves once registered. */
  async register(expires = 300): Promise<void> {
    const registerer = new Registerer(this.ua, { expires });
    this.#registerer = registerer;
    let rejected: (error: Error) => void = () => undefined;
    const registered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.user}: not registered within 5 s`)), 5000);
      rejected = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      registerer.stateChange.addListener((state) => {
        if (state === RegistererState.Registered) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await registerer.register({
      requestDelegate: {
        onReject: (response) => rejected(new Error(`${this.user}: REGISTER rejected ${response.message.statusCode}`)),
      },
    });
    await registered;
  }

  /** Calls `target` through the PBX; resolves when the call is set up (answered). */
  async call(target: string, answerTimeoutMs = 20_000): Promise<PhoneCall> {
    const { address, port } = this.#options.pbx;
    const uri = UserAgent.makeURI(`sip:${target}@${address}:${port}`);
    if (!uri) throw new Error(`bad target ${target}`);
    const inviter = new Inviter(this.ua, uri);
    const call = this.#track(inviter);
    await inviter.invite();
    await withTimeout(call.established, answerTimeoutMs, `${this.user} → ${target}: not answered`);
    return call;
  }

  /** The next incoming call (answered automatically), or a loud failure after `ms`. */
  nextIncoming(ms = 15_000): Promise<PhoneCall> {
    let take: (call: PhoneCall) => void = () => undefined;
    const next = new Promise<PhoneCall>((resolve) => {
      take = resolve;
      this.#incoming.push(take);
    });
    return within(next, ms, `${this.user}: no incoming call`).finally(() => {
      const i = this.#incoming.indexOf(take);
      if (i >= 0) this.#incoming.splice(i, 1);
    });
  }

  /**
   * This phone calls `callee` (at `target`, default its own user) and the callee answers: both
   * calls once established, each sending its own tone when `tones` is given ([ours, theirs] Hz).
   */
  async callAnswered(callee: SipPhone, target = callee.user, tones?: [number, number]): Promise<[PhoneCall, PhoneCall]> {
    const incoming = callee.nextIncoming();
    const ours = await this.call(target);
    const theirs = await incoming;
    await theirs.established;
    if (tones) {
      ours.media.setSignal({ kind: 'tones', freqs: [tones[0]] });
      theirs.media.setSignal({ kind: 'tones', freqs: [tones[1]] });
    }
    return [ours, theirs];
  }

  /** DTMF as SIP INFO: application/dtmf-relay (default) or application/dtmf. */
  async sendInfo(call: PhoneCall, digit: DtmfDigit, type: 'dtmf-relay' | 'dtmf' = 'dtmf-relay'): Promise<void> {
    const body = type === 'dtmf-relay' ? formatDtmfRelay({ digit, durationMs: 160 }) : formatDtmf(digit);
    await call.session.info({ requestOptions: { body: { contentDisposition: 'render', contentType: body.contentType, content: body.body } } });
  }

  /**
   * Hold (`sendonly`) or resume (`sendrecv`) by re-INVITE, as a desk phone's hold key does; resolves
   * with the SDP answer. Our phone keeps sending its signal on hold (a phone playing its own hold tone).
   */
  async reinvite(call: PhoneCall, direction: 'sendonly' | 'sendrecv' | 'inactive'): Promise<string> {
    call.media.direction = direction;
    const before = call.remoteSdps.length;
    await new Promise<void>((resolve, reject) => {
      void call.session
        .invite({
          requestDelegate: {
            onAccept: () => resolve(),
            onReject: (response) => reject(new Error(`${this.user}: re-INVITE refused ${response.message.statusCode}`)),
          },
        })
        .catch(reject);
    });
    await withTimeout(
      (async () => {
        while (call.remoteSdps.length === before) await new Promise((r) => setTimeout(r, 10));
      })(),
      3000,
      `${this.user}: no SDP answer to the re-INVITE`,
    );
    return call.remoteSdps[call.remoteSdps.length - 1] as string;
  }

  /**
   * REFER (RFC 3515) in `call`: to `target` (a number: blind transfer) or to the far end of another
   * call of ours (`Session`: attended transfer, sip.js adds Replaces). Resolves with the sipfrag
   * status lines of the NOTIFYs up to the final one.
   */
  async refer(call: PhoneCall, target: string | PhoneCall, finalWithinMs = 30_000): Promise<string[]> {
    const frags: string[] = [];
    let finished: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const { address, port } = this.#options.pbx;
    const referTo = typeof target === 'string' ? UserAgent.makeURI(`sip:${target}@${address}:${port}`) : target.session;
    if (referTo === undefined) throw new Error(`bad target ${String(target)}`);
    await call.session.refer(referTo, {
      onNotify: (notification) => {
        const body = notification.request.body.trim();
        frags.push(body);
        void notification.accept().catch(() => undefined);
        if (/terminated/i.test(notification.request.getHeader('Subscription-State') ?? '')) finished();
      },
      requestDelegate: { onReject: (response) => frags.push(`REFER rejected ${response.message.statusCode}`) },
    });
    await withTimeout(done, finalWithinMs, `${this.user}: no final NOTIFY for the REFER`);
    return frags;
  }

  async hangUp(call: PhoneCall): Promise<void> {
    if (call.session.state === SessionState.Established) await call.session.bye();
    else if (call.session instanceof Inviter && call.session.state === SessionState.Establishing) await call.session.cancel();
    await withTimeout(call.ended, 5000, `${this.user}: call did not end`);
  }

  #track(session: Session): PhoneCall {
    let established!: () => void;
    let ended!: () => void;
    const call: PhoneCall = {
      session,
      get media(): RtpPhone {
        const sdh = session.sessionDescriptionHandler;
        if (!(sdh instanceof PhoneSdh)) throw new Error('call has no media yet');
        return sdh.media;
      },
      get remoteSdps(): string[] {
        const sdh = session.sessionDescriptionHandler;
        return sdh instanceof PhoneSdh ? sdh.remoteSdps : [];
      },
      established: new Promise<void>((r) => (established = r)),
      ended: new Promise<void>((r) => (ended = r)),
    };
    session.stateChange.addListener((state) => {
      if (state === SessionState.Established) established();
      if (state === SessionState.Terminated) {
        ended();
        this.#sdh.delete(session.id);
      }
    });
    this.calls.push(call);
    return call;
  }

  #notified(notification: Notification, unsolicited: boolean): void {
    const request = notification.request;
    this.notifies.push({
      at: Date.now(),
      event: request.getHeader('Event'),
      subscriptionState: request.getHeader('Subscription-State'),
      unsolicited,
      body: request.body ?? '',
    });
    void notification.accept().catch(() => undefined);
  }

  /** SUBSCRIBE to `event` of this phone's own AOR (sip.js Subscriber: digest answered, refreshed before expiry). */
  subscribe(event: string, expires = 600): Subscriber {
    const subscriber = new Subscriber(this.ua, this.ua.configuration.uri, event, { expires });
    subscriber.delegate = { onNotify: (notification) => this.#notified(notification, false) };
    this.#subscribers.push(subscriber);
    void subscriber.subscribe().catch(() => undefined);
    return subscriber;
  }

  /** Waits for a NOTIFY received after index `from` matching `test`. */
  async nextNotify(from: number, test: (n: ReceivedNotify) => boolean, timeoutMs = 5000): Promise<ReceivedNotify> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.notifies.slice(from).find(test);
      if (hit !== undefined) return hit;
      if (Date.now() > end) throw new Error(`${this.user}: no matching NOTIFY within ${timeoutMs} ms (got ${this.notifies.length - from}: ${JSON.stringify(this.notifies.slice(from).map((n) => n.body))})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    // Each step is bounded: a peer that never answers the unSUBSCRIBE, BYE or unREGISTER (the pbx
    // stopping first, a lost datagram) must not keep a test file from ending.
    const step = (p: Promise<unknown>, what: string): Promise<unknown> => within(p, 3000, `${this.user}: ${what}`).catch(() => undefined);
    for (const subscriber of this.#subscribers) await step(subscriber.dispose(), 'unsubscribe');
    for (const call of this.calls) {
      if (call.session.state === SessionState.Established) await step(call.session.bye(), 'BYE');
    }
    if (this.#registerer) {
      await step(this.#registerer.unregister(), 'unregister');
      await step(this.#registerer.dispose(), 'registerer dispose');
    }
    await step(this.ua.stop(), 'user agent stop');
    this.#nextMedia?.close();
    for (const sdh of this.#sdh.values()) sdh.close();
  }
}

/** `promise`, or a loud failure after `ms` (rtp-phone's `within`, under the name this file's users know). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return within(promise, ms, what);
}
