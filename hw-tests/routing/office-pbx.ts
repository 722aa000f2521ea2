/**
 * The PBX as the office routing tests need it: what hw-tests/media/harness.ts starts (real store,
 * SIP service on free loopback ports, media engine, applications), plus the ring groups' and
 * receptionists' directory wired as app.ts wires it, with the receptionists' clock injected.
 */
import { createLogger } from '../../services/log.js';
import type { MediaEngine } from '../../services/media/engine.js';
import { anchoredMedia } from '../../services/pbx/anchored-media.js';
import { chainDirectories } from '../../services/pbx/dialplan.js';
import { createApplications, type PbxApplications } from '../../services/pbx/features/applications.js';
import { createInCallFeatures, type InCallService } from '../../services/pbx/features/in-call/index.js';
import { createOfficeRouting, type OfficeRouting } from '../../services/pbx/routing/office.js';
import { startSipService, type SipService } from '../../services/pbx/sip-service.js';
import { createCallRecorder } from '../../services/pbx/call-records.js';
import type { Language, Store } from '../../services/store/types.js';
import { startPbxBase } from '../support/pbx-base.js';
import type { PhoneOptions, SipPhone } from '../support/sip-phone.js';

export interface OfficePbx {
  dir: string;
  store: Store;
  engine: MediaEngine;
  sip: SipService;
  applications: PbxApplications;
  office: OfficeRouting;
  /** hold with music, transfer (services/pbx/features/in-call/) */
  inCall: InCallService;
  /** the receptionists' clock: set it to choose business or after-hours */
  clock: { now: Date };
  phone(user: string, options?: Partial<PhoneOptions>): Promise<SipPhone>;
  close(): Promise<void>;
}

export interface OfficeExtension {
  number: string;
  language?: Language;
}

export const secretOf = (number: string): string => `office-secret-${number}`;

export async function startOfficePbx(extensions: OfficeExtension[]): Promise<OfficePbx> {
  const { dir, config, store, engine, logger, phones } = await startPbxBase({
    prefix: 'office-routing-',
    extensions: extensions.map((e) => ({ ...e, secret: secretOf(e.number) })),
    ...(process.env.OFFICE_LOG && { logger: createLogger('test') }),
  });
  const applications = createApplications({ engine, extensions: store.extensions, logger, rooms: store.routing.conferenceRooms });
  const clock = { now: new Date() };
  const office = createOfficeRouting({
    extensions: store.extensions,
    routing: store.routing,
    engine,
    clock: applications.clock,
    conference: applications.conference,
    logger,
    dataDir: dir,
    country: 'US',
    now: () => clock.now,
  });
  const media = anchoredMedia(engine, { clock: applications.clock, logger });
  const inCall = createInCallFeatures({ anchored: media, clock: applications.clock, repository: store.moh, dataDir: dir, country: 'US', logger, transferorByeMs: 1000 });
  const sip = await startSipService({
    config,
    store,
    logger,
    inCall,
    media,
    applications: chainDirectories(applications, office.directory),
    keepaliveSeconds: false,
    // Call records as the pbx process keeps them (services/pbx/app.ts), so tests can read them.
    events: createCallRecorder(store, logger),
  });
  const started = phones({ address: '127.0.0.1', port: sip.ports().udp ?? 0 }, async () => {
    await sip.close();
    inCall.close();
    applications.close();
  });
  return { dir, store, engine, sip, applications, office, inCall, clock, phone: started.phone, close: started.close };
}
