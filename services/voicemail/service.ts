/**
 * Voicemail in the pbx process: the boxes (core), the two applications (leaving a message, the
 * mailbox on *97/*98), message waiting, the start-up sweep and the retention timer.
 *
 * Where calls come from:
 *   - the dial plan: an extension with no phone registered, or whose phones were busy or did not
 *     answer, falls back to its box (`fallbackFor`), after call forwarding had its say;
 *   - a destination `voicemail:101` (receptionist key, ring group's no-answer, a number): `route`;
 *   - `*97` / `*98`: `directory`.
 */
import type { Logger } from '../log.js';
import type { MailService } from '../mail/outbox.js';
import type { MediaEngine } from '../media/engine.js';
import type { Country } from '../media/tones/table.js';
import type { Caller, RingDecision, RouteDecision } from '../sip/b2bua/types.js';
import type { EventServer } from '../sip/events/server.js';
import type { Registrar } from '../sip/registrar/index.js';
import type { Store } from '../store/index.js';
import type { VoicemailReason } from '../store/voicemail.js';
import type { ApplicationDirectory } from '../pbx/dialplan.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import { VoicemailCore } from './core.js';
import { createLeaveMessage, leaveOnLeg, type LeaveHandle } from './leave.js';
import type { AppLeg } from '../pbx/features/app-leg.js';
import type { ApplicationControl } from '../sip/b2bua/types.js';
import { createMailbox, PinGuard } from './mailbox.js';
import { createMwi, mwiPackage, type Mwi } from './mwi.js';
import { VoicemailStorage, type SweepResult } from './storage.js';

export const OWN_BOX_CODE = '*97';
export const ANY_BOX_CODE = '*98';

export interface VoicemailServiceDeps {
  store: Store;
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  dataDir: string;
  country: Country;
  mail?: MailService;
  realm: string;
}

export interface VoicemailService {
  readonly core: VoicemailCore;
  readonly storage: VoicemailStorage;
  /** `*97`, `*98`. */
  readonly directory: ApplicationDirectory;
  /** The box of `extension` answering now, or null (no such extension, box disabled). */
  leave(extension: string, reason: VoicemailReason): RouteDecision | null;
  /** A caller the receptionist answered leaves a message (the receptionist lends its leg). */
  leaveOnLeg(extension: string, callId: string, caller: Caller, leg: AppLeg, hangUp: (reason: string) => void, control: ApplicationControl | null): LeaveHandle;
  /** For a ring decision: where an unanswered, busy or unreachable call goes (null: no box). */
  fallbackFor(extension: string): ((failure?: { status: number }) => RouteDecision) | null;
  /** How `0` (operator) rings: set by the office routing once it exists. */
  setOperatorRoute(ring: (destination: string, caller: Caller) => RingDecision | null): void;
  /** Message waiting over the SIP layer's event server (once it is up). */
  attachSip(sip: { events: EventServer; registrar: Registrar }): Mwi;
  /** Sweep (orphans, partials, retention); resolves before calls are taken. */
  start(): Promise<SweepResult>;
  close(): void;
}

export function createVoicemail(deps: VoicemailServiceDeps): VoicemailService {
  const log = deps.logger.child({ layer: 'voicemail' });
  const storage = new VoicemailStorage(deps.dataDir, deps.store.voicemail, log);
  const core = new VoicemailCore({ store: deps.store, storage, engine: deps.engine, clock: deps.clock, logger: deps.logger, ...(deps.mail !== undefined && { mail: deps.mail }) });
  const pinGuard = new PinGuard();
  let ringOperator: (destination: string, caller: Caller) => RingDecision | null = () => null;
  let retention: NodeJS.Timeout | null = null;

  const leaveDeps = { core, country: deps.country, ringOperator: (d: string, c: Caller) => ringOperator(d, c) };
  const leave = (extension: string, reason: VoicemailReason): RouteDecision | null => {
    if (!core.hasBox(extension)) return null;
    return {
      kind: 'application',
      name: `voicemail-${extension}`,
      create: (callId, caller) => createLeaveMessage(leaveDeps, extension, reason, callId, caller),
    };
  };

  return {
    core,
    storage,
    directory: {
      resolve(dialled, caller) {
        if (dialled !== OWN_BOX_CODE && dialled !== ANY_BOX_CODE) return null;
        // A carrier's caller has no box of its own; *98 from outside comes through a number mapped to it.
        if (caller.trunk !== undefined && dialled === OWN_BOX_CODE) return { kind: 'reject', status: 404, reason: 'Not Found' };
        if (dialled === OWN_BOX_CODE && !core.hasBox(caller.extension)) return { kind: 'reject', status: 404, reason: 'No Mailbox' };
        const mode = dialled === OWN_BOX_CODE ? ({ kind: 'own' } as const) : ({ kind: 'any' } as const);
        return { kind: 'application', name: `mailbox${dialled}`, create: (callId, c) => createMailbox({ core, pinGuard }, mode, callId, c) };
      },
    },
    leave,
    leaveOnLeg: (extension, callId, caller, leg, hangUp, control) => leaveOnLeg(leaveDeps, extension, callId, caller, leg, hangUp, control),
    fallbackFor(extension) {
      if (!core.hasBox(extension)) return null;
      return (failure) => leave(extension, failure?.status === 486 || failure?.status === 600 || failure?.status === 603 ? 'busy' : 'unavailable') ?? { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    },
    setOperatorRoute(ring) {
      ringOperator = ring;
    },
    attachSip(sip) {
      sip.events.register(mwiPackage({ counts: (e) => (deps.store.extensions.get(e) === null ? null : core.counts(e)), realm: deps.realm }));
      const mwi = createMwi({
        events: sip.events,
        bindingsOf: (e) => sip.registrar.lookup(e),
        registeredExtensions: () => [...new Set(sip.registrar.location.all().map((b) => b.aor))],
        logger: log,
      });
      core.onChange((e) => mwi.changed(e));
      sip.registrar.on('contact-added', (b) => mwi.registered(b));
      sip.registrar.on('contact-refreshed', (b) => mwi.registered(b));
      return mwi;
    },
    async start() {
      const s = core.settings();
      const result = await storage.sweep(s.retentionDays);
      log.info({ ...result }, 'voicemail storage checked');
      // Mail of delete-after-email boxes that went out while the pbx was down or dying.
      core.deleteDelivered(deps.store.mail.list({ status: 'sent', limit: 1000 }).flatMap((m) => (m.tag === null ? [] : [m.tag])));
      retention = setInterval(() => {
        storage.expire(core.settings().retentionDays).then(
          (gone) => new Set(gone.map((m) => m.box)).forEach((b) => core.changed(b)),
          (error: unknown) => log.error({ err: String(error) }, 'retention sweep failed'),
        );
      }, 3_600_000);
      retention.unref();
      return result;
    },
    close() {
      if (retention !== null) clearInterval(retention);
    },
  };
}
