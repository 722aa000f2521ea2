/**
 * One FXS port: an analog phone (or fax machine) made into a SIP user agent, as an ATA does.
 *
 * What the phone's user meets (states, events → what happens):
 *
 * | state      | event                    | next, and what is heard                                          |
 * |------------|--------------------------|------------------------------------------------------------------|
 * | idle       | off-hook                 | dialing: dial tone (stutter dial tone while voicemail waits)      |
 * | idle       | INVITE                   | ringing: the country's cadence, caller ID after the first ring   |
 * | ringing    | off-hook                 | talking (200 OK)                                                 |
 * | ringing    | CANCEL / BYE             | idle                                                             |
 * | dialing    | digit (DTMF or pulse)    | dial tone stops; complete number → calling                      |
 * | dialing    | inter-digit timeout      | calling (what was dialled), or reorder when nothing              |
 * | dialing    | no digit for dialToneMs  | reorder, then the howler (permanent signal)                     |
 * | calling    | 180 / 183+SDP            | local ringback / the far end's early media                      |
 * | calling    | 200                      | talking                                                          |
 * | calling    | 486 / other failure      | busy / reorder, then the howler                                 |
 * | talking    | BYE from the far end     | busy tone, then the howler; or recall of a held call            |
 * | talking    | INVITE (call waiting)    | call-waiting tone, CAS; caller ID if the phone ACKs; 180 back     |
 * | talking    | flash                    | answer the waiting call (hold this one), else hold + dial tone   |
 * | talking 2  | flash                    | three-way (second call answered) / swap (call waiting)          |
 * | any        | on-hook                  | hang up; a second call transfers (REFER) or rings back (recall) |
 *
 * Hold is a re-INVITE with a=sendonly, transfer a REFER (RFC 3515) of the held call: with Replaces
 * of the consultation when it was answered (attended), to the number dialled when it still rang (blind), three-way is mixed here (the phone hears both, each hears the other
 * and the phone). CNG/CED in either direction switches the call to fax mode (fixed jitter buffer,
 * no concealment) and re-INVITEs the far end.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import { muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { DtmfDetector } from '../../services/media/dtmf/detector.js';
import type { Country } from '../../services/media/tones/table.js';
import type { Logger } from '../../services/log.js';
import type { RawHeader } from '../../services/sip/message.js';
import type { AnalogBoard, PortId } from '../board.js';
import { portName } from '../board.js';
import { encodeCallerId, type CallerId } from '../dsp/callerid-encode.js';
import { FaxToneDetector } from '../dsp/tone-detect.js';
import { dialVerdict } from './digit-map.js';
import { readRemoteSdp, RtpStream } from './media.js';
import { alertingSignal, callerIdWindow, PortAudio, RING_CADENCE, silentFrame, type PortTone } from './signals.js';
import { SipCall, sipUri } from './sip-call.js';
import type { SipEndpoint } from './sip-endpoint.js';

export interface FxsTiming {
  /** Digits after the first: the number is dialled after this much silence (Asterisk/ATA: 4 s). */
  interDigitMs: number;
  /** Dial tone with no digit before reorder (Telcordia permanent signal: 10–20 s). */
  dialToneMs: number;
  /** Busy/reorder before the howler. */
  reorderMs: number;
}

export const DEFAULT_FXS_TIMING: FxsTiming = { interDigitMs: 4000, dialToneMs: 15_000, reorderMs: 15_000 };

export interface FxsIdentity {
  extension: string;
  displayName: string;
  secret: string;
}

export interface FxsPortDeps {
  board: AnalogBoard;
  port: PortId;
  endpoint: SipEndpoint;
  logger: Logger;
  /** Loopback address of the RTP sockets. */
  rtpAddress: string;
  timing: FxsTiming;
  /** Internal numbers (extensions, groups, receptionists) for the digit map. */
  internalNumbers(): string[];
  now?: () => Date;
  /** T.38 fax relay allowed on this call (asked when its media opens; fax-relay.ts). */
  t38?: () => boolean;
}

interface Line {
  call: SipCall;
  rtp: RtpStream;
  /** Dialled number (outgoing) — the target of a transfer. */
  dialled: string | null;
  answered: boolean;
  held: boolean;
  /** The far end sent SDP in a provisional: play its audio instead of local ringback. */
  earlyMedia: boolean;
}

export type FxsActivity = 'idle' | 'ringing' | 'dialing' | 'calling' | 'talking' | 'three-way' | 'held' | 'fax' | 'tone' | 'recall';

export class FxsPort {
  readonly name: string;
  readonly #d: FxsPortDeps;
  readonly #log: Logger;
  #identity: FxsIdentity | null = null;
  #country: Country = 'US';
  #offHook = false;
  #activity: FxsActivity = 'idle';
  #audio = new PortAudio();
  #dtmf = new DtmfDetector();
  #fax = new FaxToneDetector();
  #farFax = new FaxToneDetector();
  #digits = '';
  #dtmfArmed = false;
  #timer: NodeJS.Timeout | null = null;
  #ringTimer: NodeJS.Timeout | null = null;
  /** The call the phone talks on, and the one on hold (after a flash). */
  #active: Line | null = null;
  #held: Line | null = null;
  #conference = false;
  /** A second incoming call while talking (call waiting). */
  #waiting: SipCall | null = null;
  #cwTimer: NodeJS.Timeout | null = null;
  /** An incoming call ringing the phone (on-hook). */
  #ringing: SipCall | null = null;
  /** A held call ringing the phone back after the user hung up on the other one. */
  #recall = false;
  #messagesWaiting = false;
  #cidAckWait: { until: number; id: CallerId } | null = null;
  /** During the call-waiting signal sequence the far end hears silence (GR-575: both parties muted). */
  #cwMuteUntil = 0;
  #ringCommand: number[] | null = null;

  constructor(deps: FxsPortDeps) {
    this.#d = deps;
    this.name = portName(deps.port);
    this.#log = deps.logger.child({ port: this.name });
    deps.endpoint.addPort(this.name, {
      onInvite: (call) => this.#incoming(call),
      onNotify: (request) => this.#notify(request.body.toString('utf8'), request.headers),
    });
  }

  get activity(): FxsActivity {
    return this.#activity;
  }

  get offHook(): boolean {
    return this.#offHook;
  }

  get messagesWaiting(): boolean {
    return this.#messagesWaiting;
  }

  get identity(): FxsIdentity | null {
    return this.#identity;
  }

  configure(identity: FxsIdentity | null, country: Country): void {
    this.#identity = identity;
    this.#country = country;
  }

  /** After a board reset: ringing again if it rang (the board forgot). */
  reapply(): void {
    if (this.#ringCommand !== null) this.#d.board.send({ kind: 'ring', port: this.#d.port, cadenceMs: this.#ringCommand });
  }

  /** Nothing going on: on-hook, not ringing, no call up, held or waiting (a pause of the JS thread cuts no audio). */
  get idle(): boolean {
    return !this.#offHook && this.#activity === 'idle' && this.#active === null && this.#held === null && this.#waiting === null && this.#ringing === null;
  }

  detail(): string {
    const parts: string[] = [this.#activity];
    if (this.#offHook) parts.push('off-hook');
    if (this.#active?.rtp.mode === 'fax') parts.push(this.#active.rtp.relaying ? 'fax mode (T.38)' : 'fax mode');
    if (this.#held !== null) parts.push('call on hold');
    if (this.#waiting !== null) parts.push('call waiting');
    if (this.#messagesWaiting) parts.push('voicemail waiting');
    return parts.join(', ');
  }

  // --- board events ------------------------------------------------------------------------------

  hook(offHook: boolean): void {
    if (offHook === this.#offHook) return;
    this.#offHook = offHook;
    this.#log.info({ offHook }, offHook ? 'off-hook' : 'on-hook');
    if (offHook) this.#onOffHook();
    else this.#onOnHook();
  }

  flash(): void {
    if (!this.#offHook) return;
    this.#log.info({ activity: this.#activity }, 'hook flash');
    void this.#onFlash();
  }

  pulseDigit(digit: string): void {
    if (this.#activity === 'dialing') this.#digit(digit);
  }

  /** 20 ms of µ-law from the phone. */
  fromPhone(frame: Buffer): void {
    if (!this.#offHook) return;
    const pcm = muLawDecode(frame);
    if (this.#activity === 'dialing' || this.#cidAckWait !== null) {
      const events = this.#dtmf.process(pcm);
      // A digit already sounding when dial tone came (the tail of the last one before a flash) is not
      // a new digit: dialling is armed once the line is free of DTMF.
      if (!this.#dtmfArmed) {
        if (this.#dtmf.activeDigit === undefined) this.#dtmfArmed = true;
        return;
      }
      for (const event of events) {
        if (event.type !== 'start') continue;
        if (this.#cidAckWait !== null && (event.digit === 'D' || event.digit === 'A')) {
          this.#sendTypeTwoCallerId();
          continue;
        }
        if (this.#activity === 'dialing') this.#digit(event.digit);
      }
    }
    const active = this.#active;
    if (active === null || !active.answered || active.held) return;
    if (active.rtp.mode === 'voice') {
      const tone = this.#fax.push(pcm);
      if (tone !== null) void this.#toFax(active, `${tone} from the phone`);
    }
    if (this.#conference && this.#held !== null) {
      // Three-way: each far end hears the phone and the other far end.
      const other = this.#held;
      active.rtp.send(mixFrames(frame, this.#lastFrom.get(other) ?? null));
      other.rtp.send(mixFrames(frame, this.#lastFrom.get(active) ?? null));
      return;
    }
    active.rtp.send(Date.now() < this.#cwMuteUntil ? silentFrame() : frame);
  }

  readonly #lastFrom = new Map<Line, Buffer>();

  /** The next 20 ms toward the phone (the gateway's clock). */
  toPhone(nowMs: number): Buffer {
    const local = this.#audio.next();
    const active = this.#active;
    // Media of the calls is pulled every tick, even under a local tone, so the buffers stay drained.
    let media: Buffer | null = null;
    if (active !== null && (active.answered || active.earlyMedia)) {
      media = active.rtp.pull(nowMs);
      if (active.answered && active.rtp.mode === 'voice') {
        const tone = this.#farFax.push(muLawDecode(media));
        if (tone !== null) void this.#toFax(active, `${tone} from the far end`);
      }
      if (this.#conference && this.#held !== null) {
        const other = this.#held.rtp.pull(nowMs);
        this.#lastFrom.set(active, media);
        this.#lastFrom.set(this.#held, other);
        media = mixFrames(media, other);
      }
    } else if (this.#held !== null) {
      this.#held.rtp.pull(nowMs);
    }
    return local ?? media ?? silentFrame();
  }

  // --- SIP ---------------------------------------------------------------------------------------

  #incoming(call: SipCall): void {
    if (this.#identity === null) {
      call.reject(480);
      return;
    }
    call.handlers = {
      onCancelled: () => this.#callGone(call, 'cancelled'),
      onEnded: () => this.#callGone(call, 'remote hung up'),
      onReinvite: (offer) => this.#reinvited(call, offer),
    };
    if (!this.#offHook && this.#ringing === null && this.#active === null) {
      this.#ringing = call;
      this.#activity = 'ringing';
      call.ringing();
      this.#startRinging(call.callerId());
      return;
    }
    // Call waiting: only while talking on one call, with nothing else pending (Telcordia GR-571).
    if (this.#offHook && this.#active?.answered === true && this.#held === null && this.#waiting === null && this.#active.rtp.mode === 'voice') {
      this.#waiting = call;
      call.ringing();
      this.#log.info({ callId: call.callId, from: call.callerId().number }, 'call waiting');
      this.#callWaitingTone(call);
      return;
    }
    call.reject(486);
  }

  #startRinging(id: { number: string | null; name: string | null }): void {
    const cadence = [...RING_CADENCE[this.#country]];
    this.#ringCommand = cadence;
    this.#d.board.send({ kind: 'ring', port: this.#d.port, cadenceMs: cadence });
    const window = callerIdWindow(cadence);
    const callerId: CallerId = { number: id.number, name: id.name, when: this.#d.now?.() ?? new Date(), ...(id.number === null && { numberAbsent: 'private' as const }) };
    this.#clearRingTimer();
    this.#ringTimer = setTimeout(() => {
      if (this.#ringing === null || this.#offHook) return;
      const pcm = encodeCallerId(callerId, this.#country);
      this.#audio.clearQueue();
      this.#audio.enqueue(pcm);
      this.#log.info({ number: id.number, name: id.name, ms: Math.round(pcm.length / 8), deadlineMs: window.endMs - window.startMs }, 'caller ID sent between rings');
    }, window.startMs);
  }

  #stopRinging(): void {
    this.#clearRingTimer();
    if (this.#ringCommand !== null) this.#d.board.send({ kind: 'ring-stop', port: this.#d.port });
    this.#ringCommand = null;
    this.#audio.clearQueue();
  }

  #clearRingTimer(): void {
    if (this.#ringTimer !== null) clearTimeout(this.#ringTimer);
    this.#ringTimer = null;
  }

  #callWaitingTone(call: SipCall): void {
    // SAS (the country's call-waiting tone, first burst), then CAS; caller ID once the phone ACKs.
    const id = call.callerId();
    const beep = (): void => {
      if (this.#waiting !== call) return;
      this.#audio.setTone(this.#country, null);
      this.#audio.enqueue(toneBurst(this.#country));
      this.#audio.enqueue(new Int16Array(8 * 50));
      this.#audio.enqueue(alertingSignal());
      // The far end stays muted while the phone may acknowledge (GR-30: ≤ 160 ms after CAS).
      this.#audio.enqueue(new Int16Array(8 * 160));
      this.#dtmf.reset();
      this.#dtmfArmed = true;
      this.#cidAckWait = { until: Date.now() + 300 + 50 + 80 + 160, id: { number: id.number, name: id.name, when: this.#d.now?.() ?? new Date() } };
      this.#cwMuteUntil = Date.now() + 300 + 50 + 80 + 160 + 100;
      this.#cwTimer = setTimeout(beep, 10_000);
    };
    beep();
  }

  #sendTypeTwoCallerId(): void {
    const wait = this.#cidAckWait;
    this.#cidAckWait = null;
    if (wait === null || Date.now() > wait.until + 500) {
      this.#log.info('call-waiting acknowledgement too late: no caller ID');
      return;
    }
    // GR-30: FSK 50–500 ms after the ACK; what is left of the ACK window's silence is dropped.
    const fsk = encodeCallerId(wait.id, this.#country, { offHook: true });
    this.#audio.clearQueue();
    this.#audio.enqueue(new Int16Array(8 * 60));
    this.#audio.enqueue(fsk);
    this.#cwMuteUntil = Date.now() + 60 + fsk.length / 8 + 100;
    this.#log.info({ number: wait.id.number, name: wait.id.name }, 'call-waiting caller ID sent');
  }

  #notify(body: string, headers: RawHeader[]): number {
    const event = headers.find((h) => h.name.toLowerCase() === 'event')?.value.trim().toLowerCase();
    if (event !== undefined && !event.startsWith('message-summary')) return 489;
    const match = /^messages-waiting:\s*(yes|no)/im.exec(body);
    if (match === null) return 400;
    this.#messagesWaiting = (match[1] as string).toLowerCase() === 'yes';
    this.#log.info({ messagesWaiting: this.#messagesWaiting }, 'message waiting indication');
    if (this.#activity === 'dialing' && this.#digits === '') this.#audio.setTone(this.#country, this.#messagesWaiting ? 'stutterDial' : 'dial');
    return 200;
  }

  #reinvited(call: SipCall, offer: Buffer | null): Buffer | null {
    const line = this.#lineOf(call);
    if (line === null) return null;
    if (offer !== null) {
      // The far end moves the fax to T.38 (a fax server's re-INVITE): our relay answers, if allowed.
      const t38 = line.answered ? line.rtp.answerT38(offer) : null;
      if (t38 !== null) {
        this.#activity = 'fax';
        this.#log.info({ callId: call.callId }, 'fax: T.38 accepted, the gateway relays T.30 audio to T.38');
        return t38;
      }
      const remote = readRemoteSdp(offer);
      if (remote === null || !remote.pcmu) return null;
      line.rtp.setRemote(remote);
    }
    return line.rtp.sdp();
  }

  #lineOf(call: SipCall): Line | null {
    if (this.#active?.call === call) return this.#active;
    if (this.#held?.call === call) return this.#held;
    return null;
  }

  /** A call ended from the far side (BYE, CANCEL, failure). */
  #callGone(call: SipCall, reason: string): void {
    this.#d.endpoint.forget(call);
    if (this.#ringing === call) {
      this.#ringing = null;
      this.#stopRinging();
      this.#recall = false;
      if (this.#held !== null) this.#closeLine(this.#held);
      this.#held = null;
      this.#activity = this.#offHook ? 'tone' : 'idle';
      return;
    }
    if (this.#waiting === call) {
      this.#waiting = null;
      this.#cidAckWait = null;
      if (this.#cwTimer !== null) clearTimeout(this.#cwTimer);
      return;
    }
    if (this.#held?.call === call) {
      this.#closeLine(this.#held);
      this.#held = null;
      this.#conference = false;
      if (this.#recall) {
        this.#recall = false;
        this.#stopRinging();
        this.#activity = 'idle';
      }
      if (this.#active !== null) this.#activity = 'talking';
      return;
    }
    if (this.#active?.call === call) {
      this.#closeLine(this.#active);
      this.#active = null;
      this.#log.info({ callId: call.callId, reason }, 'far end hung up');
      if (this.#conference && this.#held !== null) {
        // Three-way: the other party stays.
        this.#conference = false;
        this.#active = this.#held;
        this.#held = null;
        void this.#setHold(this.#active, false);
        this.#activity = 'talking';
        return;
      }
      if (!this.#offHook) {
        this.#activity = 'idle';
        return;
      }
      if (this.#held !== null) {
        // The consultation ended: back to the held call.
        this.#active = this.#held;
        this.#held = null;
        void this.#setHold(this.#active, false);
        this.#activity = 'talking';
        return;
      }
      this.#failTone('busy');
    }
  }

  // --- hook --------------------------------------------------------------------------------------

  #onOffHook(): void {
    this.#clearTimer();
    if (this.#ringing !== null) {
      const call = this.#ringing;
      this.#ringing = null;
      this.#stopRinging();
      if (this.#recall && this.#held !== null) {
        // Recall answered: the held call comes back.
        this.#recall = false;
        this.#active = this.#held;
        this.#held = null;
        void this.#setHold(this.#active, false);
        this.#activity = 'talking';
        return;
      }
      void this.#answer(call);
      return;
    }
    this.#startDialing();
  }

  #onOnHook(): void {
    this.#clearTimer();
    this.#audio.setTone(this.#country, null);
    this.#audio.clearQueue();
    this.#cidAckWait = null;
    this.#dtmf.reset();
    const active = this.#active;
    const held = this.#held;
    if (this.#waiting !== null) {
      // Hanging up with a call waiting: the current call ends and the waiting one rings (GR-571).
      const waiting = this.#waiting;
      this.#waiting = null;
      if (this.#cwTimer !== null) clearTimeout(this.#cwTimer);
      if (active !== null) this.#hangUpLine(active);
      this.#active = null;
      this.#ringing = waiting;
      this.#activity = 'ringing';
      this.#startRinging(waiting.callerId());
      return;
    }
    if (this.#conference && active !== null && held !== null) {
      this.#hangUpLine(active);
      this.#hangUpLine(held);
      this.#active = null;
      this.#held = null;
      this.#conference = false;
      this.#activity = 'idle';
      return;
    }
    if (held !== null && active !== null && active.dialled !== null) {
      // Hanging up during a consultation transfers the held call (attended, or blind while it rings).
      void this.#transfer(held, active);
      this.#active = null;
      this.#held = null;
      this.#activity = 'idle';
      return;
    }
    if (active !== null) this.#hangUpLine(active);
    this.#active = null;
    if (held !== null) {
      // A call still on hold rings the phone back rather than being lost.
      this.#recall = true;
      this.#ringing = held.call;
      this.#activity = 'recall';
      this.#startRinging(held.call.direction === 'incoming' ? held.call.callerId() : { number: held.dialled, name: null });
      return;
    }
    this.#activity = 'idle';
    this.#digits = '';
  }

  async #onFlash(): Promise<void> {
    const active = this.#active;
    // Call waiting: answer the new call, the current one goes on hold.
    if (this.#waiting !== null && active !== null) {
      const waiting = this.#waiting;
      this.#waiting = null;
      this.#cidAckWait = null;
      if (this.#cwTimer !== null) clearTimeout(this.#cwTimer);
      this.#audio.clearQueue();
      await this.#setHold(active, true);
      this.#held = active;
      this.#active = null;
      await this.#answer(waiting);
      return;
    }
    // Two calls: swap (call waiting), three-way (consultation answered), or drop the unanswered one.
    if (active !== null && this.#held !== null) {
      if (this.#conference) {
        // Flash in a three-way drops the last party added (Bellcore three-way calling).
        this.#conference = false;
        this.#hangUpLine(active);
        this.#active = this.#held;
        this.#held = null;
        this.#activity = 'talking';
        return;
      }
      if (active.dialled !== null) {
        if (!active.answered) {
          this.#hangUpLine(active);
          this.#active = this.#held;
          this.#held = null;
          await this.#setHold(this.#active, false);
          this.#activity = 'talking';
          return;
        }
        await this.#setHold(this.#held, false);
        this.#conference = true;
        this.#activity = 'three-way';
        this.#log.info('three-way call');
        return;
      }
      const held = this.#held;
      await this.#setHold(active, true);
      await this.#setHold(held, false);
      this.#held = active;
      this.#active = held;
      this.#activity = 'talking';
      return;
    }
    // One call: hold it and give dial tone for a second.
    if (active !== null && active.answered) {
      await this.#setHold(active, true);
      this.#held = active;
      this.#active = null;
      this.#startDialing();
      return;
    }
    // Dial tone with a held call and nothing dialled: back to it.
    if (active === null && this.#held !== null) {
      this.#clearTimer();
      this.#audio.setTone(this.#country, null);
      this.#active = this.#held;
      this.#held = null;
      await this.#setHold(this.#active, false);
      this.#activity = 'talking';
    }
  }

  // --- dialling ----------------------------------------------------------------------------------

  #startDialing(): void {
    this.#digits = '';
    this.#dtmfArmed = false;
    if (this.#identity === null) {
      // Not in service: the phone gets reorder at once (no extension assigned).
      this.#failTone('congestion');
      return;
    }
    this.#activity = 'dialing';
    this.#audio.setTone(this.#country, this.#messagesWaiting && this.#held === null ? 'stutterDial' : 'dial');
    this.#setTimer(this.#d.timing.dialToneMs, () => {
      this.#log.info('no digit dialled: permanent signal');
      this.#failTone('congestion');
    });
  }

  #digit(digit: string): void {
    // A '#' first means nothing (often the tail of the '#' that ended the previous number).
    if (this.#digits === '' && digit === '#') return;
    this.#audio.setTone(this.#country, null);
    this.#digits += digit;
    const verdict = dialVerdict(this.#digits, this.#country as CountryCode, this.#d.internalNumbers());
    if (verdict.kind === 'complete') {
      this.#dial(verdict.number);
      return;
    }
    this.#setTimer(this.#d.timing.interDigitMs, () => {
      const number = this.#digits.replace(/#$/, '');
      if (number === '') this.#failTone('congestion');
      else this.#dial(number);
    });
  }

  #dial(number: string): void {
    this.#clearTimer();
    const identity = this.#identity;
    if (identity === null) return;
    this.#activity = 'calling';
    this.#log.info({ dialled: number }, 'dialling');
    void RtpStream.open(this.#d.rtpAddress, { t38: this.#d.t38?.() === true }).then((rtp) => {
      if (!this.#offHook || this.#activity !== 'calling') {
        rtp.close();
        return;
      }
      const call = SipCall.dial(
        this.#d.endpoint.ctx,
        {
          contactUser: this.name,
          fromUser: identity.extension,
          fromName: identity.displayName,
          toUser: number,
          credentials: { username: identity.extension, password: identity.secret },
          sdp: rtp.sdp(),
        },
        (c) => this.#d.endpoint.track(c),
        {},
      );
      const line: Line = { call, rtp, dialled: number, answered: false, held: false, earlyMedia: false };
      this.#active = line;
      call.handlers = {
        onProgress: (_status, sdp) => {
          if (this.#active !== line) return;
          const remote = sdp === null ? null : readRemoteSdp(sdp);
          if (remote !== null) {
            rtp.setRemote(remote);
            line.earlyMedia = true;
            this.#audio.setTone(this.#country, null);
          } else if (!line.earlyMedia) this.#audio.setTone(this.#country, 'ringback');
        },
        onAnswered: (sdp) => {
          const remote = sdp === null ? null : readRemoteSdp(sdp);
          if (remote !== null) rtp.setRemote(remote);
          line.answered = true;
          if (this.#active === line) {
            this.#audio.setTone(this.#country, null);
            this.#activity = 'talking';
          }
          this.#log.info({ callId: call.callId, dialled: number }, 'call answered');
        },
        onFailed: (status, reason) => {
          this.#d.endpoint.forget(call);
          this.#log.info({ callId: call.callId, status, reason }, 'call failed');
          if (this.#active !== line) return;
          this.#closeLine(line);
          this.#active = null;
          if (this.#held !== null) {
            // The consultation failed: the user hears it, then flashes back (or we return on hang-up).
            this.#failTone(status === 486 || status === 600 ? 'busy' : 'congestion', false);
            return;
          }
          this.#failTone(status === 486 || status === 600 ? 'busy' : 'congestion');
        },
        onEnded: () => this.#callGone(call, 'remote hung up'),
        onReinvite: (offer) => this.#reinvited(call, offer),
      };
    });
  }

  async #answer(call: SipCall): Promise<void> {
    const offer = call.request.body;
    const remote = offer.length > 0 ? readRemoteSdp(offer) : null;
    if (remote === null || !remote.pcmu) {
      call.reject(488);
      this.#d.endpoint.forget(call);
      this.#activity = 'idle';
      return;
    }
    const rtp = await RtpStream.open(this.#d.rtpAddress, { t38: this.#d.t38?.() === true });
    rtp.setRemote(remote);
    const line: Line = { call, rtp, dialled: null, answered: true, held: false, earlyMedia: false };
    this.#active = line;
    this.#activity = 'talking';
    this.#fax.reset();
    this.#farFax.reset();
    call.answer(rtp.sdp());
    this.#log.info({ callId: call.callId, from: call.callerId().number }, 'answered');
  }

  async #setHold(line: Line, held: boolean): Promise<void> {
    line.held = held;
    line.rtp.direction = held ? 'sendonly' : 'sendrecv';
    const answer = await line.call.reinvite(line.rtp.sdp());
    if (answer !== null) {
      const remote = readRemoteSdp(answer);
      if (remote !== null) line.rtp.setRemote(remote);
    }
    this.#log.info({ callId: line.call.callId, held, accepted: answer !== null }, held ? 'call held' : 'call resumed');
  }

  /**
   * On-hook during a consultation (what ATAs do, e.g. Cisco SPA "transfer on hang-up"): the
   * consultation answered → attended transfer (RFC 5589 §7: REFER of the held call with a Refer-To
   * carrying Replaces of the consultation; the pbx joins the two far parties and BYEs both our legs);
   * still ringing → blind transfer (§6: the consultation is cancelled, the held party is sent to the
   * number dialled). A refused or failed REFER rings the phone back for the held party (recall).
   */
  async #transfer(held: Line, consultation: Line): Promise<void> {
    const ctx = this.#d.endpoint.ctx;
    const target = sipUri(consultation.dialled as string, ctx.pbxHost, ctx.pbx.port);
    const replaces = consultation.answered ? consultation.call.replaces() : null;
    const kind = replaces === null ? 'blind' : 'attended';
    if (replaces !== null) target.headers.set('Replaces', encodeURIComponent(replaces));
    else this.#hangUpLine(consultation);
    const status = await held.call.refer(target);
    // A target the pbx refuses at once (unknown number, no permission) is told in the first NOTIFY.
    const outcome = status >= 200 && status < 300 ? await held.call.referOutcome(kind === 'attended' ? 3000 : 500) : status;
    const accepted = status >= 200 && status < 300 && (outcome === null || (outcome >= 200 && outcome < 300));
    this.#log.info({ callId: held.call.callId, target: consultation.dialled, kind, status, outcome }, accepted ? `${kind} transfer accepted` : `${kind} transfer refused`);
    if (accepted) {
      // Blind: the pbx rings the target, and rings this port back itself if nobody answers (RFC 5589
      // §6: the transferor may leave after the 202). Attended: the pbx sends its BYEs right after
      // the NOTIFY 200; ours, a second later, only end what it did not.
      if (kind === 'blind') this.#hangUpLine(held);
      else {
        setTimeout(() => {
          this.#hangUpLine(held);
          this.#hangUpLine(consultation);
        }, 1000).unref();
      }
      return;
    }
    if (kind === 'attended') this.#hangUpLine(consultation);
    // Refused: the held party is not lost, the phone rings back for it (recall).
    if (!this.#offHook && this.#active === null && this.#held === null && this.#ringing === null && held.call.state === 'confirmed') {
      this.#held = held;
      this.#recall = true;
      this.#ringing = held.call;
      this.#activity = 'recall';
      this.#startRinging(held.call.direction === 'incoming' ? held.call.callerId() : { number: held.dialled, name: null });
      return;
    }
    this.#hangUpLine(held);
  }

  async #toFax(line: Line, why: string): Promise<void> {
    if (line.rtp.mode === 'fax') return;
    line.rtp.setMode('fax');
    this.#activity = 'fax';
    this.#log.info({ callId: line.call.callId, why }, 'fax detected: G.711 passthrough, fixed jitter buffer, no concealment');
    // T.38 first when allowed (an ATA's "T.38 with fallback"); a refusal keeps the call, then G.711.
    const t38Offer = line.rtp.t38Offer();
    if (t38Offer !== null) {
      const t38Answer = await line.call.reinvite(t38Offer);
      if (t38Answer !== null && line.rtp.acceptT38(t38Answer)) {
        this.#log.info({ callId: line.call.callId }, 'fax: T.38 accepted by the far end, the gateway relays');
        return;
      }
      if (line.rtp.relaying) return; // the far end's own T.38 re-INVITE won meanwhile
    }
    const answer = await line.call.reinvite(line.rtp.sdp());
    if (answer !== null) {
      const remote = readRemoteSdp(answer);
      if (remote !== null) line.rtp.setRemote(remote);
    }
  }

  // --- helpers -----------------------------------------------------------------------------------

  #failTone(tone: 'busy' | 'congestion', thenHowler = true): void {
    this.#activity = 'tone';
    this.#audio.setTone(this.#country, tone);
    if (!thenHowler) return;
    this.#setTimer(this.#d.timing.reorderMs, () => {
      this.#log.warn('receiver left off-hook: howler');
      this.#audio.setTone(this.#country, 'howler' as PortTone);
    });
  }

  #hangUpLine(line: Line): void {
    line.call.hangUp();
    this.#d.endpoint.forget(line.call);
    this.#closeLine(line);
  }

  #closeLine(line: Line): void {
    line.rtp.close();
    this.#lastFrom.delete(line);
  }

  #setTimer(ms: number, fn: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      fn();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** The port goes out of service (unassigned, process stopping): every call ends. */
  close(): void {
    this.#clearTimer();
    this.#stopRinging();
    for (const line of [this.#active, this.#held]) if (line !== null) this.#hangUpLine(line);
    this.#active = null;
    this.#held = null;
    this.#ringing?.hangUp(480);
    this.#waiting?.hangUp(486);
    this.#ringing = null;
    this.#waiting = null;
    if (this.#cwTimer !== null) clearTimeout(this.#cwTimer);
    this.#d.endpoint.removePort(this.name);
  }
}

/** The first burst of the country's call-waiting tone (the subscriber alerting signal). */
function toneBurst(country: Country): Int16Array {
  const audio = new PortAudio();
  audio.setTone(country, 'callWaiting');
  const out: Int16Array[] = [];
  for (let i = 0; i < 15; i++) out.push(muLawDecode(audio.next() ?? silentFrame()));
  const pcm = new Int16Array(out.length * 160);
  out.forEach((f, i) => pcm.set(f, i * 160));
  return pcm;
}

/** Sum of two µ-law frames (saturating), for three-way calls. */
function mixFrames(a: Buffer, b: Buffer | null): Buffer {
  if (b === null) return a;
  const x = muLawDecode(a);
  const y = muLawDecode(b);
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = (x[i] as number) + (y[i] ?? 0);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return Buffer.from(muLawEncode(out));
}
