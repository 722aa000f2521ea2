/**
 * The virtual fax line as the pbx process wires it: the `fax:EXT` destination (receiving) and the
 * queue sender (sending), sharing the media engine and clock of the other applications. Temp
 * files a stopped process left are swept at start, faxes it left `sending` are queued again.
 */
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/engine.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import type { DestinationRouter } from '../pbx/routing/destination-router.js';
import type { OriginateOutcome, OriginatingApplication } from '../sip/b2bua/originated-call.js';
import type { Caller } from '../sip/b2bua/types.js';
import type { MailOutboxRepository } from '../store/mail-outbox.js';
import type { Store } from '../store/types.js';
import { FAX_T38_SETTING } from '../store/fax-schema.js';
import { sweepTmp } from './documents.js';
import { createFaxRouter, type FaxRouter } from './router.js';
import { startFaxSender, type FaxSender } from './sender.js';

export interface FaxServiceDeps {
  store: Pick<Store, 'faxes' | 'extensions' | 'numbers' | 'voicemail' | 'settings'>;
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  dataDir: string;
  mail?: Pick<MailOutboxRepository, 'enqueue'>;
  /** T.38 offered when receiving and accepted when sending; default: the `fax.t38` setting (on unless `pbxctl fax t38 off`) */
  t38?: boolean;
  /** queue polling and retry timing (tests shorten them) */
  pollMs?: number;
  retryMs?: number;
}

export interface FaxService {
  readonly router: FaxRouter;
  /** `fax:EXT` for the number map's destination router */
  readonly destination: DestinationRouter;
  /** Starts the sender once the SIP service can place calls. */
  /** Waits (at most 15 s) for received faxes still being converted and stored: after the calls ended, before the store closes. */
  drain(): Promise<void>;
  startSending(originate: (caller: Caller, dialled: string, app: OriginatingApplication, options?: { callerId?: string }) => Promise<OriginateOutcome>): void;
  close(): Promise<void>;
}

export function createFaxService(deps: FaxServiceDeps): FaxService {
  const log = deps.logger.child({ layer: 'fax' });
  const t38 = (): boolean => deps.t38 ?? deps.store.settings.get<boolean>(FAX_T38_SETTING, true) !== false;
  const swept = sweepTmp(deps.dataDir);
  if (swept > 0) log.warn({ files: swept }, 'fax temp files left by a stopped process were removed');
  const storing = new Set<Promise<void>>();
  const router = createFaxRouter({
    track: (p) => {
      storing.add(p);
      void p.finally(() => storing.delete(p));
    },
    engine: deps.engine,
    clock: deps.clock,
    logger: deps.logger,
    dataDir: deps.dataDir,
    faxes: deps.store.faxes,
    extensions: deps.store.extensions,
    ...(deps.mail !== undefined && { mail: deps.mail }),
    emailOf: (extension) => deps.store.voicemail.emailOf(extension),
    t38,
  });
  let sender: FaxSender | null = null;
  return {
    router,
    destination: { route: (destination, ctx) => router.route(destination, { caller: ctx.caller, calledNumber: ctx.calledNumber }) },
    startSending(originate) {
      sender ??= startFaxSender({
        faxes: deps.store.faxes,
        extensions: deps.store.extensions,
        numbers: deps.store.numbers,
        engine: deps.engine,
        clock: deps.clock,
        logger: deps.logger,
        dataDir: deps.dataDir,
        originate,
        ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
        ...(deps.retryMs !== undefined && { retryMs: deps.retryMs }),
        t38,
      });
    },
    async drain() {
      if (storing.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...storing]), new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))]);
      clearTimeout(timer);
    },
    async close() {
      await sender?.close();
    },
  };
}
