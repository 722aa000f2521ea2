/**
 * Three-way calling on the user's own line, without the conference server (issue 17 item 4; the
 * choice is in docs/decisions.md). A user with two answered calls (one on hold) presses `*3` in the
 * active call: the PBX resumes the held party if its phone was told it is on hold (our own
 * re-INVITE, RFC 3261 §14.1, a=sendrecv) and mixes the three on the anchored media with the
 * existing mix-minus mixer: everyone hears the two others, nobody themself. The user's held leg
 * is set aside while the mix lasts.
 *
 * Dropping a party is hanging up that line: when either call ends, the mix stops and the call
 * that is left goes back to its native bridge (the user talks to the remaining party on the active
 * line, or resumes the held one). This is what an ATA or Asterisk's analog 3-way does on a flash.
 *
 * The in-call code reaches the PBX as SIP INFO (application/dtmf-relay, application/dtmf) or as
 * RFC 4733 telephone-events: the native relay forwards those to the other phone and hands JS a copy
 * (anchored media's onKeyPress, MediaLeg.watchDtmf), so desk phones that send RFC 4733 work too.
 */
import type { Logger } from '../../log.js';
import type { MediaLeg, MediaOutput } from '../../media/engine.js';
import { parseDtmfInfo } from '../../media/dtmf/info.js';
import { ConferenceRoom, type Participant } from '../../media/mixer/room.js';
import { onlyCodec } from '../../media/sdp/only-codec.js';
import type { AnsweredCall, CallSide, CallSummary, InCallHooks } from '../../sip/b2bua/types.js';
import type { AnchoredCall } from '../anchored-media.js';
import { FrameFifo } from '../features/frame-fifo.js';
import type { MediaClock } from '../features/media-clock.js';

/** The in-call code: `*` then `3` within CODE_WINDOW_MS. */
export const THREE_WAY_CODE = '*3';
const CODE_WINDOW_MS = 3000;


export interface ThreeWayDeps {
  /** Answered calls by Call-ID (the B2BUA's). */
  calls(): AnsweredCall[];
  /** The anchored media of a call (services/pbx/anchored-media.ts). */
  media(callId: string): AnchoredCall | undefined;
  clock: MediaClock;
  logger: Logger;
}

export interface ThreeWayFeature extends InCallHooks {
  /**
   * Joins the user on `side` of `call` with their other (held) call: what `*3` does, and what an
   * analog phone's hook flash will ask through the gateway.
   */
  join(call: AnsweredCall, side: CallSide): Promise<void>;
  /** An RFC 4733 key press from `side`'s phone of the call `callId` (anchored media's onKeyPress). */
  keyPress(callId: string, side: CallSide, digit: string): void;
  /** Mixes running now (for tests and status). */
  active(): number;
}

const other = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');

export function createThreeWay(deps: ThreeWayDeps): ThreeWayFeature {
  const log = deps.logger.child({ layer: 'three-way' });
  /** the last key of each call side, to see `*` then `3` */
  const lastKey = new Map<string, { digit: string; at: number }>();
  const mixes = new Set<ThreeWayMix>();
  /** calls whose join is under way (the held party's re-INVITE): a second `*3` waits for it */
  const joining = new Set<string>();

  const userOf = (summary: CallSummary, side: CallSide): string => (side === 'caller' ? summary.caller : summary.callee);

  const join = async (active: AnsweredCall, side: CallSide): Promise<void> => {
    const summary = active.summary();
    const user = userOf(summary, side);
    const held = deps.calls().filter((c) => {
      if (c.callId === active.callId) return false;
      const s = c.summary();
      return s.phase === 'answered' && (s.caller === user || s.callee === user);
    });
    if (held.length !== 1) {
      log.info({ callId: active.callId, extension: user, otherCalls: held.length }, 'three-way asked without exactly one other call: ignored');
      return;
    }
    const second = held[0] as AnsweredCall;
    const secondSide: CallSide = second.summary().caller === user ? 'caller' : 'callee';
    const activeMedia = deps.media(active.callId);
    const heldMedia = deps.media(second.callId);
    if (activeMedia === undefined || heldMedia === undefined) {
      log.warn({ callId: active.callId, extension: user }, 'three-way needs anchored media on both calls');
      return;
    }
    for (const mix of mixes) if (mix.uses(active.callId) || mix.uses(second.callId)) return;
    if (joining.has(active.callId) || joining.has(second.callId)) return;
    joining.add(active.callId).add(second.callId);
    try {
      await resumeAndMix(active, side, second, secondSide, activeMedia, heldMedia, user);
    } finally {
      joining.delete(active.callId);
      joining.delete(second.callId);
    }
  };

  const resumeAndMix = async (
    active: AnsweredCall, side: CallSide, second: AnsweredCall, secondSide: CallSide,
    activeMedia: AnchoredCall, heldMedia: AnchoredCall, user: string,
  ): Promise<void> => {
    const legOf = (call: AnchoredCall, s: CallSide): MediaLeg => (s === 'caller' ? call.caller : call.callee);
    const heldParty = legOf(heldMedia, other(secondSide));
    // The held party's phone was told it is on hold (it may not send): resume it with our own offer.
    if (heldParty.remoteDirection !== undefined && heldParty.remoteDirection !== 'sendrecv') {
      // Only the codec it speaks now: after the three-way the native bridge relays without transcoding.
      const offer = onlyCodec(heldParty.createOffer('sendrecv'), heldParty.negotiatedCodec?.audio.name);
      const answer = await second.reinvite(other(secondSide), Buffer.from(offer));
      if (answer === null) {
        log.warn({ callId: second.callId, extension: user }, 'the held party refused to resume: no three-way');
        return;
      }
      heldParty.acceptAnswer(answer.toString('utf8'));
    }
    const mix = new ThreeWayMix(
      {
        user: legOf(activeMedia, side),
        userHeld: legOf(heldMedia, secondSide),
        heldSession: heldMedia.session,
        parties: [legOf(activeMedia, other(side)), heldParty],
        callIds: [active.callId, second.callId],
      },
      deps.clock,
      log.child({ callId: active.callId, extension: user }),
      () => mixes.delete(mix),
    );
    mixes.add(mix);
    mix.start();
  };

  /** One key of `side` of a call, however it came (SIP INFO or RFC 4733): `*` then `3` joins. */
  const key = (callId: string, side: CallSide, digit: string, call: () => AnsweredCall | undefined): void => {
    const k = `${callId}\n${side}`;
    const now = Date.now();
    const previous = lastKey.get(k);
    lastKey.set(k, { digit, at: now });
    // A few entries per call at most; forget them when the map grows (calls that ended).
    if (lastKey.size > 1000) lastKey.clear();
    if (previous === undefined || now - previous.at > CODE_WINDOW_MS || `${previous.digit}${digit}` !== THREE_WAY_CODE) return;
    lastKey.delete(k);
    const answered = call();
    if (answered === undefined) return; // not answered (early media): no code yet
    join(answered, side).catch((error: unknown) => log.error({ err: String(error), callId }, 'three-way failed'));
  };

  return {
    info(call, side, contentType, body) {
      const parsed = parseDtmfInfo(contentType ?? '', body);
      if (!parsed.ok) return;
      key(call.callId, side, parsed.value.digit, () => call);
    },
    keyPress(callId, side, digit) {
      key(callId, side, digit, () => deps.calls().find((c) => c.callId === callId && c.summary().phase === 'answered'));
    },
    join,
    active: () => mixes.size,
  };
}

interface MixLegs {
  /** the user's leg on the active call (the user talks there) */
  user: MediaLeg;
  /** the user's leg on the held call: set aside while the mix lasts */
  userHeld: MediaLeg;
  heldSession: AnchoredCall['session'];
  /** the two other parties */
  parties: [MediaLeg, MediaLeg];
  callIds: [string, string];
}

interface Member {
  leg: MediaLeg;
  fifo: FrameFifo;
  participant: Participant;
  output: MediaOutput;
}

/** The 3-party mix-minus of one three-way call, on the shared media clock. */
class ThreeWayMix {
  readonly #legs: MixLegs;
  readonly #clock: MediaClock;
  readonly #log: Logger;
  readonly #onEnd: () => void;
  readonly #room = new ConferenceRoom('three-way');
  readonly #members: Member[] = [];
  readonly #frame = new Int16Array(160);
  #unsubscribe: (() => void) | null = null;
  #stopped = false;

  constructor(legs: MixLegs, clock: MediaClock, log: Logger, onEnd: () => void) {
    this.#legs = legs;
    this.#clock = clock;
    this.#log = log;
    this.#onEnd = onEnd;
  }

  uses(callId: string): boolean {
    return this.#legs.callIds.includes(callId);
  }

  start(): void {
    const { user, userHeld, parties } = this.#legs;
    // The held line's own audio would reach the held party through the native bridge: set it aside.
    this.#legs.heldSession.unbridge(userHeld);
    try {
      for (const [i, leg] of [user, ...parties].entries()) {
        const fifo = new FrameFifo({ primeFrames: 2, maxFrames: 8 });
        const participant = this.#room.join(`p${i}`, { announce: i === 2 });
        const output = leg.attach({ onAudio: (frame) => fifo.push(frame), onDetach: () => this.stop('a leg left the mix') });
        this.#members.push({ leg, fifo, participant, output });
        leg.onClose(() => this.stop('a call of the three-way ended'));
      }
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'three-way could not take the legs over');
      this.stop('takeover failed');
      return;
    }
    this.#unsubscribe = this.#clock.subscribe(() => this.#tick());
    this.#log.info({ calls: this.#legs.callIds }, 'three-way call: the user and both parties are mixed');
  }

  #tick(): void {
    for (const m of this.#members) if (m.fifo.pull(this.#frame) !== 'silent') m.participant.pushFrame(this.#frame);
    this.#room.tick();
    for (const m of this.#members) m.output.sendAudio(m.participant.output);
  }

  /** Back to two ordinary calls: every open leg returns to its native bridge. */
  stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    for (const m of this.#members) if (!m.leg.closed) m.leg.detach();
    const { userHeld, heldSession, parties } = this.#legs;
    if (!heldSession.closed && !userHeld.closed && !parties[1].closed) heldSession.bridge(userHeld, parties[1]);
    this.#onEnd();
    this.#log.info({ reason }, 'three-way call ended: back to two calls');
  }
}
