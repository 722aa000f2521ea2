/**
 * The pbx process as a value: startPbx(config) opens the store and the control socket and returns
 * a handle whose stop() closes them in reverse order. main.ts only parses the environment and
 * calls this; tests call it directly.
 *
 * Where the SIP stack goes: after the store and ctl server are up (step "components" below), the
 * transports, transaction layer, registrar and B2BUA are created from `config` and `store`, they
 * register their ctl methods with `ctl.handle(...)`, report calls through setCallSource(), and
 * add their own stop() to `stoppers` (stopped last-in, first-out).
 */
import type { RuntimeConfig } from '../config.js';
import { startCtlServer, type CtlServer } from '../ctl/server.js';
import { CtlError, type StatusCall, type StatusResult, type StatusTrunk } from '../ctl/protocol.js';
import { createLogger, type Logger } from '../log.js';
import { createMediaEngine, type MediaEngine } from '../media/engine.js';
import type { CallMediaFactory } from '../sip/b2bua/types.js';
import type { LegStats } from '../media/engine.js';
import type { StatusLegMedia } from '../ctl/protocol.js';
import { anchoredMedia, type AnchoredMediaFactory } from './anchored-media.js';
import { passthroughMedia } from '../sip/b2bua/passthrough-media.js';
import { createApplications, type PbxApplications } from './features/applications.js';
import { createInCallFeatures, type InCallService } from './features/in-call/index.js';
import { chainDirectories, type ApplicationDirectory } from './dialplan.js';
import { createOfficeRouting } from './routing/office.js';
import { countryCode } from './routing/phone-numbers.js';
import { createFeatureCodes } from './user-calls/feature-codes.js';
import { createThreeWay } from './user-calls/three-way.js';
import type { DestinationRouter, DestinationRouters } from './routing/destination-router.js';
import { COUNTRIES, type Country } from '../media/tones/table.js';
import { openStore, randomPassword, type Store } from '../store/index.js';
import { applyStagedRestore } from '../store/restore.js';
import { clientFailures } from '../sip/transaction/client-base.js';
import { createCallRecorder, type CallRecorder } from './call-records.js';
import { endLeftoverCalls } from './recovery.js';
import { CRASH_LOOP_WINDOW_MS, readRunRecord, recordExit, recordHeartbeat, recordStart, summarize, type RunSummary } from './run-record.js';
import { callObjectsInMemory } from '../sip/b2bua/call.js';
import { memoryBreakdown } from '../memory/usage.js';
import { addressing, startSipService, type SipService } from './sip-service.js';
import { startSipTrace } from './sip-trace.js';
import { failoverNotifier } from './routing/failover-notice.js';
import { createRefusals } from './routing/refusal.js';
import { createFaxService, type FaxService } from '../fax/service.js';
import { createMailService, type MailService } from '../mail/outbox.js';
import { createVoicemail, type VoicemailService } from '../voicemail/service.js';
import { parseDestination } from '../store/destination.js';
import type { CalleeContact } from '../sip/b2bua/types.js';
import { toCalleeContact } from './sip-service.js';

export interface PbxApp {
  readonly config: RuntimeConfig;
  readonly store: Store;
  readonly ctl: CtlServer;
  readonly log: Logger;
  /** The mail outbox's sender (voicemail and fax mail go through it). */
  readonly mail: MailService;
  /** Where `status` reads the active calls from (the B2BUA, once wired). */
  setCallSource(source: () => StatusCall[]): void;
  /** Adds a shutdown step, run before the ones added earlier. */
  onStop(step: () => Promise<void> | void): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where the first-start admin password box is written (stdout under pm2). */
  print?: (text: string) => void;
  /** The call media policy; anchoring through the media engine unless a test says otherwise. */
  media?: CallMediaFactory;
  /** The PBX's own applications (conference, echo test), built on the media engine. */
  applications?: (engine: MediaEngine) => ApplicationDirectory;
  /**
   * The database file was deleted or replaced under the running process. main.ts stops and exits so
   * pm2 starts a pbx on the real file; by default the app stops itself.
   */
  onDatabaseLost?: (reason: string) => void;
  /** How often the database file's identity is checked (default 5 s). */
  fileCheckMs?: number;
  /** How often the WAL is checkpointed into the main file (default 5 min). */
  checkpointMs?: number;
  /** Mail outbox timing (tests shorten the retries). */
  mail?: { pollMs?: number; retryDelaysMs?: readonly number[]; timeoutSeconds?: number };
}

export async function startPbx(config: RuntimeConfig, options: StartOptions = {}): Promise<PbxApp> {
  const log = options.log ?? createLogger('pbx');
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const startedAt = Date.now();
  const stoppers: Array<() => Promise<void> | void> = [];

  // A configuration restore staged by the web UI is applied now, before anything opens the store.
  await applyStagedRestore(config.dataDir, log);
  const store = openStore(config.dataDir, { defaultLanguage: config.defaultLanguage });
  stoppers.push(() => store.close());
  const run: RunSummary = recordStart(store, process.pid);
  stoppers.push(() => recordExit(store, process.pid, 0, 'stopped'));
  log.info({ db: store.path, starts: run.starts }, 'store open');
  if (run.crashLoop) {
    log.warn({ startsInWindow: run.startsInWindow, windowSeconds: CRASH_LOOP_WINDOW_MS / 1000, lastExit: run.lastExit }, 'crash loop: the pbx keeps restarting');
  } else if (run.lastExit !== null && run.lastExit.code !== 0) {
    log.warn({ lastExit: run.lastExit }, 'the previous pbx run ended abnormally');
  }

  let ctl: CtlServer;
  try {
    ctl = await startCtlServer(config.ctlSocket, log.child({ component: 'ctl' }));
  } catch (error) {
    store.close();
    throw error;
  }
  stoppers.push(() => ctl.close());
  const mail = createMailService({ outbox: store.mail, smtp: config.mail, logger: log, ...options.mail });
  stoppers.push(() => mail.close());

  let callSource: () => StatusCall[] = () => [];
  let trunkSource: () => StatusTrunk[] = () => [];
  // The ports as configured; once the SIP stack listens, the ports it really bound (port 0 in tests).
  let sipPorts: StatusResult['sip'] = {
    udp: config.sip.port,
    tcp: config.sip.port,
    tls: config.sip.tlsPort,
    ws: config.sip.wsPort,
    wss: config.sip.wssPort,
  };
  ctl.handle('ping', () => ({ pong: true, pid: process.pid }));
  let recorder: CallRecorder | null = null;
  let recoveredCalls = 0;
  ctl.handle('status', (): StatusResult => {
    const now = Date.now();
    const history = summarizeRun(store, now);
    return {
      pid: process.pid,
      startedAt,
      uptimeSeconds: Math.round((now - startedAt) / 1000),
      bind: config.bind,
      sip: sipPorts,
      registrations: store.registrations
        .all()
        .filter((r) => r.expiresAt > now)
        .map((r) => ({
          aor: r.aor,
          contactUri: r.contactUri,
          transport: r.transport,
          sourceAddress: r.sourceAddress,
          sourcePort: r.sourcePort,
          userAgent: r.userAgent,
          expiresAt: r.expiresAt,
        })),
      calls: callSource(),
      process: history,
      counters: {
        transactionTimeouts: clientFailures.timeouts,
        transportErrors: clientFailures.transportErrors,
        calls: recorder?.counts() ?? {},
        recoveredCalls,
        callObjects: callObjectsInMemory(),
      },
      trunks: trunkSource(),
      memory: memoryBreakdown(),
    };
  });

  // components: the SIP stack, registrar and B2BUA; `sipPorts` then shows the ports really bound.
  let sip: SipService;
  let engine: MediaEngine | null = null;
  let features: PbxApplications | null = null;
  let anchoring: AnchoredMediaFactory | null = null;
  let inCall: InCallService | null = null;
  let fax: FaxService | null = null;
  let voicemail: VoicemailService | null = null;
  // The registrar exists once the SIP service runs; routing asked before then finds no phone.
  let contactsOf: (extension: string) => CalleeContact[] = () => [];
  try {
    engine = await createMediaEngine({
      bind: config.bind,
      portMin: config.rtp.portMin,
      portMax: config.rtp.portMax,
      realtimePriority: config.rtp.realtimePriority,
      ...(config.rtp.relayNice !== null ? { relayNice: config.rtp.relayNice } : {}),
      relayThreads: config.rtp.relayThreads,
      logger: log.child({ layer: 'media' }),
    });
    let applications: ApplicationDirectory;
    let destinations: DestinationRouters = {};
    if (options.applications) {
      applications = options.applications(engine);
    } else {
      features = createApplications({
        engine,
        extensions: store.extensions,
        logger: log,
        defaultLanguage: config.defaultLanguage,
        rooms: store.routing.conferenceRooms,
      });
      // The virtual fax line: numbers mapped to fax:EXT are answered by the fax modem (services/fax/).
      fax = createFaxService({ store, engine, clock: features.clock, logger: log, dataDir: config.dataDir, mail });
      const country = (COUNTRIES as readonly string[]).includes(config.country) ? (config.country as Country) : 'US';
      const boxes = createVoicemail({ store, engine, clock: features.clock, logger: log, dataDir: config.dataDir, country, mail, realm: config.realm });
      voicemail = boxes;
      // Before any call: no half-written message, no orphan file, no row without audio.
      await boxes.start();
      // Ring groups' and receptionists' own numbers, after the feature codes and rooms.
      const office = createOfficeRouting({
        voicemail: boxes,
        fax: fax.router,
        extensions: store.extensions,
        routing: store.routing,
        engine,
        clock: features.clock,
        conference: features.conference,
        logger: log,
        dataDir: config.dataDir,
        country,
      });
      // The users' own feature codes (forwarding, DND, call waiting, caller ID): services/pbx/user-calls/.
      const featureCodes = createFeatureCodes({ store, country: countryCode(config.country), engine, clock: features.clock, logger: log, defaultLanguage: config.defaultLanguage });
      applications = chainDirectories(features, boxes.directory, office.directory, featureCodes);
      boxes.setOperatorRoute((destination, caller) => {
        try {
          const decision = office.route(parseDestination(destination), { caller, contactsOf: (e) => contactsOf(e) });
          return decision.kind === 'ring' ? decision : null;
        } catch {
          return null;
        }
      });
      // Numbers mapped to ring groups, receptionists, rooms and voicemail go through the office's router.
      const officeRouter: DestinationRouter = { route: (destination, ctx) => office.route(destination, { caller: ctx.caller, contactsOf: ctx.contactsOf }) };
      destinations = { 'ring-group': officeRouter, receptionist: officeRouter, conference: officeRouter, voicemail: officeRouter, fax: fax.destination };
    }
    // PBX_MEDIA_ANCHOR=0 is a diagnostic (bench/sip): SDP passed through, no relay legs, so the
    // per-call CPU of signalling alone can be compared with a proxy that does not touch media.
    // Anchored calls share the features' 20 ms media clock (DTMF interworking runs on it).
    const media =
      options.media ??
      (process.env.PBX_MEDIA_ANCHOR === '0'
        ? passthroughMedia
        : (anchoring = anchoredMedia(engine, { logger: log.child({ layer: 'media' }), ...(features && { clock: features.clock }) })));
    const anchored = (): AnchoredMediaFactory | null => anchoring;
    recorder = createCallRecorder(store, log.child({ layer: 'cdr' }), (callId) => {
      const call = anchored()?.find(callId);
      return call && { caller: legQuality(call.caller.stats()), callee: legQuality(call.callee.stats()) };
    });
    const refusal = features === null ? undefined : createRefusals({ engine, clock: features.clock, logger: log.child({ layer: 'routing' }) });
    // Three-way calling mixes on the anchored media, on the features' clock (services/pbx/user-calls/three-way.ts).
    let sipRef: SipService | null = null;
    const anchoredFactory = anchoring as AnchoredMediaFactory | null;
    const threeWay =
      anchoredFactory === null || features === null
        ? undefined
        : createThreeWay({ calls: () => sipRef?.b2bua.answeredCalls() ?? [], media: (callId) => anchoredFactory.find(callId), clock: features.clock, logger: log });
    // `*3` sent as RFC 4733 (most desk phones) as well as SIP INFO.
    if (threeWay !== undefined) anchoredFactory?.onKeyPress((callId, side, key) => threeWay.keyPress(callId, side, key.digit));
    // Hold with music and transfer, on anchored calls (services/pbx/features/in-call/).
    inCall = features === null || anchoring === null ? null : createInCallFeatures({ anchored: anchoring, clock: features.clock, repository: store.moh, dataDir: config.dataDir, country: countryOf(config.country), logger: log });
    sip = await startSipService({
      config,
      store,
      logger: log,
      media: recorder.wrapMedia(media),
      applications,
      events: recorder,
      destinations,
      ...(refusal !== undefined && { refusal }),
      ...(threeWay !== undefined && { infoHooks: threeWay }),
      ...(inCall !== null && { inCall }),
      ...(voicemail !== null && { voicemail }),
      // Landline failover is mailed to the administrators (services/pbx/routing/failover-notice.ts).
      trunks: { onFailover: failoverNotifier({ users: store.users, mail, logger: log.child({ layer: 'failover' }) }) },
    });
    sipRef = sip;
  } catch (error) {
    features?.close();
    engine?.close();
    voicemail?.close();
    await mail.close();
    await ctl.close();
    store.close();
    throw error;
  }
  const mediaEngine = engine;
  stoppers.push(() => mediaEngine.close());
  const registrar = sip.registration.registrar;
  contactsOf = (extension) => registrar.lookup(extension).filter((b) => b.reachable).map(toCalleeContact);
  if (voicemail !== null) {
    const boxes = voicemail;
    stoppers.push(() => boxes.close());
    // Message waiting: every phone hears its box's counts now, then at every change.
    boxes.attachSip({ events: sip.events, registrar }).announceAll();
    ctl.handle('voicemail.changed', (params) => {
      const box = typeof params === 'object' && params !== null ? (params as { box?: unknown }).box : undefined;
      if (typeof box !== 'string' || !/^\d{2,6}$/.test(box)) throw new CtlError('invalid-params', 'box must be an extension number');
      boxes.core.changed(box);
      return { notified: true };
    });
  }
  const ownFeatures = features;
  if (ownFeatures !== null) stoppers.push(() => ownFeatures.close());
  const ownInCall = inCall;
  if (ownInCall !== null) stoppers.push(() => ownInCall.close());
  // Stopped after the SIP service hung up the calls: a fax received until then is stored before the store closes.
  const faxStore = fax;
  if (faxStore !== null) stoppers.push(() => faxStore.drain());
  stoppers.push(() => sip.close());
  const trace = startSipTrace({ stack: sip.stack, ctl, log: log.child({ layer: 'sip-trace' }) });
  stoppers.push(() => trace.close());
  const faxLine = fax;
  if (faxLine !== null) {
    faxLine.startSending((caller, dialled, app, o) => sip.originate(caller, dialled, app, o));
    stoppers.push(() => faxLine.close());
  }
  const trunkManager = sip.trunks;
  trunkSource = () => trunkManager.status();
  const bound = sip.ports();
  sipPorts = { udp: bound.udp ?? 0, tcp: bound.tcp ?? 0, tls: bound.tls ?? 0, ws: bound.ws ?? 0, wss: bound.wss ?? 0 };
  callSource = () =>
    sip.calls().map((call) => {
      const anchored = anchoring?.find(call.callId);
      return {
        id: call.callId,
        from: call.caller,
        to: call.callee,
        state: call.phase,
        startedAt: call.startedAt,
        ...(anchored && { media: { caller: legMedia(anchored.caller.stats()), callee: legMedia(anchored.callee.stats()) } }),
      };
    });

  // First-start state only now that every listener is bound: a start that fails to bind leaves no
  // admin (and no password printed) behind.
  const admin = ensureAdminUser(store);
  if (admin) {
    print(passwordBox(admin.username, admin.password));
    log.info({ user: admin.username }, 'first start: admin user created');
  }

  // Calls a crash left up: BYE to their phones, records closed (ended by restart).
  try {
    const diedAt = run.lastExit?.at ?? Date.now();
    const recovered = endLeftoverCalls(store, { transactions: sip.stack.transactions, addressing: addressing(sip.stack) }, log.child({ layer: 'recovery' }), diedAt);
    recoveredCalls = recovered.calls;
    if (recovered.calls > 0) log.warn({ calls: recovered.calls, byes: recovered.byes }, 'calls left up by the previous run were ended');
  } catch (error) {
    log.error({ err: error instanceof Error ? error.message : String(error) }, 'could not end the calls left by the previous run');
  }

  // The database file must stay the one we opened: deleted or replaced, every write would go to a
  // file nobody else reads. Stop, so the supervisor starts a pbx on the real file.
  let lost = false;
  const fileCheck = setInterval(() => {
    if (lost || store.isSameFile()) return;
    lost = true;
    const reason = `database file ${store.path} was deleted or replaced while the pbx was running`;
    log.error({ db: store.path }, reason);
    if (options.onDatabaseLost) options.onDatabaseLost(reason);
    else void app.stop();
  }, options.fileCheckMs ?? 5000);
  fileCheck.unref();
  // One timer for the database's upkeep: the WAL checkpoint (every checkpointMs) and the run
  // record's heartbeat (every minute, so a vanished run shows when it was last seen).
  const checkpointMs = options.checkpointMs ?? 5 * 60_000;
  let lastCheckpoint = Date.now();
  let lastHeartbeat = Date.now();
  const maintenance = setInterval(() => {
    if (lost) return;
    const now = Date.now();
    try {
      if (now - lastCheckpoint >= checkpointMs) {
        lastCheckpoint = now;
        const result = store.checkpoint();
        log.debug({ ...result }, 'WAL checkpoint');
      }
      if (now - lastHeartbeat >= 60_000) {
        lastHeartbeat = now;
        recordHeartbeat(store, process.pid, now);
      }
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error) }, 'database maintenance failed');
    }
  }, Math.min(checkpointMs, 60_000));
  maintenance.unref();
  stoppers.push(() => {
    clearInterval(fileCheck);
    clearInterval(maintenance);
  });

  print(addressBanner(config, sipPorts));
  log.info({ bind: config.bind, sip: sipPorts, http: config.httpPort, simulation: config.simulation, pid: process.pid }, 'pbx started');

  let stopping: Promise<void> | null = null;
  const app: PbxApp = {
    config,
    store,
    ctl,
    log,
    mail,
    setCallSource(source) {
      callSource = source;
    },
    onStop(step) {
      stoppers.push(step);
    },
    stop() {
      stopping ??= (async () => {
        for (const step of stoppers.reverse()) {
          try {
            await step();
          } catch (error) {
            log.error({ err: error }, 'shutdown step failed');
          }
        }
        log.info('pbx stopped');
      })();
      return stopping;
    },
  };
  return app;
}

function summarizeRun(store: Store, now: number): StatusResult['process'] {
  try {
    const run = summarize(readRunRecord(store), now);
    return { starts: run.starts, startsInWindow: run.startsInWindow, windowSeconds: CRASH_LOOP_WINDOW_MS / 1000, crashLoop: run.crashLoop, lastExit: run.lastExit };
  } catch {
    return undefined;
  }
}

function legQuality(stats: LegStats): { packetsIn: number; packetsOut: number; lost: number; jitterMs: number } {
  return { packetsIn: stats.packetsIn, packetsOut: stats.packetsOut, lost: stats.lost, jitterMs: Math.round(stats.jitterMs * 10) / 10 };
}

/**
 * On an empty users table, creates `admin` with a random password and returns it: the only time it
 * exists in clear. Safe against two processes starting at once (one transaction).
 */
export function ensureAdminUser(store: Store): { username: string; password: string } | null {
  return store.transaction(() => {
    if (store.users.list().length > 0) return null;
    const password = randomPassword();
    store.users.add({ username: 'admin', displayName: 'Administrator', role: 'admin', password, mustChangePassword: true });
    return { username: 'admin', password };
  });
}

function legMedia(stats: LegStats): StatusLegMedia {
  return {
    packetsIn: stats.packetsIn,
    packetsOut: stats.packetsOut,
    lost: stats.lost,
    jitterMs: Math.round(stats.jitterMs * 10) / 10,
    remote: stats.remote === null ? null : `${stats.remote.ip}:${stats.remote.port}`,
  };
}

function box(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const edge = '+' + '-'.repeat(width + 2) + '+';
  return [edge, ...lines.map((l) => `| ${l.padEnd(width)} |`), edge].join('\n') + '\n';
}

export function passwordBox(username: string, password: string): string {
  return box([
    'FIRST START: web UI administrator created',
    '',
    `  user:     ${username}`,
    `  password: ${password}`,
    '',
    'Write it down now: it is shown only this once',
    '(stored only as a hash).',
  ]);
}

export function addressBanner(config: RuntimeConfig, sip: StatusResult['sip']): string {
  const host = config.bind.includes(':') ? `[${config.bind}]` : config.bind;
  return box([
    `PBX ${config.simulation ? '(simulation mode) ' : ''}listening on ${config.bind}`,
    `  SIP udp      sip:${host}:${sip.udp}`,
    `  SIP tcp      sip:${host}:${sip.tcp};transport=tcp`,
    `  SIP tls      sips:${host}:${sip.tls}`,
    `  SIP ws/wss   ws://${host}:${sip.ws}  wss://${host}:${sip.wss}`,
    `  web UI       https://${host}:${config.httpPort}/  (log in as admin)`,
    `  data dir     ${config.dataDir}`,
    `  control      pbxctl --data-dir ${config.dataDir} status`,
  ]);
}

function countryOf(code: string): Country {
  return (COUNTRIES as readonly string[]).includes(code) ? (code as Country) : 'US';
}
