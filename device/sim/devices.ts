/**
 * The scriptable devices on the virtual board's lines: an analog phone and a fax machine on FXS
 * ports, a central office behind the FXO port. Each is driven by the board's 20 ms clock
 * (`nextFrame()` for what it sends, `hear()` for what reaches it) and by the control socket.
 */
import { muLawDecode } from '../../services/media/codec/g711.js';
import { DtmfDetector } from '../../services/media/dtmf/detector.js';
import { digitFrequencies, isDtmfDigit } from '../../services/media/dtmf/digits.js';
import { sines } from '../../services/media/dsp/synth.js';
import { toneSpec, type Country } from '../../services/media/tones/table.js';
import { CallerIdDecoder, type CallerId, type FskStandard } from '../dsp/callerid-decode.js';
import { CasDetector, isFskFrame } from '../dsp/tone-detect.js';
import { AudioSource } from './audio-source.js';
import { callerIdFsk, type CallerIdToSend } from './fsk-sender.js';
import { ToneClassifier, type HearingState } from './tone-classifier.js';
import type { FaxMachineReport } from './fax-machine.js';

const FRAME_MS = 20;

/** What an FXS device can do to its line (the board's side of the hook switch). */
export interface FxsLine {
  setHook(offHook: boolean): void;
  flash(): void;
  pulseDigit(digit: string): void;
}

/** What the central office does to the FXO line. */
export interface FxoLine {
  setRingVoltage(on: boolean): void;
  setPolarity(reversed: boolean): void;
  setLoopCurrent(present: boolean): void;
}

export class SimError extends Error {}

export interface FxsDeviceStatus {
  device: 'phone' | 'fax';
  hook: 'on' | 'off';
  /** Ringing voltage present now. */
  ringing: boolean;
  /** The last complete ring cycle measured (on/off ms, as the ringer saw it). */
  ringCadenceMs: number[] | null;
  rings: number;
  callerId: CallerId | null;
  hears: HearingState;
  sending: string;
  pulseDigitsPending: string;
  /** The fax machine's documents and T.30 session (fax-machine.ts). */
  fax?: FaxMachineReport;
  /** Caller ID on call waiting (phones only): what the phone answers, and what it heard. */
  callWaiting?: CallWaitingStatus;
}

/** GR-30 type II: `D` (off-hook caller ID), `A` (an ADSI phone), or null (a phone without it: no answer). */
export type CidcwAck = 'D' | 'A' | null;

export interface CallWaitingStatus {
  ack: CidcwAck;
  /** Alerting signals (CAS, 2130+2750 Hz) heard off-hook, and acknowledgements sent. */
  alerts: number;
  acks: number;
  /** Milliseconds of caller ID FSK heard off-hook (since the last off-hook). */
  fskHeardMs: number;
}

/** Shared by the phone and the fax (fax-machine.ts): hook switch, ringer, display, ear. */
export abstract class FxsDevice {
  abstract readonly kind: 'phone' | 'fax';
  protected line: FxsLine | null = null;
  protected offHook = false;
  protected readonly source = new AudioSource();
  protected classifier: ToneClassifier;
  #cid: CallerIdDecoder;
  #lastCid: CallerId | null = null;
  #ringOn = false;
  #ringEdges: number[] = [];
  #ringCadence: number[] | null = null;
  #rings = 0;
  #now = 0;
  #pulseQueue: string[] = [];
  #pulseWaitMs = 0;

  constructor(protected readonly country: Country) {
    this.classifier = new ToneClassifier(country);
    this.#cid = new CallerIdDecoder((cid) => (this.#lastCid = cid));
  }

  attach(line: FxsLine): void {
    this.line = line;
  }

  get isOffHook(): boolean {
    return this.offHook;
  }

  offhook(): void {
    if (this.offHook) return;
    this.offHook = true;
    this.classifier = new ToneClassifier(this.country);
    this.line?.setHook(true);
  }

  onhook(): void {
    if (!this.offHook) return;
    this.offHook = false;
    this.source.clear();
    this.source.setTone(null);
    this.#pulseQueue = [];
    this.line?.setHook(false);
  }

  flash(): void {
    if (!this.offHook) throw new SimError('flash needs the device off-hook');
    this.line?.flash();
  }

  /** DTMF in-band, or rotary pulses counted by the board (`mode: 'pulse'`, digits 0-9 only). */
  dial(digits: string, mode: 'dtmf' | 'pulse'): void {
    if (!this.offHook) throw new SimError('dial needs the device off-hook');
    for (const d of digits) {
      if (mode === 'pulse' ? !/^[0-9]$/.test(d) : !isDtmfDigit(d)) throw new SimError(`cannot ${mode}-dial ${JSON.stringify(d)}`);
    }
    for (const d of digits) {
      if (mode === 'pulse') this.#pulseQueue.push(d);
      else this.source.enqueueDtmf(d as Parameters<AudioSource['enqueueDtmf']>[0]);
    }
  }

  tone(hz: number | null): void {
    this.source.setTone(hz === null ? null : [hz]);
  }

  /** Ringing voltage from the board. */
  ringVoltage(on: boolean): void {
    if (on === this.#ringOn) return;
    this.#ringOn = on;
    if (on) this.#rings++;
    this.#ringEdges.push(this.#now);
    if (this.#ringEdges.length > 5) this.#ringEdges.shift();
    // Cadence = durations between the last edges, starting at an "on" edge.
    const e = this.#ringEdges;
    if (on && e.length >= 3) {
      const last = e.length - 1;
      this.#ringCadence = [(e[last - 1] as number) - (e[last - 2] as number), (e[last] as number) - (e[last - 1] as number)];
    }
    if (on) this.onRing();
  }

  protected onRing(): void {}

  hear(frame: Buffer): void {
    // The display listens on-hook (type 1 caller ID) and off-hook (type 2, call waiting).
    this.#cid.pushMuLaw(frame);
    if (this.offHook) this.classifier.push(frame);
  }

  nextFrame(): Buffer {
    this.#now += FRAME_MS;
    this.#tickPulses();
    this.tick();
    if (!this.offHook) return Buffer.alloc(160, 0xff);
    return this.source.nextFrame();
  }

  protected tick(): void {}

  #tickPulses(): void {
    if (this.#pulseWaitMs > 0) {
      this.#pulseWaitMs -= FRAME_MS;
      return;
    }
    const d = this.#pulseQueue.shift();
    if (d === undefined) return;
    // A rotary dial takes ~100 ms per pulse (10 pps) plus the inter-digit pause (≥ 700 ms): the
    // board reports the digit once its pulses are counted.
    this.line?.pulseDigit(d);
    this.#pulseWaitMs = (d === '0' ? 10 : Number(d)) * 100 + 700;
  }

  protected sending(): string {
    if (!this.offHook) return 'nothing (on-hook)';
    if (this.source.busy) return 'dtmf';
    const t = this.source.tone;
    return t === null ? 'silence' : `tone ${t.join('+')} Hz`;
  }

  status(): FxsDeviceStatus {
    return {
      device: this.kind,
      hook: this.offHook ? 'off' : 'on',
      ringing: this.#ringOn,
      ringCadenceMs: this.#ringCadence,
      rings: this.#rings,
      callerId: this.#lastCid,
      hears: this.offHook ? this.classifier.state() : { hears: 'silence', dominantHz: null, levelDbm0: null },
      sending: this.sending(),
      pulseDigitsPending: this.#pulseQueue.join(''),
    };
  }
}

/**
 * A type II analog phone (Telcordia GR-30-CORE / ETSI EN 300 659-2): off-hook, it listens for the
 * alerting signal (CAS) that precedes caller ID on call waiting, answers it with its acknowledgement
 * digit (DTMF, 60 ms, at once: the exchange waits ≤ 160 ms), then decodes the FSK that follows (the
 * display's decoder listens all the time). `cidcwAck = null` makes it a phone without the feature.
 */
export class AnalogPhone extends FxsDevice {
  readonly kind = 'phone';
  cidcwAck: CidcwAck = 'D';
  readonly #cas = new CasDetector();
  #alerts = 0;
  #acks = 0;
  #fskMs = 0;

  override offhook(): void {
    if (!this.offHook) {
      this.#cas.reset();
      this.#fskMs = 0;
    }
    super.offhook();
  }

  override hear(frame: Buffer): void {
    super.hear(frame);
    if (!this.offHook) return;
    const pcm = muLawDecode(frame);
    if (isFskFrame(pcm)) this.#fskMs += FRAME_MS;
    if (!this.#cas.push(pcm)) return;
    this.#alerts++;
    if (this.cidcwAck === null) return;
    // GR-30 §3.3: ACK within 100 ms of the end of CAS, 55–65 ms long.
    const { low, high } = digitFrequencies(this.cidcwAck);
    this.source.enqueue(sines([{ freq: low, dbm0: -8 }, { freq: high, dbm0: -6 }], 480));
    this.#acks++;
  }

  override status(): FxsDeviceStatus {
    return { ...super.status(), callWaiting: { ack: this.cidcwAck, alerts: this.#alerts, acks: this.#acks, fskHeardMs: this.#fskMs } };
  }
}

export type CoState = 'idle' | 'ringing' | 'dial-tone' | 'collecting' | 'ringback' | 'connected' | 'busy' | 'far-end-hung-up';

export interface CentralOfficeStatus {
  device: 'central-office';
  state: CoState;
  seized: boolean;
  ringing: boolean;
  polarityReversed: boolean;
  loopCurrent: boolean;
  /** Digits the host dialled on the seized line (DTMF heard by the exchange). */
  dialled: string;
  callerIdSent: CallerIdToSend | null;
  answerMode: 'answer' | 'busy' | 'no-answer';
  hears: HearingState;
  sending: string;
}

/**
 * The exchange behind the FXO port. Inbound: rings with the country's cadence and sends caller ID in
 * the first silence (Bell 202 for US/MX, V.23 for GB/FR/SE). Outbound: dial tone on seize, DTMF
 * collection, ringback, answer with polarity reversal (or busy). Far-end hang-up: polarity restored,
 * a loop-current break (CPC, 800 ms), then busy tone.
 */
export class CentralOffice {
  readonly kind = 'central-office';
  answerMode: 'answer' | 'busy' | 'no-answer' = 'answer';
  ringbackMs = 4000;
  interDigitMs = 2500;
  #line: FxoLine | null = null;
  #state: CoState = 'idle';
  #seized = false;
  #ringOn = false;
  #polarity = false;
  #loop = false;
  #msInState = 0;
  #ringCycleMs = 0;
  #ringCycles = 0;
  #cidPending: CallerIdToSend | null = null;
  #cidSent: CallerIdToSend | null = null;
  #dialled = '';
  #lastDigitMs = 0;
  #cplMs = 0;
  readonly #source = new AudioSource();
  readonly #progress: AudioSource = new AudioSource();
  #progressName: string | null = null;
  #progressSpec: ReturnType<typeof toneSpec> | null = null;
  #classifier: ToneClassifier;
  readonly #dtmf = new DtmfDetector();
  #talkTone: number | null = null;
  readonly #ringCadence: number[];

  constructor(readonly country: Country) {
    this.#classifier = new ToneClassifier(country);
    this.#ringCadence = toneSpec(country, 'ringback').steps.map((s) => s.ms);
  }

  attach(line: FxoLine): void {
    this.#line = line;
  }

  get standard(): FskStandard {
    return this.country === 'US' || this.country === 'MX' ? 'bell202' : 'v23';
  }

  /** An incoming landline call: ring (with caller ID in the first silence) until seized or 10 cycles. */
  ring(callerId: CallerIdToSend | null): void {
    if (this.#seized) throw new SimError('the line is seized by the gateway: the exchange cannot ring it');
    if (this.#state === 'ringing') throw new SimError('already ringing');
    this.#enter('ringing');
    this.#ringCycleMs = 0;
    this.#ringCycles = 0;
    this.#cidPending = callerId;
    this.#cidSent = null;
    this.#setRing(true);
  }

  /** The far end (the landline caller or callee) hangs up. */
  hangup(): void {
    if (this.#state === 'ringing') {
      this.#setRing(false);
      this.#enter('idle');
      return;
    }
    if (!this.#seized) throw new SimError('no call on the line');
    this.#farEndGone();
  }

  tone(hz: number | null): void {
    this.#talkTone = hz;
    if (this.#state === 'connected') this.#source.setTone(hz === null ? null : [hz]);
  }

  /** The gateway seized (off-hook) or released the line. */
  seize(seized: boolean): void {
    if (seized === this.#seized) return;
    this.#seized = seized;
    if (!seized) {
      this.#setLoop(false);
      this.#setPolarity(false);
      this.#setRing(false);
      this.#stopProgress();
      this.#source.setTone(null);
      this.#enter('idle');
      return;
    }
    this.#setLoop(true);
    this.#classifier = new ToneClassifier(this.country);
    if (this.#state === 'ringing') {
      // Answered by the gateway (ring trip).
      this.#setRing(false);
      this.#connect();
      return;
    }
    this.#dialled = '';
    this.#enter('dial-tone');
    this.#playProgress('dial');
  }

  hear(frame: Buffer): void {
    if (!this.#seized) return;
    this.#classifier.push(frame);
    for (const e of this.#dtmf.process(muLawDecode(frame))) {
      if (e.type !== 'start') continue;
      this.#dialled += e.digit;
      this.#lastDigitMs = 0;
      if (this.#state === 'dial-tone') {
        this.#stopProgress();
        this.#enter('collecting');
      }
    }
  }

  nextFrame(): Buffer {
    this.#msInState += FRAME_MS;
    this.#lastDigitMs += FRAME_MS;
    switch (this.#state) {
      case 'ringing':
        this.#tickRinging();
        break;
      case 'collecting':
        if (this.#lastDigitMs >= this.interDigitMs) {
          if (this.answerMode === 'busy') {
            this.#enter('busy');
            this.#playProgress('busy');
          } else {
            this.#enter('ringback');
            this.#playProgress('ringback');
          }
        }
        break;
      case 'ringback':
        if (this.answerMode === 'answer' && this.#msInState >= this.ringbackMs) {
          this.#stopProgress();
          this.#setPolarity(true); // answer supervision
          this.#connect();
        }
        break;
      case 'far-end-hung-up':
        this.#cplMs -= FRAME_MS;
        if (this.#cplMs <= 0 && !this.#loop && this.#seized) {
          this.#setLoop(true);
          this.#enter('busy');
          this.#playProgress('busy');
        }
        break;
      default:
        break;
    }
    this.#pump();
    // While ringing, the line carries the caller ID burst on-hook.
    if (this.#state === 'ringing') return this.#source.nextFrame();
    if (!this.#seized) return Buffer.alloc(160, 0xff);
    if (this.#progressName !== null) return this.#progress.nextFrame();
    if (!this.#loop) return Buffer.alloc(160, 0xff);
    return this.#source.nextFrame();
  }

  #tickRinging(): void {
    const cad = this.#ringCadence;
    this.#ringCycleMs += FRAME_MS;
    // Position in the cadence.
    const period = cad.reduce((a, b) => a + b, 0);
    const pos = this.#ringCycleMs % period;
    if (this.#ringCycleMs >= period && pos < FRAME_MS) this.#ringCycles++;
    if (this.#ringCycles >= 10) {
      this.#setRing(false);
      this.#enter('idle');
      return;
    }
    let acc = 0;
    let on = false;
    for (let i = 0; i < cad.length; i++) {
      acc += cad[i] as number;
      if (pos < acc) {
        on = i % 2 === 0;
        break;
      }
    }
    this.#setRing(on);
    // Caller ID: 500 ms into the first silence after the first ring (GR-30-CORE; EN 300 659-1 §6.1.2 variant).
    if (this.#cidPending !== null && this.#ringCycles === 0 && !on && pos >= (cad[0] as number) + 500) {
      this.#source.enqueue(callerIdFsk(this.standard, this.#cidPending));
      this.#cidSent = this.#cidPending;
      this.#cidPending = null;
    }
  }

  #connect(): void {
    this.#source.clear();
    this.#enter('connected');
    this.#source.setTone(this.#talkTone === null ? null : [this.#talkTone]);
  }

  #farEndGone(): void {
    this.#source.setTone(null);
    this.#stopProgress();
    this.#setPolarity(false);
    this.#setLoop(false);
    this.#cplMs = 800;
    this.#enter('far-end-hung-up');
  }

  #playProgress(name: 'dial' | 'busy' | 'ringback'): void {
    const spec = toneSpec(this.country, name);
    this.#progressName = name;
    this.#progress.clear();
    // Render one loop (enough for a few seconds) into the queue, refilled when it drains.
    this.#progressSpec = spec;
    this.#refillProgress();
  }

  #refillProgress(): void {
    const spec = this.#progressSpec;
    if (spec === null) return;
    for (const step of spec.steps) {
      const n = Math.round((step.ms * 8000) / 1000);
      this.#progress.enqueue(step.freqs.length === 0 ? new Int16Array(n) : sines(step.freqs.map((freq) => ({ freq, dbm0: spec.levelDbm0 })), n));
    }
  }

  #stopProgress(): void {
    this.#progressName = null;
    this.#progressSpec = null;
    this.#progress.clear();
  }

  #enter(state: CoState): void {
    this.#state = state;
    this.#msInState = 0;
  }

  #setRing(on: boolean): void {
    if (on === this.#ringOn) return;
    this.#ringOn = on;
    this.#line?.setRingVoltage(on);
  }

  #setPolarity(reversed: boolean): void {
    if (reversed === this.#polarity) return;
    this.#polarity = reversed;
    this.#line?.setPolarity(reversed);
  }

  #setLoop(present: boolean): void {
    if (present === this.#loop) return;
    this.#loop = present;
    this.#line?.setLoopCurrent(present);
  }

  /** Keep the progress tone looping. */
  #pump(): void {
    if (this.#progressName !== null && !this.#progress.busy) this.#refillProgress();
  }

  status(): CentralOfficeStatus {
    return {
      device: 'central-office',
      state: this.#state,
      seized: this.#seized,
      ringing: this.#ringOn,
      polarityReversed: this.#polarity,
      loopCurrent: this.#loop,
      dialled: this.#dialled,
      callerIdSent: this.#cidSent,
      answerMode: this.answerMode,
      hears: this.#seized ? this.#classifier.state() : { hears: 'silence', dominantHz: null, levelDbm0: null },
      sending: this.#progressName !== null ? `${this.#progressName} tone` : this.#talkTone !== null && this.#state === 'connected' ? `tone ${this.#talkTone} Hz` : 'silence',
    };
  }
}
