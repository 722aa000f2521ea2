/**
 * Receiving on a user's fax number (`fax:EXT`): the PBX answers with G.711, runs spandsp's T.30
 * answerer on the audio at once (CED, then V.21 …) and, unless T.38 is off, re-INVITEs the caller
 * to `image/t38` (T.38 Annex D); a 2xx moves the modem to UDPTL, a refusal (488/415 …) leaves it on
 * G.711 — the audio modem never stopped. A caller's own T.38 re-INVITE is accepted the same way.
 *
 * When the call ends (phase E, or the sender hangs up), the pages become a PDF next to SQLite,
 * the `faxes` row is written, and the PDF is mailed to the user through the outbox with the
 * sender's fax ID (TSI) and the page count.
 */
import fs from 'node:fs';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/engine.js';
import { parseSdp } from '../media/sdp/parse.js';
import { AppLeg } from '../pbx/features/app-leg.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import type { ApplicationControl, Caller, LocalApplication } from '../sip/b2bua/types.js';
import type { FaxRecord, FaxRepository } from '../store/fax-schema.js';
import type { MailOutboxRepository } from '../store/mail-outbox.js';
import { commitFile, resolveStored, tiffToPdf, tmpPath } from './documents.js';
import { FaxLine } from './fax-line.js';
import type { FaxStatus } from './native/modem.js';
import { buildT38Sdp, describeT38, nextOrigin, OUR_T38, answerParams } from './t38-sdp.js';

export interface FaxReceiverDeps {
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  dataDir: string;
  faxes: FaxRepository;
  /** The outbox's enqueue (app.mail.enqueue, or the store's); absent: the fax is stored, not mailed. */
  mail?: Pick<MailOutboxRepository, 'enqueue'>;
  /** Where a user's faxes are mailed (the voicemail box's email, else the user's). */
  emailOf?: (extension: string) => string | null;
  /** Offer T.38 to the caller (default true); a function is asked at each call (the `fax.t38` setting). */
  t38?: boolean | (() => boolean);
  /** After T.30 phase E the sender normally hangs up; we do after this long (default 2 s). */
  hangUpAfterMs?: number;
  /** A finished fax (stored, mailed): tests and the log. */
  onStored?: (record: FaxRecord) => void;
  /** Told of each fax being stored after its call ended, so a shutdown can wait for it. */
  track?: (storing: Promise<void>) => void;
}

export interface FaxCall {
  extension: string;
  /** the number the carrier called (our CSI), E.164; null inside the office */
  calledNumber: string | null;
}

/** Our CSI/TSI: the fax number in international form, as T.30 §5.3.6.2.4 asks (digits, + and space). */
export function faxIdent(number: string | null, extension: string): string {
  return (number ?? extension).replace(/[^0-9+ ]/g, '').slice(0, 20);
}

export function createFaxReceiver(deps: FaxReceiverDeps, call: FaxCall, callId: string, caller: Caller): LocalApplication {
  const log = deps.logger.child({ callId, extension: call.extension, application: 'fax', caller: caller.extension });
  const t38 = typeof deps.t38 === 'function' ? deps.t38() : deps.t38 !== false;
  const leg = new AppLeg(deps.engine, callId);
  const tiff = tmpPath(deps.dataDir, 'tif');
  const line = new FaxLine({ clock: deps.clock, logger: log }, leg.leg, { direction: 'receive', file: tiff, ident: faxIdent(call.calledNumber, call.extension), callingParty: false });
  /** the last SDP we sent: our media address and the o= line a new SDP continues */
  let lastSdp: string | null = null;
  let stopped = false;
  let finalized = false;
  let hangUpTimer: NodeJS.Timeout | null = null;

  const localAddress = (): string => {
    if (lastSdp === null) return '127.0.0.1';
    const sdp = parseSdp(lastSdp);
    return sdp.connection?.address ?? sdp.media[0]?.connection?.address ?? '127.0.0.1';
  };

  const finalize = async (): Promise<void> => {
    if (finalized) return;
    finalized = true;
    if (hangUpTimer !== null) clearTimeout(hangUpTimer);
    const status: FaxStatus | null = line.close();
    const transport = line.transport ?? 'audio';
    leg.close();
    const pages = status?.pagesRx ?? 0;
    const remoteIdent = status?.remoteIdent.trim() || null;
    const error = status === null ? 'no fax session' : status.result === 0 ? null : status.resultText || `T.30 result ${status.result}`;
    let document: string | null = null;
    try {
      if (pages > 0) {
        const pdf = tmpPath(deps.dataDir, 'pdf');
        try {
          await tiffToPdf(tiff, pdf);
          document = commitFile(deps.dataDir, pdf, call.extension);
        } finally {
          fs.rmSync(pdf, { force: true });
        }
      }
    } catch (e) {
      log.error({ err: String(e) }, 'received pages could not be converted to PDF');
    } finally {
      fs.rmSync(tiff, { force: true });
    }
    let record: FaxRecord;
    try {
      record = deps.faxes.recordInbound({
        extension: call.extension,
        status: document !== null ? 'received' : 'failed',
        remoteNumber: caller.extension,
        remoteIdent,
        pages: document !== null ? pages : 0,
        document,
        transport,
        error: document !== null ? error : (error ?? 'no page received'),
        callId,
      });
    } catch (e) {
      log.error({ err: String(e) }, 'fax could not be recorded');
      return;
    }
    log.info({ id: record.id, status: record.status, pages: record.pages, remoteIdent, transport, error: record.error, ...line.counters }, 'fax received');
    if (record.document !== null) mailFax(record);
    deps.onStored?.(deps.faxes.get(record.id) ?? record);
  };

  const mailFax = (record: FaxRecord): void => {
    const to = deps.emailOf?.(call.extension) ?? null;
    if (deps.mail === undefined || to === null || record.document === null) {
      log.info({ id: record.id }, 'fax not mailed: the user has no email address');
      return;
    }
    try {
      const from = record.remoteIdent ?? record.remoteNumber;
      const content = fs.readFileSync(resolveStored(deps.dataDir, record.document));
      const mail = deps.mail.enqueue({
        to,
        subject: `Fax from ${from} (${record.pages} ${record.pages === 1 ? 'page' : 'pages'})`,
        text: [
          `You received a fax on your fax line.`,
          ``,
          `From (fax ID): ${record.remoteIdent ?? 'not given'}`,
          `Caller number: ${record.remoteNumber}`,
          `Pages: ${record.pages}`,
          `Received: ${record.createdAt}`,
          ...(record.error !== null ? [`Note: the transmission ended with "${record.error}"; the pages above were received.`] : []),
          ``,
          `The fax is attached as a PDF.`,
        ].join('\n'),
        attachments: [{ filename: `fax-${record.id}.pdf`, contentType: 'application/pdf', content }],
        tag: `fax:${record.id}`,
      });
      deps.faxes.setMail(record.id, mail.id);
      log.info({ id: record.id, mailId: mail.id, to }, 'fax queued for email');
    } catch (e) {
      log.error({ err: String(e), id: record.id }, 'fax could not be queued for email');
    }
  };

  const offerT38 = async (control: ApplicationControl | undefined): Promise<void> => {
    const port = await line.bindUdptl(localAddress());
    if (!t38 || control?.reinvite === undefined || stopped || !line.canSwitch) return;
    const offer = buildT38Sdp({ origin: nextOrigin(lastSdp), address: localAddress(), port, params: OUR_T38 });
    const outcome = await control.reinvite(Buffer.from(offer));
    if (stopped) return;
    const remote = outcome.answer === null ? null : safeT38(outcome.answer.toString('utf8'));
    if (outcome.status >= 200 && outcome.status < 300 && remote !== null) {
      lastSdp = offer;
      line.startT38(remote);
      return;
    }
    // RFC 3261 §14.1: a refused re-INVITE leaves the session as it was: T.30 carries on over G.711.
    log.info({ status: outcome.status }, 'T.38 refused by the caller: the fax stays on G.711');
  };

  return {
    answer(offer) {
      const text = offer.toString('utf8');
      const remote = safeT38(text);
      if (remote !== null) {
        // The caller's own switch to T.38 (its gateway detected our CED/V.21).
        const port = line.udptlPort;
        if (port === null || !line.canSwitch || !t38) throw new Error('T.38 not possible now');
        const params = answerParams(remote.params);
        const answer = buildT38Sdp({ origin: nextOrigin(lastSdp), address: localAddress(), port, params });
        lastSdp = answer;
        line.startT38(remote);
        return Buffer.from(answer);
      }
      if (line.transport === 't38' && !line.closed) throw new Error('audio offer during a T.38 fax');
      const answer = leg.answer(offer);
      lastSdp = answer.toString('utf8');
      return answer;
    },
    start(hangUp, control) {
      if (stopped) return;
      line.startAudio();
      line.onDone((status) => {
        log.info({ result: status.resultText, pages: status.pagesRx, remoteIdent: status.remoteIdent }, 'T.30 phase E');
        // The sender hangs up after DCN; if it does not, we do.
        hangUpTimer = setTimeout(() => hangUp('fax complete'), deps.hangUpAfterMs ?? 2000);
      });
      offerT38(control).catch((e: unknown) => log.warn({ err: String(e) }, 'T.38 offer failed: the fax stays on G.711'));
      log.info({ t38 }, 'fax line answered');
    },
    stop() {
      if (stopped) return;
      stopped = true;
      const storing = finalize().catch((e: unknown) => log.error({ err: String(e) }, 'fax could not be stored'));
      deps.track?.(storing);
    },
  };
}

function safeT38(text: string): ReturnType<typeof describeT38> {
  try {
    return describeT38(parseSdp(text));
  } catch {
    return null;
  }
}
