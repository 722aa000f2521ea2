/**
 * The SIP side of the pbx process, wired from the runtime configuration: the stack (transports +
 * transactions), the access policy, the registration service (nonces → authenticator → registrar →
 * keepalive), the dial plan and the B2BUA. Requests are dispatched by method here and nowhere else.
 */
import type { RuntimeConfig } from '../config.js';
import type { Logger } from '../log.js';
import { B2bua } from '../sip/b2bua/b2bua.js';
import type { CallEvents, CallMediaFactory, CallRecordTags, CallSummary, CalleeContact, Caller, InCallFeatures, InCallHooks, LocalAddressing } from '../sip/b2bua/types.js';
import type { OriginateOutcome, OriginatingApplication } from '../sip/b2bua/originated-call.js';
import { newBranch, newCallId, newRequest, newTag } from '../sip/build.js';
import { ensureCertificate } from '../tls/certificate.js';
import type { NameAddr, RawHeader, SipRequest } from '../sip/message.js';
import { admissionOf, createAccessPolicy, createRegistrationService, type Binding, type RegistrationService } from '../sip/registrar/index.js';
import type { OverloadOptions } from '../sip/overload.js';
import { createSipStack, type SipStack } from '../sip/stack.js';
import type { TimerSettings } from '../sip/transaction/timers.js';
import type { TransportPorts } from '../sip/transport/index.js';
import type { Endpoint, ServerTransaction, TransportKind } from '../sip/types.js';
import type { Store } from '../store/types.js';
import { createDialPlan, type ApplicationDirectory } from './dialplan.js';
import { createDestinationRouter, extensionRouter, type DestinationRouter, type DestinationRouters } from './routing/destination-router.js';
import { createUserCallRouter, type ForwardingDeps } from './routing/forwarding.js';
import { userInCall } from './user-calls/in-call.js';
import { countryCode } from './routing/phone-numbers.js';
import { createRoutingPlan } from './routing/plan.js';
import type { RefusalFactory } from './routing/refusal.js';
import { TrunkManager, type TrunkManagerOptions } from './routing/trunks.js';
import { isPromptLanguage } from '../media/prompts/catalog.js';
import { EventServer } from '../sip/events/server.js';
import type { DialPlanDeps } from './dialplan.js';

/** Methods we implement; anything else out of a dialog gets 501 (RFC 3261 §8.2.1). */
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, SUBSCRIBE';
const KNOWN_UNSUPPORTED = new Set(['NOTIFY', 'PUBLISH', 'MESSAGE', 'REFER', 'PRACK']);
const ALLOW_HEADER: RawHeader = { name: 'Allow', value: ALLOW };

export interface SipServiceOptions {
  config: RuntimeConfig;
  store: Store;
  logger: Logger;
  media: CallMediaFactory;
  /** Feature codes and conference rooms the PBX answers itself. */
  applications?: ApplicationDirectory;
  /** Smaller T1/T2 make tests of timeouts quick; production uses RFC 3261 defaults. */
  timers?: Partial<TimerSettings>;
  /** OPTIONS keepalive of registered contacts (default every 30 s). */
  keepaliveSeconds?: number | false;
  /** Answered/ended calls (call records); routing tags calls through `events.tag(callId, ...)`. */
  events?: CallEvents;
  /** Plays "not permitted" before a refused outside call fails (built on the media engine). */
  refusal?: RefusalFactory;
  /** Routers of the destination kinds other modules implement (ring groups, receptionist, conference). */
  destinations?: DestinationRouters;
  /** In-call features that see key presses sent as INFO (three-way calling, services/pbx/user-calls/three-way.ts). */
  infoHooks?: InCallHooks;
  /** Overload shedding limits (services/sip/overload.ts); in-process tests on a shared machine raise them. */
  overload?: Omit<OverloadOptions, 'isRefresh'>;
  /** Trunk polling and registration timing (tests shorten them). */
  trunks?: Pick<TrunkManagerOptions, 'pollMs' | 'registration' | 'failoverHoldMs' | 'qualifyMs' | 'qualifyTimeoutMs' | 'onFailover'>;
  /** Hold with music on hold and transfer (services/pbx/features/in-call/). */
  inCall?: InCallFeatures;
  /** Voicemail boxes: where unanswered, busy and unreachable calls to an extension go. */
  voicemail?: DialPlanDeps['voicemail'];
}

export interface SipService {
  readonly stack: SipStack;
  readonly registration: RegistrationService;
  readonly b2bua: B2bua;
  readonly trunks: TrunkManager;
  /** SUBSCRIBE/NOTIFY (RFC 6665): packages (message-summary) register themselves here. */
  readonly events: EventServer;
  ports(): TransportPorts;
  calls(): CallSummary[];
  /**
   * A call placed by the PBX as the user `caller` to `dialled` (the fax line sending): routed by the
   * dial plan as if the user had dialled it (outside numbers, permissions, caller ID, trunk). A
   * number that routes to no ringing destination (refused, a feature of the PBX) fails with its status.
   */
  originate(caller: Caller, dialled: string, app: OriginatingApplication, options?: { callerId?: string }): Promise<OriginateOutcome>;
  close(): Promise<void>;
}

export async function startSipService(options: SipServiceOptions): Promise<SipService> {
  const { config, store, logger } = options;
  const tls = await ensureCertificate(config.dataDir);
  // One access policy, built before the stack: transport admission and the authenticator share it.
  const access = createAccessPolicy({ store, auth: config.auth, logger: logger.child({ layer: 'access' }) });
  // Under overload, refreshes of existing registrations pass before new ones (overload.ts).
  let isRefresh: (request: SipRequest) => boolean = () => false;
  const stack = await createSipStack({
    admit: admissionOf(access),
    overload: { ...options.overload, isRefresh: (request) => isRefresh(request) },
    bind: config.bind,
    udpPort: config.sip.port,
    tcpPort: config.sip.port,
    tlsPort: config.sip.tlsPort,
    wsPort: config.sip.wsPort,
    wssPort: config.sip.wssPort,
    tls: { key: tls.key, cert: tls.cert },
    logger: logger.child({ layer: 'sip' }),
    ...(options.timers !== undefined && { timers: options.timers }),
    validate: {
      // Only what is implemented: a phone that Requires outbound/path/gruu gets 420 and falls back.
      supportedExtensions: [],
      acceptedContentTypes: ['application/sdp', 'application/dtmf-relay', 'application/dtmf', 'multipart/mixed'],
      isProxyOrB2bua: true,
    },
  });

  const registration = createRegistrationService({
    store,
    realm: config.realm,
    registrar: config.registrar,
    access,
    transactions: stack.transactions,
    localEndpoint: (transport) => stack.localEndpoint(transport),
    keepalive: options.keepaliveSeconds === false ? false : { intervalSeconds: options.keepaliveSeconds ?? 30 },
    digestAlgorithms: config.sip.digestAlgorithms,
    logger: logger.child({ layer: 'registrar' }),
  });
  const { registrar, authenticator } = registration;
  // A refresh continues a live binding's registration: a phone keeps its Call-ID for every
  // REGISTER of one boot (RFC 3261 §10.2.4); a rebooted phone or a stranger starts a new one.
  isRefresh = (request) => {
    const uri = request.to.uri;
    const aor = uri.kind === 'sip' ? uri.user : null;
    return aor !== null && registrar.lookup(aor).some((b) => b.callId === request.callId);
  };

  const contactsOf = (extension: string): CalleeContact[] => registrar.lookup(extension).filter((b) => b.reachable).map(toCalleeContact);
  const localAddressing = addressing(stack);
  // The B2BUA is created below; the trunk limit counts its calls.
  let activeCalls: (trunk: string) => number = () => 0;
  const trunks = new TrunkManager({
    trunks: store.trunks,
    transactions: stack.transactions,
    addressing: localAddressing,
    logger: logger.child({ layer: 'trunks' }),
    activeCalls: (trunk) => activeCalls(trunk),
    ...options.trunks,
  });
  const routingLog = logger.child({ layer: 'routing' });
  // A call to a user applies the user's features (forwarding, DND, call waiting); it needs the
  // B2BUA's calls (who is in one) and the routing plan (forwards to outside numbers), built below.
  let inCall: (extension: string) => boolean = () => false;
  let forwardOutside: ForwardingDeps['outside'] = () => null;
  const users = createUserCallRouter({
    extensions: store.extensions,
    features: store.userFeatures,
    contactsOf,
    inCall: (extension) => inCall(extension),
    outside: (dialled, request, caller, forwarded) => forwardOutside?.(dialled, request, caller, forwarded) ?? null,
    // Where no forward applies: the user's box (services/voicemail/), with the greeting the status asks for.
    voicemail: (extension, status, request, caller) => {
      if (options.voicemail !== undefined) return options.voicemail.fallbackFor(extension)?.({ status }) ?? null;
      return options.destinations?.voicemail?.route({ kind: 'voicemail', extension }, { request, caller, calledNumber: null, contactsOf }) ?? null;
    },
    logger: routingLog,
  });
  const userRouter: DestinationRouter = {
    route: (destination, ctx) => (destination.kind === 'extension' ? users.callUser(destination.number, ctx.request, ctx.caller) : extensionRouter({ extensions: store.extensions, contactsOf }).route(destination, ctx)),
  };
  const routing = createRoutingPlan({
    store,
    country: countryCode(config.country),
    trunks,
    router: createDestinationRouter({ ...options.destinations, extension: userRouter }, routingLog),
    ...(options.refusal !== undefined && { refusal: options.refusal }),
    defaultLanguage: isPromptLanguage(config.defaultLanguage) ? config.defaultLanguage : 'en',
    logger: routingLog,
    contactsOf,
    noAnswerMs: config.calls.noAnswerSeconds * 1000,
    ...(options.events !== undefined && { tag: (callId: string, tags: CallRecordTags) => options.events?.tag(callId, tags) }),
  });
  const dialPlan = createDialPlan({
    extensions: store.extensions,
    ...(options.applications !== undefined && { applications: options.applications }),
    routing,
    contactsOf,
    users,
    hidesCallerId: (extension) => store.userFeatures.get(extension)?.hideCallerId === true,
    ...(options.voicemail !== undefined && { voicemail: options.voicemail }),
  });
  forwardOutside = routing.forwardOutside;
  const timers = { t1Ms: options.timers?.T1 ?? 500, t2Ms: options.timers?.T2 ?? 4000 };
  const b2bua = new B2bua(
    {
      realm: config.realm,
      authenticate: (txn) => {
        // A carrier is known by its address (IP peer, or the registrar we register to): no digest.
        const trunk = trunks.identify(txn.source);
        if (trunk !== null) return trunkCaller(txn.request.from, trunk);
        const outcome = authenticator.authenticate(txn, 'proxy');
        return outcome.ok ? { extension: outcome.extension.number, displayName: outcome.extension.displayName } : null;
      },
      route: dialPlan,
      media: options.media,
      addressing: localAddressing,
      noAnswerMs: config.calls.noAnswerSeconds * 1000,
      ...timers,
      ...(options.events !== undefined && { events: options.events }),
      ...(options.inCall !== undefined && { inCall: options.inCall }),
      ...(options.infoHooks !== undefined && { infoHooks: options.infoHooks }),
    },
    stack.transactions,
    logger.child({ layer: 'b2bua' }),
  );

  inCall = userInCall(() => b2bua.snapshot());
  activeCalls = (trunk) => {
    let n = 0;
    for (const call of b2bua.snapshot()) if (call.trunk === trunk) n++;
    return n;
  };
  try {
    await trunks.start();
  } catch (error) {
    registration.close();
    await stack.close();
    throw error;
  }

  const events = new EventServer({
    transactions: stack.transactions,
    addressing: localAddressing,
    realm: config.realm,
    logger: logger.child({ layer: 'sip' }),
    minExpires: config.registrar.minExpires,
    maxExpires: config.registrar.maxExpires,
  });
  const subscribe = (txn: ServerTransaction): void => {
    // A refresh or unsubscribe is recognised by its dialog (random tags) and source address;
    // a new subscription is authenticated like a REGISTER (401), and only to one's own resources.
    events.handleSubscribe(txn, () => {
      const outcome = authenticator.authenticate(txn, 'www');
      return outcome.ok ? outcome.extension.number : null;
    });
  };

  const dispatch = (txn: ServerTransaction): void => {
    const request = txn.request;
    // Subscriptions are dialogs of the event server, not calls: refreshes go there too.
    if (request.method === 'SUBSCRIBE') {
      subscribe(txn);
      return;
    }
    if (b2bua.isInDialog(request)) {
      b2bua.handleInDialog(txn);
      return;
    }
    switch (request.method) {
      case 'REGISTER':
        registrar.handleRegister(txn);
        return;
      case 'INVITE':
        b2bua.handleInvite(txn).catch((error: unknown) => {
          logger.error({ err: String(error), callId: request.callId }, 'INVITE handling failed');
          txn.respond(500);
        });
        return;
      case 'OPTIONS':
        // The same answer whatever user is named: OPTIONS cannot enumerate extensions.
        txn.respond(200, {
          headers: [ALLOW_HEADER, { name: 'Accept', value: 'application/sdp' }],
        });
        return;
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
        txn.respond(481);
        return;
      default:
        txn.respond(KNOWN_UNSUPPORTED.has(request.method) ? 405 : 501, { headers: [ALLOW_HEADER] });
    }
  };
  stack.transactions.onRequest((txn) => {
    try {
      dispatch(txn);
    } catch (error) {
      // A bug for one request must not take the process (and every call) down.
      logger.error({ err: error instanceof Error ? error.stack : String(error), callId: txn.request.callId }, 'request handling failed');
      try {
        txn.respond(500);
      } catch {
        // already answered
      }
    }
  });
  stack.transactions.onAck((ack, source) => {
    try {
      b2bua.handleAck(ack, source);
    } catch (error) {
      logger.error({ err: String(error), callId: ack.callId }, 'ACK handling failed');
    }
  });

  logger.info({ ports: stack.ports(), realm: config.realm }, 'SIP service listening');
  return {
    stack,
    registration,
    b2bua,
    trunks,
    events,
    ports: () => stack.ports(),
    calls: () => b2bua.snapshot(),
    originate(caller, dialled, app, options = {}) {
      const request = syntheticInvite(dialled, caller, config.realm, stack.localEndpoint('UDP').address);
      let decision;
      try {
        decision = dialPlan(request, caller);
      } catch (error) {
        logger.error({ err: String(error), caller: caller.extension, dialled }, 'routing a placed call failed');
        return Promise.resolve({ kind: 'failed', status: 500, reason: 'Routing Failed' });
      }
      if (decision.kind === 'reject') return Promise.resolve({ kind: 'failed', status: decision.status, reason: decision.reason ?? 'Rejected' });
      if (decision.kind === 'application') {
        // A refused outside call plays a prompt to a phone; a placed call only needs the status.
        const refused = decision.earlyMedia;
        return Promise.resolve(refused ? { kind: 'failed', status: refused.status, reason: refused.reason } : { kind: 'failed', status: 488, reason: 'Not a Callable Destination' });
      }
      if (decision.contacts.length === 0 && (decision.stages ?? []).every((s) => s.contacts.length === 0)) return Promise.resolve({ kind: 'failed', status: 480, reason: 'Temporarily Unavailable' });
      const contacts = decision.contacts.length > 0 ? decision.contacts : (decision.stages?.find((s) => s.contacts.length > 0)?.contacts ?? []);
      // The dial plan tagged the call's record under this Call-ID (number, trunk): the call keeps it.
      // A fax goes out with the user's fax number as caller ID rather than their voice number.
      const from = decision.from !== undefined && options.callerId !== undefined ? { ...decision.from, user: options.callerId } : decision.from;
      return b2bua.originate(caller, { ...decision, contacts, ...(from !== undefined && { from }) }, app, undefined, request.callId);
    },
    async close() {
      events.close();
      b2bua.hangUpAll('shutdown');
      trunks.close();
      registration.close();
      await stack.close();
    },
  };
}

/** What the dial plan reads of a call the PBX places itself: the Request-URI (dialled number), From, a Call-ID for the logs. */
function syntheticInvite(dialled: string, caller: Caller, realm: string, host: string): SipRequest {
  const uri = (user: string) => ({ kind: 'sip' as const, secure: false, user, password: null, host: realm, port: null, params: new Map<string, string | null>(), headers: new Map<string, string>() });
  return newRequest({
    method: 'INVITE',
    uri: uri(dialled),
    via: [{ transport: 'UDP', host, port: null, params: new Map<string, string | null>([['branch', newBranch()]]) }],
    from: { displayName: caller.displayName || null, uri: uri(caller.extension), params: new Map([['tag', newTag()]]) },
    to: { displayName: null, uri: uri(dialled), params: new Map() },
    callId: newCallId(host),
    cseq: { seq: 1, method: 'INVITE' },
  });
}

/** The caller of a trunk's INVITE: the number the carrier presents (From user), on that trunk. */
function trunkCaller(from: NameAddr, trunk: string): Caller {
  let user = 'anonymous';
  if (from.uri.kind === 'sip' && from.uri.user !== null) {
    try {
      user = decodeURIComponent(from.uri.user);
    } catch {
      user = from.uri.user;
    }
  }
  return { extension: user, displayName: from.displayName ?? '', trunk };
}

/**
 * Where an INVITE for a registered contact goes: where its REGISTER came from (NAT, RFC 3581). A
 * stream connection that is gone (restart, phone reconnect) cannot be reached at its ephemeral
 * source port, so the Contact's own host:port is used then, as RFC 5626 §5 expects without outbound.
 */
export function toCalleeContact(binding: Binding): CalleeContact {
  const endpoint: Endpoint = binding.endpoint;
  if (endpoint.transport === 'UDP' || endpoint.connectionId !== null) return { uri: binding.contact, destination: endpoint };
  const host = binding.contact.host.replace(/^\[|\]$/g, '');
  const isIp = /^[0-9.]+$/.test(host) || host.includes(':');
  return {
    uri: binding.contact,
    destination: isIp
      ? { transport: endpoint.transport, address: host, port: binding.contact.port ?? defaultPort(endpoint.transport), connectionId: null }
      : endpoint,
  };
}

function defaultPort(transport: TransportKind): number {
  return transport === 'TLS' || transport === 'WSS' ? 5061 : 5060;
}

export function addressing(stack: SipStack): LocalAddressing {
  return {
    via(transport) {
      const local = stack.localEndpoint(transport);
      return { transport, host: hostText(local.address), port: local.port };
    },
    contact(transport, user): NameAddr {
      const local = stack.localEndpoint(transport);
      const params = new Map<string, string | null>();
      // RFC 7118 §5.2: both WebSocket flavours are transport=ws.
      if (transport !== 'UDP') params.set('transport', transport === 'WSS' ? 'ws' : transport.toLowerCase());
      return {
        displayName: null,
        uri: {
          kind: 'sip',
          secure: false,
          user,
          password: null,
          host: hostText(local.address),
          port: local.port,
          params,
          headers: new Map(),
        },
        params: new Map(),
      };
    },
  };
}

function hostText(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
