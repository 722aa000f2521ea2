/**
 * The FXO port: the landline as a trunk of the pbx (an IP peer on its own loopback address).
 *
 * Inbound (RFC 3261 UAC toward the pbx):
 *   idle --ring on--> first-ring --ring off--> caller-id (line audio kept)
 *        --second ring, or 4.5 s--> FSK decoded (or none) → INVITE sip:<line number>@pbx, From: caller
 *        --200 from the pbx--> seize (the line is answered only now: after the caller ID) → talking
 *        --no ring for 8 s before the answer--> CANCEL (the caller gave up) → idle
 * Outbound (UAS for the pbx's INVITE):
 *   INVITE → seize → dial tone detected (≥100 ms, no fixed wait; 3 s without → 503) → DTMF digits
 *   → 183 with the line's audio (the caller hears the exchange's ringback) → polarity reversal (answer
 *   supervision; lines without it: answered once dialled) → 200 → talking
 * Disconnect supervision while talking: loop current drop, polarity restored, or busy/reorder tone
 * → BYE and release. The pbx's BYE → release.
 */
import type { Logger } from '../../services/log.js';
import { muLawDecode } from '../../services/media/codec/g711.js';
import { digitFrequencies, isDtmfDigit } from '../../services/media/dtmf/digits.js';
import { concat, silence, sines } from '../../services/media/dsp/synth.js';
import type { Country } from '../../services/media/tones/table.js';
import type { AnalogBoard, PortId } from '../board.js';
import { portName } from '../board.js';
import { CallerIdDecoder, type CallerId as DecodedCallerId } from '../dsp/callerid-decode.js';
import { fskStandardOf } from '../dsp/callerid-encode.js';
import { BusyToneDetector, DialToneDetector } from '../dsp/tone-detect.js';
import { landlineDigits } from './landline-number.js';
import { readRemoteSdp, RtpStream } from './media.js';
import { PortAudio, silentFrame } from './signals.js';
import { SipCall } from './sip-call.js';
import type { SipEndpoint } from './sip-endpoint.js';

export interface FxoTiming {
  /** Wait for dial tone after seizing before giving up (the line is dead). */
  dialToneTimeoutMs: number;
  /** No ring for this long: the caller hung up before we answered. */
  ringGoneMs: number;
  /** After the first ring: caller ID expected before this (GR-30: it ends before the second ring). */
  callerIdWaitMs: number;
}

export const DEFAULT_FXO_TIMING: FxoTiming = { dialToneTimeoutMs: 3000, ringGoneMs: 8000, callerIdWaitMs: 4500 };

export interface FxoPortDeps {
  board: AnalogBoard;
  port: PortId;
  endpoint: SipEndpoint;
  logger: Logger;
  rtpAddress: string;
  timing: FxoTiming;
}

type FxoState =
  | { kind: 'idle' }
  | { kind: 'inbound-ringing'; decoder: CallerIdDecoder; collecting: boolean; rings: number; callerId: DecodedCallerId | null; call: SipCall | null; rtp: RtpStream | null; gone: NodeJS.Timeout | null }
  | { kind: 'outbound'; phase: 'seizing' | 'dialing' | 'early'; call: SipCall; rtp: RtpStream; digits: string; timer: NodeJS.Timeout | null; earlySdp: Buffer | null }
  | { kind: 'talking'; call: SipCall; rtp: RtpStream };

export class FxoPort {
  readonly name: string;
  readonly #d: FxoPortDeps;
  readonly #log: Logger;
  #state: FxoState = { kind: 'idle' };
  #country: Country = 'US';
  #lineNumber: string | null = null;
  #audio = new PortAudio();
  #dialTone = new DialToneDetector();
  #busy = new BusyToneDetector();
  #seized = false;
  #polarityReversed = false;
  #loopCurrent = true;
  lastCallerId: DecodedCallerId | null = null;

  constructor(deps: FxoPortDeps) {
    this.#d = deps;
    this.name = portName(deps.port);
    this.#log = deps.logger.child({ port: this.name });
  }

  configure(country: Country, lineNumber: string | null): void {
    this.#country = country;
    this.#lineNumber = lineNumber;
  }

  get state(): FxoState['kind'] {
    return this.#state.kind;
  }

  get inUse(): boolean {
    return this.#state.kind !== 'idle';
  }

  detail(): string {
    const s = this.#state;
    const parts: string[] = [s.kind === 'outbound' ? `outbound ${s.phase}` : s.kind];
    if (this.#lineNumber !== null) parts.push(`line ${this.#lineNumber}`);
    if (!this.#loopCurrent && this.#seized) parts.push('no loop current');
    return parts.join(', ');
  }

  reapply(): void {
    if (this.#seized) this.#d.board.send({ kind: 'seize', port: this.#d.port });
  }

  // --- board events ------------------------------------------------------------------------------

  ring(on: boolean): void {
    let s = this.#state;
    if (s.kind === 'outbound' || s.kind === 'talking') return;
    if (s.kind === 'idle') {
      if (!on) return;
      const ringing: Extract<FxoState, { kind: 'inbound-ringing' }> = {
        kind: 'inbound-ringing',
        // Both standards are listened for; the port's country's is preferred when both decode.
        decoder: new CallerIdDecoder((cid) => {
          if (ringing.callerId === null || cid.standard === fskStandardOf(this.#country)) ringing.callerId = cid;
          // A complete message: no need to wait for the second ring.
          if (ringing.collecting) setTimeout(() => this.#callerIdDone(ringing), 60);
        }),
        collecting: false,
        rings: 0,
        callerId: null,
        call: null,
        rtp: null,
        gone: null,
      };
      s = ringing;
      this.#state = s;
      this.#log.info('landline rings');
    }
    if (s.gone !== null) clearTimeout(s.gone);
    const ringing = s;
    ringing.gone = setTimeout(() => this.#ringGone(ringing), this.#d.timing.ringGoneMs);
    if (on) {
      ringing.rings++;
      if (ringing.collecting) this.#callerIdDone(ringing);
      return;
    }
    // End of the first ring: caller ID comes in the silence that follows.
    if (ringing.rings === 1 && ringing.call === null) {
      ringing.collecting = true;
      setTimeout(() => {
        if (this.#state === ringing && ringing.collecting) this.#callerIdDone(ringing);
      }, this.#d.timing.callerIdWaitMs);
    }
  }

  polarity(reversed: boolean): void {
    const was = this.#polarityReversed;
    this.#polarityReversed = reversed;
    const s = this.#state;
    if (s.kind === 'outbound' && reversed && !was) {
      this.#log.info('polarity reversal: the far end answered');
      this.#answerOutbound(s);
      return;
    }
    if (s.kind === 'talking' && was && !reversed) this.#farEndGone('polarity restored');
  }

  loopCurrent(present: boolean): void {
    this.#loopCurrent = present;
    const s = this.#state;
    if (!present && this.#seized && (s.kind === 'talking' || (s.kind === 'outbound' && s.phase === 'early'))) this.#farEndGone('loop current dropped');
  }

  fromLine(frame: Buffer): void {
    const s = this.#state;
    if (s.kind === 'inbound-ringing') {
      if (s.collecting) s.decoder.pushMuLaw(frame);
      return;
    }
    if (s.kind === 'outbound') {
      if (s.phase === 'seizing' && this.#dialTone.push(muLawDecode(frame))) this.#dialDigits(s);
      else if (s.phase === 'early') {
        s.rtp.send(frame);
        if (this.#busy.push(muLawDecode(frame))) this.#farEndGone('busy tone');
      }
      return;
    }
    if (s.kind === 'talking') {
      s.rtp.send(frame);
      if (this.#busy.push(muLawDecode(frame))) this.#farEndGone('busy tone');
    }
  }

  toLine(nowMs: number): Buffer {
    const local = this.#audio.next();
    const s = this.#state;
    let media: Buffer | null = null;
    if (s.kind === 'talking' || (s.kind === 'outbound' && s.phase === 'early')) media = s.rtp.pull(nowMs);
    return local ?? media ?? silentFrame();
  }

  // --- inbound -----------------------------------------------------------------------------------

  #callerIdDone(s: Extract<FxoState, { kind: 'inbound-ringing' }>): void {
    if (!s.collecting) return;
    s.collecting = false;
    this.lastCallerId = s.callerId;
    this.#log.info({ callerId: s.callerId }, s.callerId === null ? 'no caller ID on the line' : 'caller ID decoded');
    void this.#inviteInbound(s);
  }

  async #inviteInbound(s: Extract<FxoState, { kind: 'inbound-ringing' }>): Promise<void> {
    const rtp = await RtpStream.open(this.#d.rtpAddress);
    if (this.#state !== s) {
      rtp.close();
      return;
    }
    s.rtp = rtp;
    const id = s.callerId;
    const from = id?.number !== null && id?.number !== undefined && /^\+?[0-9]{1,20}$/.test(id.number) ? id.number : 'anonymous';
    const called = this.#lineNumber ?? this.name;
    const call = SipCall.dial(
      this.#d.endpoint.ctx,
      { contactUser: this.name, fromUser: from, fromName: id?.name ?? null, toUser: called, credentials: null, sdp: rtp.sdp() },
      (c) => this.#d.endpoint.track(c),
      {
        onProgress: (_status, sdp) => {
          const remote = sdp === null ? null : readRemoteSdp(sdp);
          if (remote !== null) rtp.setRemote(remote);
        },
        onAnswered: (sdp) => {
          const remote = sdp === null ? null : readRemoteSdp(sdp);
          if (remote !== null) rtp.setRemote(remote);
          if (this.#state !== s) {
            call.hangUp();
            return;
          }
          if (s.gone !== null) clearTimeout(s.gone);
          this.#seize();
          this.#state = { kind: 'talking', call, rtp };
          this.#busy.reset();
          this.#log.info({ callId: call.callId, from }, 'landline call answered by the office');
        },
        onFailed: (status, reason) => {
          this.#log.warn({ callId: call.callId, status, reason }, 'the pbx refused the landline call: the line is left ringing');
          this.#d.endpoint.forget(call);
          rtp.close();
          s.call = null;
        },
        onEnded: () => this.#pbxHungUp(call),
        onReinvite: (offer) => {
          const remote = offer === null ? null : readRemoteSdp(offer);
          if (remote !== null) rtp.setRemote(remote);
          return rtp.sdp();
        },
      },
    );
    s.call = call;
    this.#log.info({ callId: call.callId, from, called }, 'landline call offered to the pbx');
  }

  #ringGone(s: Extract<FxoState, { kind: 'inbound-ringing' }>): void {
    if (this.#state !== s) return;
    this.#log.info('the landline stopped ringing before an answer');
    s.call?.hangUp();
    if (s.call !== null) this.#d.endpoint.forget(s.call);
    s.rtp?.close();
    this.#state = { kind: 'idle' };
  }

  // --- outbound ----------------------------------------------------------------------------------

  /** An INVITE from the pbx: a call out on the landline. */
  async outbound(call: SipCall): Promise<void> {
    const user = call.request.uri.kind === 'sip' ? call.request.uri.user : null;
    let target: string | null = null;
    try {
      target = user === null ? null : landlineDigits(decodeURIComponent(user), this.#country);
    } catch {
      target = null;
    }
    if (target === null) {
      call.reject(484);
      this.#d.endpoint.forget(call);
      return;
    }
    if (this.#state.kind !== 'idle') {
      call.reject(486, 'Landline In Use');
      this.#d.endpoint.forget(call);
      return;
    }
    const remote = readRemoteSdp(call.request.body);
    if (remote === null || !remote.pcmu) {
      call.reject(488);
      this.#d.endpoint.forget(call);
      return;
    }
    const rtp = await RtpStream.open(this.#d.rtpAddress);
    rtp.setRemote(remote);
    const s: Extract<FxoState, { kind: 'outbound' }> = { kind: 'outbound', phase: 'seizing', call, rtp, digits: target, timer: null, earlySdp: null };
    this.#state = s;
    call.handlers = {
      onCancelled: () => this.#pbxHungUp(call),
      onEnded: () => this.#pbxHungUp(call),
      onReinvite: (offer) => {
        const r = offer === null ? null : readRemoteSdp(offer);
        if (r !== null) rtp.setRemote(r);
        return rtp.sdp();
      },
    };
    this.#dialTone.reset();
    this.#busy.reset();
    this.#seize();
    this.#log.info({ callId: call.callId, dial: target }, 'landline seized for an outside call');
    s.timer = setTimeout(() => {
      if (this.#state !== s || s.phase !== 'seizing') return;
      this.#log.warn({ callId: call.callId }, 'no dial tone on the landline');
      call.reject(503, 'No Dial Tone');
      this.#release(s.rtp);
    }, this.#d.timing.dialToneTimeoutMs);
  }

  #dialDigits(s: Extract<FxoState, { kind: 'outbound' }>): void {
    if (s.timer !== null) clearTimeout(s.timer);
    s.phase = 'dialing';
    const parts: Int16Array[] = [];
    for (const d of s.digits) {
      if (!isDtmfDigit(d)) continue;
      const { low, high } = digitFrequencies(d);
      // Q.23/Q.24: 80 ms tone, 80 ms pause, −7/−5 dBm0 (high group 2 dB louder).
      parts.push(sines([{ freq: low, dbm0: -7 }, { freq: high, dbm0: -5 }], 640), silence(80));
    }
    const pcm = concat(...parts);
    this.#audio.enqueue(pcm);
    this.#log.info({ callId: s.call.callId, digits: s.digits }, 'dial tone heard: dialling');
    s.timer = setTimeout(() => {
      if (this.#state !== s) return;
      s.phase = 'early';
      this.#busy.reset();
      // 183 with SDP (RFC 3960 gateway model, as chan_dahdi with progress): from now on the caller
      // hears the line itself: the exchange's ringback, busy tone or announcement, before the answer.
      s.earlySdp = s.rtp.sdp();
      s.call.progress(s.earlySdp);
      this.#log.info({ callId: s.call.callId }, 'dialled: 183 with the line\'s audio (early media)');
      // Lines without answer supervision (no polarity reversal): answered once dialled, as Asterisk does.
      if (!this.#d.board.hello?.capabilities.includes('polarity-reversal')) this.#answerOutbound(s);
    }, pcm.length / 8 + 40);
  }

  #answerOutbound(s: Extract<FxoState, { kind: 'outbound' }>): void {
    if (this.#state !== s) return;
    if (s.timer !== null) clearTimeout(s.timer);
    // The 200 repeats the 183's answer byte for byte (RFC 3261 §13.2.1: one offer/answer exchange).
    s.call.answer(s.earlySdp ?? s.rtp.sdp());
    this.#state = { kind: 'talking', call: s.call, rtp: s.rtp };
    this.#busy.reset();
    this.#log.info({ callId: s.call.callId }, 'landline call answered');
  }

  // --- both --------------------------------------------------------------------------------------

  #farEndGone(why: string): void {
    const s = this.#state;
    if (s.kind !== 'talking' && s.kind !== 'outbound') return;
    this.#log.info({ callId: s.call.callId, why }, 'the landline party hung up');
    if (s.kind === 'outbound') {
      if (s.timer !== null) clearTimeout(s.timer);
      s.call.reject(why === 'busy tone' ? 486 : 480);
    } else s.call.hangUp();
    this.#d.endpoint.forget(s.call);
    this.#release(s.rtp);
  }

  #pbxHungUp(call: SipCall): void {
    const s = this.#state;
    this.#d.endpoint.forget(call);
    if ((s.kind === 'talking' || s.kind === 'outbound') && s.call === call) {
      if (s.kind === 'outbound' && s.timer !== null) clearTimeout(s.timer);
      this.#log.info({ callId: call.callId }, 'the office hung up: landline released');
      this.#release(s.rtp);
    }
    if (s.kind === 'inbound-ringing' && s.call === call) s.call = null;
  }

  #seize(): void {
    this.#seized = true;
    this.#loopCurrent = true;
    this.#d.board.send({ kind: 'seize', port: this.#d.port });
  }

  #release(rtp: RtpStream | null): void {
    rtp?.close();
    this.#audio.clearQueue();
    if (this.#seized) this.#d.board.send({ kind: 'release', port: this.#d.port });
    this.#seized = false;
    this.#polarityReversed = false;
    this.#state = { kind: 'idle' };
  }

  close(): void {
    const s = this.#state;
    if (s.kind === 'talking' || s.kind === 'outbound') {
      s.call.hangUp(503);
      this.#release(s.rtp);
    }
    if (s.kind === 'inbound-ringing') {
      s.call?.hangUp();
      s.rtp?.close();
      this.#state = { kind: 'idle' };
    }
  }
}
