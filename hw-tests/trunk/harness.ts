/**
 * The PBX as the trunk tests need it: a real store in a temp dir with a country, the SIP service on
 * free loopback ports (127.0.0.1), anchored media, the applications' media clock and the refusal
 * prompts, and trunk polling/registration timings short enough for a test. Carriers live on other
 * loopback addresses (127.0.0.2, 127.0.0.3), so a trunk is told from the phones by its address.
 */
import { createLogger, isLogLevel } from '../../services/log.js';
import type { MediaEngine } from '../../services/media/engine.js';
import { anchoredMedia } from '../../services/pbx/anchored-media.js';
import { createApplications, type PbxApplications } from '../../services/pbx/features/applications.js';
import { createCallRecorder } from '../../services/pbx/call-records.js';
import { createRefusals } from '../../services/pbx/routing/refusal.js';
import { chainDirectories } from '../../services/pbx/dialplan.js';
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import { createFeatureCodes } from '../../services/pbx/user-calls/feature-codes.js';
import { createThreeWay, type ThreeWayFeature } from '../../services/pbx/user-calls/three-way.js';
import { failoverNotifier } from '../../services/pbx/routing/failover-notice.js';
import type { DestinationRouter } from '../../services/pbx/routing/destination-router.js';
import { createOfficeRouting } from '../../services/pbx/routing/office.js';
import { COUNTRIES, type Country } from '../../services/media/tones/table.js';
import { startSipService, type SipService } from '../../services/pbx/sip-service.js';
import type { Store } from '../../services/store/types.js';
import type { TimerSettings } from '../../services/sip/transaction/timers.js';
import { startPbxBase } from '../support/pbx-base.js';
import type { PhoneOptions, SipPhone } from '../support/sip-phone.js';
import { createFaxService, type FaxService } from '../../services/fax/service.js';
import { createInCallFeatures } from '../../services/pbx/features/in-call/index.js';

export interface TrunkTestPbx {
  dir: string;
  store: Store;
  engine: MediaEngine;
  sip: SipService;
  fax: FaxService;
  address: { address: string; port: number };
  threeWay: ThreeWayFeature;
  phone(user: string, options?: Partial<PhoneOptions>): Promise<SipPhone>;
  close(): Promise<void>;
}

export interface TrunkTestOptions {
  country: string;
  extensions: Array<{ number: string; secret: string }>;
  /** Fill numbers, trunks and permissions before the SIP service starts. */
  setup?(store: Store): void;
  /** The fax line's T.38 offer (default on). */
  faxT38?: boolean;
  /** Wait before a failed fax is tried again (default 60 s). */
  faxRetryMs?: number;
  /** Shorter SIP timers (a dead carrier's INVITE times out after 64·T1) and landline failover hold. */
  timers?: Partial<TimerSettings>;
  failoverHoldMs?: number;
  /** Trunk qualify (OPTIONS) interval; off by default here (SIPp carriers' scenarios expect no OPTIONS). */
  qualifyMs?: number;
  /** Hold with music and transfer (REFER) terminated by the pbx, as app.ts wires them (default off). */
  inCall?: boolean;
}

export async function startTrunkTestPbx(options: TrunkTestOptions): Promise<TrunkTestPbx> {
  const { dir, config, store, engine, logger, phones } = await startPbxBase({
    prefix: 'trunk-test-',
    extensions: options.extensions,
    configFile: { country: options.country, calls: { noAnswerSeconds: 10 } },
    // sip.js phones answer only an MD5 challenge (see hw-tests/support/README.md).
    env: { PBX_SIP_DIGEST_ALGORITHMS: 'MD5' },
    // TRUNK_TEST_LOG=debug|info shows the pbx's log when a trunk test misbehaves.
    ...(process.env.TRUNK_TEST_LOG && { logger: createLogger('pbx', isLogLevel(process.env.TRUNK_TEST_LOG) ? process.env.TRUNK_TEST_LOG : 'debug') }),
  });
  options.setup?.(store);
  const applications: PbxApplications = createApplications({ engine, extensions: store.extensions, logger, rooms: store.routing.conferenceRooms });
  // Numbers may point to ring groups, receptionists and rooms: the office router, wired as app.ts does.
  const office = createOfficeRouting({
    extensions: store.extensions,
    routing: store.routing,
    engine,
    clock: applications.clock,
    conference: applications.conference,
    logger,
    dataDir: dir,
    country: (COUNTRIES as readonly string[]).includes(options.country) ? (options.country as Country) : 'US',
  });
  const officeRouter: DestinationRouter = { route: (destination, ctx) => office.route(destination, { caller: ctx.caller, contactsOf: ctx.contactsOf }) };
  // Call records as the pbx keeps them, so a test can check the trunk and number of each call.
  const recorder = createCallRecorder(store, logger);
  const anchored = anchoredMedia(engine, { clock: applications.clock });
  // Three-way calling as app.ts wires it: the B2BUA's answered calls, mixed on the anchored media.
  let sipRef: SipService | null = null;
  const threeWay = createThreeWay({ calls: () => sipRef?.b2bua.answeredCalls() ?? [], media: (callId) => anchored.find(callId), clock: applications.clock, logger });
  anchored.onKeyPress((callId, side, key) => threeWay.keyPress(callId, side, key.digit));
  // Fax lines (`fax:EXT`) and the fax queue as app.ts wires them; received faxes are mailed through the store's outbox.
  const fax = createFaxService({
    store,
    engine,
    clock: applications.clock,
    logger,
    dataDir: dir,
    mail: store.mail,
    pollMs: 200,
    retryMs: options.faxRetryMs ?? 60_000,
    ...(options.faxT38 !== undefined && { t38: options.faxT38 }),
  });
  const country = (COUNTRIES as readonly string[]).includes(options.country) ? (options.country as Country) : 'US';
  const inCall = options.inCall === true ? createInCallFeatures({ anchored, clock: applications.clock, repository: store.moh, dataDir: dir, country, logger, transferorByeMs: 500 }) : null;
  const sip = await startSipService({
    config,
    store,
    logger,
    infoHooks: threeWay,
    ...(inCall !== null && { inCall }),
    media: recorder.wrapMedia(anchored),
    events: recorder,
    destinations: {
      'ring-group': officeRouter,
      receptionist: officeRouter,
      conference: officeRouter,
      voicemail: officeRouter,
      fax: fax.destination,
    },
    // The users' feature codes (forwarding, DND, call waiting, caller ID), chained as app.ts does.
    applications: chainDirectories(applications, createFeatureCodes({ store, country: countryCode(options.country), engine, clock: applications.clock, logger })),
    refusal: createRefusals({ engine, clock: applications.clock, logger }),
    keepaliveSeconds: false,
    // Phones, carrier and pbx share one process on a shared 2-core machine: its event-loop lag is
    // the machine's, not an overload of the pbx (shedding has its own test, hw-tests/sip/overload.test.ts).
    overload: { maxEventLoopLagMs: 5000, maxEventLoopUtilization: 2 },
    // A 4 s binding: the test sees the trunk refresh its registration before it expires.
    trunks: {
      pollMs: 200,
      registration: { expiresSeconds: 4, retryMinMs: 500, retryMaxMs: 2000 },
      ...(options.failoverHoldMs !== undefined && { failoverHoldMs: options.failoverHoldMs }),
      qualifyMs: options.qualifyMs ?? 0,
      ...(options.qualifyMs !== undefined && { qualifyTimeoutMs: Math.min(2000, options.qualifyMs) }),
      // Failover mailed to the administrators as app.ts does (queued in the store's outbox).
      onFailover: failoverNotifier({ users: store.users, mail: { enqueue: (m) => store.mail.enqueue(m) }, logger }),
    },
    ...(options.timers !== undefined && { timers: options.timers }),
  });
  sipRef = sip;
  fax.startSending((caller, dialled, app, o) => sip.originate(caller, dialled, app, o));
  const address = { address: '127.0.0.1', port: sip.ports().udp ?? 0 };
  const started = phones(address, async () => {
    await fax.close();
    await sip.close();
    await fax.drain();
    inCall?.close();
    applications.close();
  });
  return { dir, store, engine, sip, fax, address, threeWay, phone: started.phone, close: started.close };
}
