/**
 * Conference rooms (Asterisk ConfBridge-like, simplest profile): dialling a room number joins it.
 * On entry the caller hears "you are the first participant" or how many are in the room, in the
 * language of its extension; the others hear the join tone; * toggles the caller's microphone
 * (with "you are muted" / "you are unmuted" to that caller only); hanging up plays the leave tone
 * to those who remain.
 *
 * Every 20 ms tick of the shared media clock: each member's playout buffer hands one frame to the
 * mixer, the mixer mixes every room once (mix-minus), and each member gets its mix with its own
 * prompt player whispered over it. One clock subscription for all rooms, held while anyone is in.
 */
import { FRAME_SAMPLES } from '../../media/codec/g711.js';
import type { MediaEngine, MediaOutput } from '../../media/engine.js';
import { ConferenceMixer, type ConferenceRoom, type Participant } from '../../media/mixer/room.js';
import { participantCountPrompts, type PromptId, type PromptLanguage } from '../../media/prompts/catalog.js';
import type { Logger } from '../../log.js';
import type { Caller, LocalApplication } from '../../sip/b2bua/types.js';
import { AppLeg } from './app-leg.js';
import { DtmfInput, type KeyPress } from './dtmf-input.js';
import { FrameFifo } from './frame-fifo.js';
import type { MediaClock } from './media-clock.js';
import { mixInto, Player, playTo } from './player.js';

export const CONFERENCE_FIRST_ROOM = 8000;
export const CONFERENCE_LAST_ROOM = 8099;
export const MUTE_KEY = '*';

export interface ConferenceDeps {
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  /** The prompt language of a caller (its extension's language). */
  languageOf(extension: string): PromptLanguage;
  /** Room PINs and the limits (settings in the store); no PIN and the seeds' 10 × 10 without. */
  rooms?: { pin(room: string): string | null; limits(): { maxRooms: number; maxParticipants: number } };
}

/** A caller on its way into a room (PIN asked) or in it: what its call hands DTMF INFO to, and stops. */
export interface ConferenceEntry {
  info(contentType: string | null, body: Buffer): void;
  stop(): void;
}

/** Why a room cannot take one more caller, or null when it can. */
export type RoomRefusal = 'room-full' | 'no-room-free' | null;

/** Keys ignored this long after a hand-over (an RFC 4733 event lasts ~100-250 ms, its end is sent 3 times). */
export const HANDOVER_DEAF_MS = 600;

/** Wrong PINs allowed before the caller is told goodbye (Asterisk ConfBridge's default is 3). */
export const PIN_ATTEMPTS = 3;
/** How long we wait for the PIN (or its next digit) before asking again. */
export const PIN_TIMEOUT_MS = 10_000;

export interface ConferenceSnapshot {
  room: string;
  members: { extension: string; callId: string; muted: boolean }[];
}

interface Member {
  callId: string;
  caller: Caller;
  room: ConferenceRoom;
  participant: Participant;
  output: MediaOutput;
  fifo: FrameFifo;
  player: Player;
  dtmf: DtmfInput;
  language: PromptLanguage;
}

export function isConferenceRoom(dialled: string): boolean {
  if (!/^\d{4}$/.test(dialled)) return false;
  const n = Number(dialled);
  return n >= CONFERENCE_FIRST_ROOM && n <= CONFERENCE_LAST_ROOM;
}

export class ConferenceService {
  readonly #deps: ConferenceDeps;
  readonly #log: Logger;
  readonly #mixer = new ConferenceMixer();
  readonly #members = new Set<Member>();
  #unsubscribe: (() => void) | null = null;
  readonly #inFrame = new Int16Array(FRAME_SAMPLES);
  readonly #outFrame = new Int16Array(FRAME_SAMPLES);
  readonly #whisper = new Int16Array(FRAME_SAMPLES);

  constructor(deps: ConferenceDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ application: 'conference' });
  }

  snapshot(): ConferenceSnapshot[] {
    const rooms = new Map<string, ConferenceSnapshot>();
    for (const m of this.#members) {
      const snap = rooms.get(m.room.id) ?? { room: m.room.id, members: [] };
      snap.members.push({ extension: m.caller.extension, callId: m.callId, muted: m.participant.muted });
      rooms.set(m.room.id, snap);
    }
    return [...rooms.values()];
  }

  /** Whether `room` can take one more caller now (the limits are settings, read at each call). */
  refusal(room: string): RoomRefusal {
    const limits = this.#deps.rooms?.limits() ?? { maxRooms: 10, maxParticipants: 10 };
    const inUse = new Set([...this.#members].map((m) => m.room.id));
    const here = [...this.#members].filter((m) => m.room.id === room).length;
    if (here >= limits.maxParticipants) return 'room-full';
    if (!inUse.has(room) && inUse.size >= limits.maxRooms) return 'no-room-free';
    return null;
  }

  /** The LocalApplication of one caller entering `room`. */
  create(room: string, callId: string, caller: Caller): LocalApplication {
    if (!isConferenceRoom(room)) throw new RangeError(`not a conference room: ${room}`);
    const leg = new AppLeg(this.#deps.engine, callId);
    let entry: ConferenceEntry | null = null;
    let stopped = false;
    return {
      answer: (offer) => leg.answer(offer),
      start: (hangUp) => {
        if (stopped) return;
        entry = this.join(room, callId, caller, leg, hangUp);
      },
      info: (contentType, body) => entry?.info(contentType, body),
      stop: () => {
        if (stopped) return;
        stopped = true;
        entry?.stop();
        leg.close();
      },
    };
  }

  /**
   * A caller whose leg is answered (by the room itself or by the virtual receptionist) enters
   * `room`: the PIN first when the room has one, then the limits, then the mix. `hangUp` ends the
   * caller's call (wrong PIN three times, room full: after a prompt saying so).
   */
  join(room: string, callId: string, caller: Caller, leg: AppLeg, hangUp: (reason: string) => void, options: { handedOver?: boolean } = {}): ConferenceEntry {
    const log = this.#log.child({ callId, extension: caller.extension, room });
    const language = this.#deps.languageOf(caller.extension);
    let member: Member | null = null;
    let stopped = false;
    // Before the mix: one player and one key stream of the caller's own (PIN prompt, refusals).
    const player = new Player();
    let onKey: (press: KeyPress) => void = () => undefined;
    // A leg handed over by the receptionist arrives in the middle of the key that chose the room: a
    // new decoder and detector would take the rest of that key for a new press (the first PIN digit).
    const deafUntil = options.handedOver === true ? performance.now() + HANDOVER_DEAF_MS : 0;
    const dtmf = new DtmfInput((press) => {
      if (performance.now() >= deafUntil) onKey(press);
    });
    let stopPlaying: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    const say = (ids: PromptId[]): void => {
      player.clear();
      try {
        player.play(...ids.map((id) => ({ kind: 'prompt' as const, id, language })));
      } catch (error) {
        log.warn({ err: String(error) }, 'prompt unavailable');
      }
    };
    const openLine = (): void => {
      if (stopPlaying !== null) return;
      const output = leg.attach({ onAudio: (frame) => dtmf.audio(frame), onDtmf: (event) => dtmf.rfc4733(event) });
      stopPlaying = playTo(this.#deps.clock, player, output);
    };
    const closeLine = (): void => {
      stopPlaying?.();
      stopPlaying = null;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };
    const goodbye = (ids: PromptId[], reason: string): void => {
      openLine();
      onKey = () => undefined;
      say([...ids, 'common.goodbye']);
      log.info({ reason }, 'conference refused the caller');
      void player.whenIdle().then(() => {
        if (!stopped) hangUp(reason);
      });
    };
    const admit = (): void => {
      const refused = this.refusal(room);
      if (refused !== null) {
        goodbye([refused === 'room-full' ? 'conf.full' : 'conf.no_rooms'], refused);
        return;
      }
      closeLine();
      member = this.#enter(room, callId, caller, leg, log);
    };
    const pin = this.#deps.rooms?.pin(room) ?? null;
    if (pin === null) {
      admit();
    } else {
      let digits = '';
      let attempts = 0;
      const ask = (ids: PromptId[]): void => {
        digits = '';
        say(ids);
        if (timer !== null) clearTimeout(timer);
        timer = setTimeout(() => wrong('timeout'), PIN_TIMEOUT_MS);
      };
      const wrong = (why: string): void => {
        attempts++;
        log.info({ attempts, why }, 'conference PIN refused');
        if (attempts >= PIN_ATTEMPTS) goodbye(['vm.pin_incorrect'], 'wrong PIN');
        else ask(why === 'timeout' ? ['common.no_input', 'conf.enter_pin'] : ['vm.pin_incorrect', 'conf.enter_pin']);
      };
      onKey = (press) => {
        player.clear();
        if (timer !== null) clearTimeout(timer);
        timer = setTimeout(() => wrong('timeout'), PIN_TIMEOUT_MS);
        if (press.digit !== '#') {
          if (digits.length < 16) digits += press.digit;
          return;
        }
        if (digits === pin) {
          log.info({ via: press.source }, 'conference PIN accepted');
          admit();
        } else {
          wrong('wrong');
        }
      };
      openLine();
      ask(['conf.enter_pin']);
    }
    return {
      info: (contentType, body) => {
        const error = (member?.dtmf ?? dtmf).info(contentType, body);
        if (error !== null) log.debug({ error }, 'INFO body is not DTMF');
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        closeLine();
        if (member !== null) this.#leave(member, log);
      },
    };
  }

  #enter(roomId: string, callId: string, caller: Caller, leg: AppLeg, log: Logger): Member {
    const room = this.#mixer.room(roomId);
    const language = this.#deps.languageOf(caller.extension);
    const fifo = new FrameFifo({ primeFrames: 2, maxFrames: 8 });
    const player = new Player();
    // Nobody to beep for when the room is empty; the join tone is for those already in.
    const participant = room.join(callId, { announce: room.size > 0 });
    let self: Member | null = null;
    const dtmf = new DtmfInput((press) => {
      if (self !== null) this.#key(self, press, log);
    });
    const output = leg.attach({
      onAudio: (frame) => {
        fifo.push(frame);
        dtmf.audio(frame);
      },
      onDtmf: (event) => dtmf.rfc4733(event),
    });
    const member: Member = { callId, caller, room, participant, output, fifo, player, dtmf, language };
    self = member;
    this.#members.add(member);
    try {
      player.play(...participantCountPrompts(room.size).map((id) => ({ kind: 'prompt' as const, id, language })));
    } catch (error) {
      // Prompts not built: the caller still gets the conference, without the greeting.
      log.warn({ err: String(error) }, 'entry prompt unavailable');
    }
    this.#unsubscribe ??= this.#deps.clock.subscribe(() => this.#tick());
    log.info({ participants: room.size, language }, 'entered conference');
    return member;
  }

  #key(member: Member, press: KeyPress, log: Logger): void {
    if (press.digit !== MUTE_KEY) return;
    const muted = !member.participant.muted;
    member.participant.muted = muted;
    member.player.clear();
    try {
      member.player.play({ kind: 'prompt', id: muted ? 'conf.muted' : 'conf.unmuted', language: member.language });
    } catch (error) {
      log.warn({ err: String(error) }, 'mute prompt unavailable');
    }
    log.info({ muted, via: press.source }, muted ? 'muted' : 'unmuted');
  }

  #leave(member: Member, log: Logger): void {
    this.#members.delete(member);
    member.participant.leave();
    if (member.room.size === 0) this.#mixer.closeRoom(member.room.id);
    if (this.#members.size === 0 && this.#unsubscribe !== null) {
      this.#unsubscribe();
      this.#unsubscribe = null;
    }
    log.info({ remaining: member.room.size, ...member.fifo.stats }, 'left conference');
  }

  #tick(): void {
    for (const m of this.#members) {
      if (m.fifo.pull(this.#inFrame) !== 'silent') m.participant.pushFrame(this.#inFrame);
    }
    this.#mixer.tick();
    for (const m of this.#members) {
      const out = this.#outFrame;
      out.set(m.participant.output);
      if (m.player.nextFrame(this.#whisper)) mixInto(out, this.#whisper);
      m.output.sendAudio(out);
    }
  }

  /** Everyone out (shutdown); their calls are hung up by the B2BUA, which calls stop(). */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
