/**
 * A G3 fax machine (ITU-T T.30) on an FXS port of the virtual board. Its modem is spandsp's T.30
 * terminal over audio (services/fax/native, the addon the pbx's fax line uses), fed with the port's
 * 20 ms µ-law frames both ways, as a real machine's modem sits on its line.
 *
 *  - Sending (`send(file, number)`): PDF → TIFF-F (ghostscript, as the pbx does), off-hook, dial tone
 *    (or 4 s, then blind dialling, as machines do), DTMF digits, then the T.30 caller (CNG, wait
 *    for CED/DIS, pages). After phase E it hangs up.
 *  - Receiving: after `answerAfterRings` rings it goes off-hook and runs the T.30 answerer (CED,
 *    DIS …); the pages are written as TIFF-F in its folder and listed in its status.
 *  - Lifted by hand (`pbxctl sim fxs N offhook`) with no document: CNG only (1100 Hz, 0.5 s on /
 *    3 s off), the start button pressed with an empty tray.
 *
 * State machine (T.30 §5: phases A-E run inside spandsp; the line states are ours):
 *   idle → preparing → dialing → session → hanging-up → idle;  idle → (rings) → session (answer).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pdfToTiff } from '../../services/fax/documents.js';
import { FaxModem, type FaxStatus } from '../../services/fax/native/modem.js';
import { FRAME_SAMPLES, muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { sines } from '../../services/media/dsp/synth.js';
import type { Country } from '../../services/media/tones/table.js';
import { FxsDevice, SimError } from './devices.js';

const run = promisify(execFile);
const FRAME_MS = 20;
/** Dial tone not heard within this long: dial anyway (a fax machine's blind dialling). */
const DIAL_TONE_WAIT_MS = 4000;
/** A fax session that has not reached phase E by then is ended (T.30's own timers end most sooner). */
const SESSION_LIMIT_MS = 10 * 60_000;
/** After phase E (DCN sent or received) the machine goes on-hook. */
const HANG_UP_AFTER_MS = 400;
/** Frames (1 s) without audio from the host before the modem hears silence: only a dead link, never jitter. */
const RX_SLACK_FRAMES = 50;
/** What the line plays once the far end is gone. */
const LINE_GONE: ReadonlySet<string> = new Set(['busy', 'congestion']);
/** Documents kept in the status (the newest). */
const KEPT = 20;

export interface FaxJobReport {
  direction: 'send' | 'receive';
  /** the number dialled (sending) */
  number: string | null;
  /** the TIFF-F sent, or written (receiving; null once removed because no page arrived) */
  file: string | null;
  /** phase E reached (success or not) */
  done: boolean;
  /** 0 = OK (T30_ERR_OK), -1 while running */
  result: number;
  resultText: string;
  pagesTx: number;
  pagesRx: number;
  /** the far end's TSI/CSI */
  remoteIdent: string;
  bitRate: number;
  ecm: boolean;
  startedAt: string;
  endedAt: string | null;
}

export interface FaxMachineReport {
  state: FaxState['kind'];
  /** our TSI/CSI */
  ident: string;
  answerAfterRings: number;
  /** the job in progress, else the last one */
  job: FaxJobReport | null;
  /** faxes received (newest last), with their TIFF-F files */
  received: FaxJobReport[];
  /** faxes sent (newest last) */
  sent: FaxJobReport[];
}

interface Session {
  modem: FaxModem;
  report: FaxJobReport;
  ms: number;
  /** a converted PDF to remove at the end */
  temp: string | null;
}

type FaxState =
  | { kind: 'idle' }
  | { kind: 'manual' }
  | { kind: 'preparing' }
  | { kind: 'dialing'; tiff: string; temp: string | null; number: string; waitedMs: number; dialled: boolean }
  | { kind: 'session'; session: Session }
  | { kind: 'hanging-up'; msLeft: number };

export interface FaxMachineOptions {
  /** where received pages (and converted documents) are written */
  dir: string;
  /** our TSI/CSI (T.30 §5.3.6.2.4: up to 20 characters) */
  ident?: string;
}

function stamp(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Pages of a TIFF as libtiff counts them; 0 when it is not a readable TIFF. */
export async function tiffPages(file: string): Promise<number> {
  try {
    const { stdout } = await run('tiffinfo', [file], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    return (stdout.match(/^TIFF Directory at offset/gm) ?? []).length;
  } catch {
    return 0;
  }
}

export class FaxMachine extends FxsDevice {
  readonly kind = 'fax';
  answerAfterRings = 2;
  ident: string;
  readonly dir: string;
  #state: FaxState = { kind: 'idle' };
  #ringsSeen = 0;
  #last: FaxJobReport | null = null;
  readonly #received: FaxJobReport[] = [];
  readonly #sent: FaxJobReport[] = [];
  readonly #pcm = new Int16Array(FRAME_SAMPLES);
  /** Our 20 ms ticks minus the frames heard: the line's audio stopped (link down) when it grows. */
  #rxDeficit = 0;

  constructor(country: Country, options: FaxMachineOptions) {
    super(country);
    this.dir = options.dir;
    this.ident = (options.ident ?? 'VIRTUAL FAX').slice(0, 20);
  }

  /**
   * Loads a document (PDF, or TIFF-F as a fax machine's scanner makes it) and sends it to `number`.
   * Resolves once the machine is dialling; the outcome is in `status().fax`.
   */
  async send(file: string, number: string, ident?: string): Promise<void> {
    if (!/^[0-9*#]{1,32}$/.test(number)) throw new SimError(`cannot dial ${JSON.stringify(number)}: digits, * and # only`);
    if (this.#state.kind !== 'idle' || this.offHook) throw new SimError(`the fax machine is busy (${this.offHook ? 'off-hook' : this.#state.kind})`);
    let head: Buffer;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        head = Buffer.alloc(4);
        fs.readSync(fd, head, 0, 4, 0);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      throw new SimError(`cannot read ${file}: ${(error as Error).message}`);
    }
    const isPdf = head.toString('latin1') === '%PDF';
    const isTiff = head.equals(Buffer.from('II*\0', 'latin1')) || head.equals(Buffer.from('MM\0*', 'latin1'));
    if (!isPdf && !isTiff) throw new SimError(`${file} is neither a PDF nor a TIFF`);
    if (ident !== undefined) this.ident = ident.slice(0, 20);
    this.#state = { kind: 'preparing' };
    let tiff = file;
    let temp: string | null = null;
    try {
      if (isPdf) {
        fs.mkdirSync(this.dir, { recursive: true });
        temp = path.join(this.dir, `outgoing-${stamp()}.tif`);
        tiff = temp;
        await pdfToTiff(file, temp);
      }
      if ((await tiffPages(tiff)) === 0) throw new SimError(`${file}: no page a fax machine can send`);
    } catch (error) {
      if (temp !== null) fs.rmSync(temp, { force: true });
      if (this.#state.kind === 'preparing') this.#state = { kind: 'idle' };
      if (error instanceof SimError) throw error;
      throw new SimError(`${file} could not be converted: ${(error as Error).message}`);
    }
    if (this.#state.kind !== 'preparing') {
      // Lifted or rung meanwhile.
      if (temp !== null) fs.rmSync(temp, { force: true });
      throw new SimError('the fax machine was taken while the document was loading');
    }
    this.#state = { kind: 'dialing', tiff, temp, number, waitedMs: 0, dialled: false };
    this.#last = { ...emptyReport('send', number, temp === null ? file : null), resultText: 'dialling' };
    super.offhook();
  }

  override offhook(): void {
    if (this.offHook) return;
    super.offhook();
    if (this.#state.kind === 'idle') this.#state = { kind: 'manual' };
  }

  override onhook(): void {
    const state = this.#state;
    if (state.kind === 'session') this.#endSession(state.session, 'on-hook');
    if (state.kind === 'dialing') {
      if (state.temp !== null) fs.rmSync(state.temp, { force: true });
      const report = this.#last;
      if (report !== null && !report.done) {
        Object.assign(report, { done: true, resultText: 'hung up while dialling', endedAt: new Date().toISOString() });
        keep(this.#sent, report);
      }
    }
    super.onhook();
    this.#state = { kind: 'idle' };
    this.#ringsSeen = 0;
  }

  protected override onRing(): void {
    if (this.offHook) return;
    this.#ringsSeen++;
  }

  override hear(frame: Buffer): void {
    super.hear(frame);
    const state = this.#state;
    this.#rxDeficit = Math.max(this.#rxDeficit - 1, -RX_SLACK_FRAMES);
    if (state.kind === 'session' && this.offHook) {
      state.session.modem.receiveAudio(frame.length === FRAME_SAMPLES ? muLawDecode(frame, this.#pcm) : muLawDecode(frame));
      this.#checkDone(state.session);
    }
  }

  override nextFrame(): Buffer {
    const frame = super.nextFrame();
    const state = this.#state;
    if (state.kind !== 'session' || !this.offHook) return frame;
    // A modem's ADC never stops: with no frame from the host for a while (the link is down), it
    // hears silence, so T.30's timers run and end a session whose far end is gone.
    if (++this.#rxDeficit > RX_SLACK_FRAMES) {
      this.#rxDeficit--;
      state.session.modem.receiveAudio(new Int16Array(FRAME_SAMPLES));
    }
    const pcm = new Int16Array(FRAME_SAMPLES);
    state.session.modem.transmitAudio(pcm);
    return Buffer.from(muLawEncode(pcm));
  }

  protected override tick(): void {
    const state = this.#state;
    switch (state.kind) {
      case 'idle':
        if (!this.offHook && this.#ringsSeen >= this.answerAfterRings && !this.status().ringing) {
          this.#ringsSeen = 0;
          this.#answer();
        }
        return;
      case 'manual':
        if (this.offHook && !this.source.busy) {
          // CNG cadence restarts each 3.5 s while nothing else is queued (after DTMF dialling).
          this.source.enqueue(sines([{ freq: 1100, dbm0: -12 }], 4000));
          this.source.enqueue(new Int16Array(3 * 8000));
        }
        return;
      case 'dialing':
        state.waitedMs += FRAME_MS;
        if (!state.dialled) {
          const heard = this.classifier.state().hears;
          if (heard === 'dial' || heard === 'stutter-dial' || state.waitedMs >= DIAL_TONE_WAIT_MS) {
            this.dial(state.number, 'dtmf');
            state.dialled = true;
          }
          return;
        }
        if (!this.source.busy) this.#startSession('send', state.tiff, state.number, state.temp);
        return;
      case 'session':
        state.session.ms += FRAME_MS;
        this.#checkDone(state.session);
        // Busy or reorder tone on the line: the far end hung up (a lost DCN leaves T.30 waiting).
        if (this.#state.kind === 'session' && state.session.ms % 200 === 0 && LINE_GONE.has(this.classifier.state().hears)) {
          this.#endSession(state.session, 'the far end hung up');
          this.#state = { kind: 'hanging-up', msLeft: 0 };
          return;
        }
        if (state.session.ms >= SESSION_LIMIT_MS && this.#state.kind === 'session') {
          this.#endSession(state.session, 'time limit');
          this.#state = { kind: 'hanging-up', msLeft: 0 };
        }
        return;
      case 'hanging-up':
        state.msLeft -= FRAME_MS;
        if (state.msLeft <= 0) this.onhook();
        return;
      case 'preparing':
        return;
    }
  }

  #answer(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    super.offhook();
    this.#startSession('receive', path.join(this.dir, `received-${stamp()}.tif`), null, null);
  }

  #startSession(direction: 'send' | 'receive', file: string, number: string | null, temp: string | null): void {
    let modem: FaxModem;
    try {
      modem = new FaxModem({ transport: 'audio', callingParty: direction === 'send', direction, file, ident: this.ident });
    } catch (error) {
      // No modem (the addon not built): the machine cannot fax; it says so and hangs up.
      this.#last = { ...emptyReport(direction, number, file), done: true, resultText: `no fax modem: ${(error as Error).message}`, endedAt: new Date().toISOString() };
      if (temp !== null) fs.rmSync(temp, { force: true });
      this.#state = { kind: 'hanging-up', msLeft: 0 };
      return;
    }
    const session: Session = { modem, report: emptyReport(direction, number, file), ms: 0, temp };
    this.#rxDeficit = 0;
    this.#last = session.report;
    this.#state = { kind: 'session', session };
  }

  #checkDone(session: Session): void {
    if (this.#state.kind !== 'session' || this.#state.session !== session) return;
    const status = session.modem.status();
    this.#update(session.report, status);
    if (!status.done) return;
    this.#endSession(session, 'phase E');
    this.#state = { kind: 'hanging-up', msLeft: HANG_UP_AFTER_MS };
  }

  /** T.30 ends (the TIFF closed), the modem is freed and the job recorded. */
  #endSession(session: Session, why: string): void {
    const { modem, report } = session;
    if (!modem.closed) {
      modem.terminate();
      this.#update(report, modem.status());
      modem.close();
    }
    if (!report.done) {
      report.done = true;
      if (report.result < 0) report.resultText = `ended (${why}) before phase E`;
    }
    report.endedAt = new Date().toISOString();
    if (session.temp !== null) fs.rmSync(session.temp, { force: true });
    if (report.direction === 'receive') {
      if (report.pagesRx === 0 && report.file !== null) {
        fs.rmSync(report.file, { force: true });
        report.file = null;
      }
      keep(this.#received, report);
    } else {
      if (session.temp !== null) report.file = null;
      keep(this.#sent, report);
    }
  }

  #update(report: FaxJobReport, s: FaxStatus): void {
    report.done = s.done;
    report.result = s.done ? s.result : -1;
    report.resultText = s.done ? s.resultText : 'in progress';
    report.pagesTx = s.pagesTx;
    report.pagesRx = s.pagesRx;
    report.remoteIdent = s.remoteIdent.trim();
    report.bitRate = s.bitRate;
    report.ecm = s.ecm;
  }

  protected override sending(): string {
    const state = this.#state;
    if (!this.offHook) return super.sending();
    switch (state.kind) {
      case 'manual':
        return 'cng';
      case 'dialing':
        return state.dialled ? 'dtmf' : 'silence (waiting for dial tone)';
      case 'session': {
        const r = state.session.report;
        return r.direction === 'send' ? `fax T.30 sending (${r.pagesTx} pages sent)` : `fax T.30 receiving (${r.pagesRx} pages received)`;
      }
      default:
        return super.sending();
    }
  }

  faxStatus(): FaxMachineReport {
    const state = this.#state;
    return {
      state: state.kind,
      ident: this.ident,
      answerAfterRings: this.answerAfterRings,
      job: this.#last === null ? null : { ...this.#last },
      received: this.#received.map((r) => ({ ...r })),
      sent: this.#sent.map((r) => ({ ...r })),
    };
  }

  override status(): ReturnType<FxsDevice['status']> {
    return { ...super.status(), fax: this.faxStatus() };
  }
}

function emptyReport(direction: 'send' | 'receive', number: string | null, file: string | null): FaxJobReport {
  return { direction, number, file, done: false, result: -1, resultText: 'in progress', pagesTx: 0, pagesRx: 0, remoteIdent: '', bitRate: 0, ecm: false, startedAt: new Date().toISOString(), endedAt: null };
}

function keep(list: FaxJobReport[], report: FaxJobReport): void {
  list.push(report);
  if (list.length > KEPT) list.splice(0, list.length - KEPT);
}
