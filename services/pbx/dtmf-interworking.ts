/**
 * DTMF interworking for a bridged call whose legs disagree on telephone-event: one phone sends and
 * expects RFC 4733 events, the other (an analog port, an old phone) only in-band tones. The native
 * relay never looks at audio, so this pair is bridged in JS instead: both legs are taken over, audio
 * goes across frame by frame, and DTMF is converted on the way (docs/media-engine.md, "DTMF
 * interworking"). Pairs that agree stay on the native relay.
 *
 *   RFC 4733 leg ── events ──► Rfc4733ToInband ── tone frames (instead of voice) ──► in-band leg
 *   RFC 4733 leg ◄── events (same SSRC/seq, §2.5) ── InbandToRfc4733 ◄── frames ──── in-band leg
 */
import type { Logger } from '../log.js';
import type { DtmfEvent, MediaLeg, MediaOutput } from '../media/engine.js';
import { InbandToRfc4733, Rfc4733ToInband } from '../media/dtmf/converter.js';
import { digitToEvent, isDtmfDigit } from '../media/dtmf/digits.js';
import { encodeTelephoneEvent, tsDiff } from '../media/dtmf/rfc4733.js';
import type { MediaClock } from './features/media-clock.js';

const FRAME_SAMPLES = 160;

/** True when exactly one leg negotiated telephone-event and both speak G.711 (frames can be made). */
export function needsDtmfInterworking(a: MediaLeg, b: MediaLeg): boolean {
  const na = a.negotiatedCodec;
  const nb = b.negotiatedCodec;
  if (!na || !nb) return false;
  const g711 = (n: string): boolean => n === 'PCMU' || n === 'PCMA';
  if (!g711(na.audio.name) || !g711(nb.audio.name)) return false;
  return (na.dtmf !== undefined) !== (nb.dtmf !== undefined);
}

/**
 * The JS bridge of one pair. `start()` takes both legs; when a feature takes one over and later
 * detaches, the bridge takes it back (MediaLeg.onFree). `stop()` gives the legs back to whatever
 * route they have (the native relay when the session still bridges them).
 */
export class DtmfInterworking {
  readonly #rfcLeg: MediaLeg;
  readonly #inbandLeg: MediaLeg;
  readonly #clock: MediaClock;
  readonly #log: Logger;
  #rfcOut: MediaOutput | undefined;
  #inbandOut: MediaOutput | undefined;
  #stopped = false;
  #unsubscribeClock: (() => void) | undefined;
  readonly #unsubscribeFree: (() => void)[] = [];

  /** RFC 4733 → in-band: tones toward the in-band phone, paced by the media clock */
  readonly #toInband = new Rfc4733ToInband({ receiver: { timeoutMs: 5000 } });
  /** RTP-like time of the clock ticks, for the events fed to #toInband (their identity, and expiry) */
  #tickTs = 0;
  #eventTs = 0xffffffff;

  /** in-band → RFC 4733: detection on the in-band phone's audio, events on the RFC 4733 leg's stream */
  readonly #toRfc = new InbandToRfc4733();
  /** RTP time of the next in-band frame in the RFC 4733 leg's timeline (set at the first frame) */
  #rfcTs: number | undefined;

  /** counters for the logs and tests */
  readonly counters = { framesToInband: 0, framesToRfc: 0, tonesPlayed: 0, eventsSent: 0, digitsToInband: 0, digitsToRfc: 0 };

  constructor(a: MediaLeg, b: MediaLeg, clock: MediaClock, logger: Logger) {
    const aHas = a.negotiatedCodec?.dtmf !== undefined;
    this.#rfcLeg = aHas ? a : b;
    this.#inbandLeg = aHas ? b : a;
    this.#clock = clock;
    this.#log = logger.child({ rfc4733Leg: this.#rfcLeg.name, inbandLeg: this.#inbandLeg.name });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    if (this.#stopped) return;
    this.#takeRfc();
    this.#takeInband();
    this.#unsubscribeFree.push(
      this.#rfcLeg.onFree(() => this.#takeRfc()),
      this.#inbandLeg.onFree(() => this.#takeInband()),
    );
    this.#rfcLeg.onClose(() => this.stop());
    this.#inbandLeg.onClose(() => this.stop());
    this.#unsubscribeClock = this.#clock.subscribe(() => this.#tick());
    this.#log.info('DTMF interworking bridge started');
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribeClock?.();
    for (const u of this.#unsubscribeFree.splice(0)) u();
    const rfc = this.#rfcOut;
    const inband = this.#inbandOut;
    this.#rfcOut = undefined;
    this.#inbandOut = undefined;
    // Only our own takeovers are ended; a feature's stays.
    if (rfc && !this.#rfcLeg.closed) this.#rfcLeg.detach();
    if (inband && !this.#inbandLeg.closed) this.#inbandLeg.detach();
    this.#log.info({ ...this.counters }, 'DTMF interworking bridge stopped');
  }

  #takeRfc(): void {
    if (this.#stopped || this.#rfcLeg.closed || this.#rfcLeg.attached) return;
    const out = this.#rfcLeg.attach({
      onAudio: (frame) => this.#fromRfc(frame),
      onDtmf: (ev) => this.#rfcDtmf(ev),
      onDetach: () => {
        if (this.#rfcOut === out) this.#rfcOut = undefined;
      },
    });
    this.#rfcOut = out;
  }

  #takeInband(): void {
    if (this.#stopped || this.#inbandLeg.closed || this.#inbandLeg.attached) return;
    const out = this.#inbandLeg.attach({
      onAudio: (frame) => this.#fromInband(frame),
      onDetach: () => {
        if (this.#inbandOut === out) this.#inbandOut = undefined;
      },
    });
    this.#inbandOut = out;
  }

  /** Voice from the RFC 4733 phone: straight across, unless a DTMF tone is being played in its place. */
  #fromRfc(frame: Int16Array): void {
    if (this.#toInband.busy) return;
    if (this.#inbandOut?.sendAudio(frame)) this.counters.framesToInband++;
  }

  /**
   * RFC 4733 event from the phone (begin on its first packet, end on its end bit): fed to the
   * converter as packets of one event, so the tone starts at once and lasts as long as the key.
   */
  #rfcDtmf(ev: DtmfEvent): void {
    if (!isDtmfDigit(ev.digit)) return; // flash and other events have no in-band form
    const event = digitToEvent(ev.digit);
    if (ev.phase === 'begin') this.#eventTs = tsDiff(this.#tickTs, this.#eventTs) > 0 ? this.#tickTs : (this.#eventTs + 1) >>> 0;
    const duration = Math.min(0xffff, Math.max(0, Math.round(ev.durationMs * 8)));
    const reports = this.#toInband.receive({
      payload: encodeTelephoneEvent({ event, end: ev.phase === 'end', volume: 10, duration }),
      timestamp: this.#eventTs,
      marker: ev.phase === 'begin',
    });
    if (reports.some((r) => r.type === 'start')) {
      this.counters.digitsToInband++;
      this.#log.debug({ digit: ev.digit }, 'RFC 4733 → in-band');
    }
  }

  /** Media clock: while a tone is queued it replaces the voice toward the in-band phone. */
  #tick(): void {
    this.#tickTs = (this.#tickTs + FRAME_SAMPLES) >>> 0;
    this.#toInband.expire(this.#tickTs); // an end bit never came (§2.5.2.3)
    if (!this.#toInband.busy) return;
    const frame = this.#toInband.nextFrame();
    if (frame && this.#inbandOut?.sendAudio(frame)) this.counters.tonesPlayed++;
  }

  /** Audio from the in-band phone: detect digits; a held digit goes as events, not as audio. */
  #fromInband(frame: Int16Array): void {
    const out = this.#rfcOut;
    if (!out) return;
    this.#rfcTs ??= out.timestamp();
    const ts = this.#rfcTs;
    this.#rfcTs = (ts + FRAME_SAMPLES) >>> 0;
    const { packets, inDigit } = this.#toRfc.process(frame, ts);
    if (!inDigit && packets.length === 0 && out.sendAudio(frame)) this.counters.framesToRfc++;
    for (const p of packets) {
      if (p.marker) {
        this.counters.digitsToRfc++;
        this.#log.debug('in-band → RFC 4733');
      }
      if (out.sendEvent(p)) this.counters.eventsSent++;
    }
  }
}
