/**
 * Sending faxes: the queue in SQLite (`faxes` rows with status `queued`, written by `pbxctl fax send`
 * or the web UI) is read every `pollMs`; each fax is one call placed by the PBX as its user (the dial
 * plan applies: outside numbers, the international permission, the caller ID, the trunk), with
 * spandsp's T.30 caller on the G.711 stream. A far end that re-INVITEs to T.38 gets it. One fax at a
 * time (a small office's fax line is one line; the queue keeps the order).
 *
 * After the call: `sent` with the pages the far end confirmed, or the attempt failed: busy, no
 * answer, network or T.30 failure are tried again after `retryMs` while attempts remain; a refusal
 * by the dial plan (403 not permitted, 404/484 no such number) is final at once.
 */
import type { Logger } from '../log.js';
import type { MediaEngine, MediaSession } from '../media/engine.js';
import { parseSdp } from '../media/sdp/parse.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import type { OriginateOutcome, OriginatingApplication } from '../sip/b2bua/originated-call.js';
import type { Caller } from '../sip/b2bua/types.js';
import type { FaxOutcome, FaxRecord, FaxRepository } from '../store/fax-schema.js';
import type { ExtensionRepository, NumberRepository } from '../store/types.js';
import { resolveStored } from './documents.js';
import { FaxLine } from './fax-line.js';
import type { FaxStatus } from './native/modem.js';
import { faxIdent } from './receiver.js';
import { answerParams, buildT38Sdp, describeT38, nextOrigin } from './t38-sdp.js';

export interface FaxSenderDeps {
  faxes: FaxRepository;
  extensions: Pick<ExtensionRepository, 'get'>;
  numbers: Pick<NumberRepository, 'list'>;
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  dataDir: string;
  originate(caller: Caller, dialled: string, app: OriginatingApplication, options?: { callerId?: string }): Promise<OriginateOutcome>;
  /** How often the queue is read (default 2 s). */
  pollMs?: number;
  /** Wait before another attempt of a failed fax (default 5 min). */
  retryMs?: number;
  /** Accept the far end's T.38 re-INVITE (default true); a function is asked at each fax. */
  t38?: boolean | (() => boolean);
  /** After T.30 phase E we hang up after this long (DCN sent; default 500 ms). */
  hangUpAfterMs?: number;
}

export interface FaxSender {
  /** Reads the queue now (pbxctl enqueued something). */
  kick(): void;
  close(): Promise<void>;
}

/** Statuses that no later attempt can change: the number is refused or does not exist. */
const FINAL_STATUSES = new Set([400, 403, 404, 410, 484, 485, 488, 603, 604]);

export function startFaxSender(deps: FaxSenderDeps): FaxSender {
  const log = deps.logger.child({ layer: 'fax-sender' });
  let busy: Promise<void> | null = null;
  let closed = false;
  const requeued = deps.faxes.requeueInterrupted(Date.now());
  if (requeued > 0) log.warn({ faxes: requeued }, 'faxes interrupted by a restart were queued again');

  const tick = (): void => {
    if (closed || busy !== null) return;
    let record: FaxRecord | null;
    try {
      record = deps.faxes.claimNext(Date.now());
    } catch (error) {
      log.warn({ err: String(error) }, 'fax queue could not be read');
      return;
    }
    if (record === null) return;
    const job = record;
    busy = sendOne(deps, job, log)
      .catch((error: unknown) => {
        log.error({ err: String(error), id: job.id }, 'fax sending failed');
        deps.faxes.finish(job.id, { status: 'failed', pages: 0, remoteIdent: null, transport: null, error: String(error), callId: null }, null);
      })
      .finally(() => {
        busy = null;
        if (!closed) setImmediate(tick);
      });
  };
  const timer = setInterval(tick, deps.pollMs ?? 2000);
  timer.unref();
  setImmediate(tick);

  return {
    kick: () => setImmediate(tick),
    async close() {
      closed = true;
      clearInterval(timer);
      // A call in progress ends with the pbx (BYE on shutdown); its row is queued again at the next start.
    },
  };
}

async function sendOne(deps: FaxSenderDeps, job: FaxRecord, parent: Logger): Promise<void> {
  const log = parent.child({ faxId: job.id, extension: job.extension, number: job.remoteNumber, attempt: job.attempts });
  const finish = (outcome: FaxOutcome, retry: boolean): void => {
    const retryAt = retry ? Date.now() + (deps.retryMs ?? 5 * 60_000) : null;
    const record = deps.faxes.finish(job.id, outcome, retryAt);
    log.info({ status: record?.status, pages: outcome.pages, error: outcome.error, transport: outcome.transport, next: record?.nextAttemptAt ?? null }, 'fax attempt over');
  };
  const extension = deps.extensions.get(job.extension);
  if (extension === null) {
    finish({ status: 'failed', pages: 0, remoteIdent: null, transport: null, error: `extension ${job.extension} no longer exists`, callId: null }, false);
    return;
  }
  if (job.image === null) {
    finish({ status: 'failed', pages: 0, remoteIdent: null, transport: null, error: 'no image to send', callId: null }, false);
    return;
  }
  // Our TSI: the user's fax number (the number mapped to fax:EXT), as receivers print it on each page.
  const faxNumber = deps.numbers.list().find((n) => n.destination.kind === 'fax' && n.destination.extension === job.extension)?.number ?? null;
  const caller: Caller = { extension: extension.number, displayName: extension.displayName };
  const app = createSendingApplication(deps, { file: resolveStored(deps.dataDir, job.image), ident: faxIdent(faxNumber, job.extension), jobId: job.id, attempt: job.attempts }, log);
  log.info('sending fax');
  const placed = await deps.originate(caller, job.remoteNumber, app.application, faxNumber === null ? {} : { callerId: faxNumber });
  if (placed.kind === 'failed') {
    app.dispose();
    const final = FINAL_STATUSES.has(placed.status);
    finish({ status: 'failed', pages: 0, remoteIdent: null, transport: null, error: `call failed: ${placed.status} ${placed.reason}`, callId: null }, !final);
    return;
  }
  const result = await app.finished;
  const status = result.status;
  const pages = status?.pagesTx ?? 0;
  const ok = status !== null && status.result === 0 && pages > 0;
  finish(
    {
      status: ok ? 'sent' : 'failed',
      pages,
      remoteIdent: status?.remoteIdent.trim() || null,
      transport: result.transport,
      error: ok ? null : status === null ? 'no fax session' : status.done ? status.resultText : 'call ended before the fax was complete',
      callId: null,
    },
    !ok,
  );
}

interface SendingApp {
  application: OriginatingApplication;
  finished: Promise<{ status: FaxStatus | null; transport: 'audio' | 't38' | null }>;
  /** The call was never placed: free the media. */
  dispose(): void;
}

function createSendingApplication(deps: FaxSenderDeps, job: { file: string; ident: string; jobId: number; attempt: number }, log: Logger): SendingApp {
  const t38 = typeof deps.t38 === 'function' ? deps.t38() : deps.t38 !== false;
  const session: MediaSession = deps.engine.createSession({ callId: `fax-out:${job.jobId}:${job.attempt}:${Date.now()}` });
  let line: FaxLine;
  try {
    const leg = session.createLeg('fax');
    line = new FaxLine({ clock: deps.clock, logger: log }, leg, { direction: 'send', file: job.file, ident: job.ident, callingParty: true });
  } catch (error) {
    session.close();
    throw error;
  }
  const leg = session.legs[0];
  if (leg === undefined) throw new Error('fax leg vanished');
  let lastSdp: string | null = null;
  let resolveFinished: (r: { status: FaxStatus | null; transport: 'audio' | 't38' | null }) => void = () => undefined;
  const finished = new Promise<{ status: FaxStatus | null; transport: 'audio' | 't38' | null }>((resolve) => {
    resolveFinished = resolve;
  });
  let disposed = false;
  let hangUpTimer: NodeJS.Timeout | null = null;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    if (hangUpTimer !== null) clearTimeout(hangUpTimer);
    const transport = line.transport;
    const status = line.close();
    session.close();
    resolveFinished({ status, transport });
  };
  const localAddress = (): string => {
    if (lastSdp === null) return '127.0.0.1';
    const sdp = parseSdp(lastSdp);
    return sdp.connection?.address ?? sdp.media[0]?.connection?.address ?? '127.0.0.1';
  };

  const application: OriginatingApplication = {
    offer() {
      lastSdp = leg.createOffer('sendrecv');
      return Buffer.from(lastSdp);
    },
    accept(answer) {
      leg.acceptAnswer(answer.toString('utf8'));
    },
    answer(offer) {
      const text = offer.toString('utf8');
      let remote = null;
      try {
        remote = describeT38(parseSdp(text));
      } catch {
        remote = null;
      }
      if (remote !== null) {
        const port = line.udptlPort;
        if (port === null || !line.canSwitch || !t38) throw new Error('T.38 not possible now');
        const sdp = buildT38Sdp({ origin: nextOrigin(lastSdp), address: localAddress(), port, params: answerParams(remote.params) });
        lastSdp = sdp;
        line.startT38(remote);
        return Buffer.from(sdp);
      }
      if (line.transport === 't38' && !line.closed) throw new Error('audio offer during a T.38 fax');
      lastSdp = leg.answerOffer(text);
      return Buffer.from(lastSdp);
    },
    start(hangUp) {
      if (disposed) return;
      line.startAudio();
      // Ready for the far end's T.38 re-INVITE (its gateway switches when it hears our CNG or its CED).
      line.bindUdptl(localAddress()).catch((error: unknown) => log.warn({ err: String(error) }, 'UDPTL socket could not be bound: G.711 only'));
      line.onDone((status) => {
        log.info({ result: status.resultText, pages: status.pagesTx, remoteIdent: status.remoteIdent }, 'T.30 phase E');
        hangUpTimer = setTimeout(() => hangUp('fax sent'), deps.hangUpAfterMs ?? 500);
      });
    },
    stop() {
      dispose();
    },
  };
  return { application, finished, dispose };
}
