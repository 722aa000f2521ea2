/**
 * The virtual receptionist: a call the PBX answers, plays the business-hours or after-hours menu
 * (by the schedule, at the injected clock's time), and sends the caller where the key pressed says.
 *
 * States (one per caller, explicit):
 *   menu       the menu is playing or we wait `timeoutSeconds` for a key; a key stops the prompt
 *   extension  dial-by-extension: digits until # (or a 3 s pause)
 *   ringing    a transfer rings (the caller hears "please hold" and ringback); answered → the call
 *              is handed to the B2BUA and this application stops; no answer → the no-answer
 *              destination, else "no one is available" and the menu again
 *   conference the caller is in a conference room (PIN asked there); the room owns the leg
 *   leaving    a last prompt ("goodbye"), then we hang up
 * Nothing ends in silence: a timeout or a wrong key says so and repeats the menu; after
 * `maxAttempts` the caller goes to the operator if there is one, else hears goodbye.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { MediaEngine, MediaOutput } from '../../media/engine.js';
import type { PromptId, PromptLanguage } from '../../media/prompts/catalog.js';
import type { Country } from '../../media/tones/table.js';
import { decodeWavMono } from '../../media/wav/wav.js';
import type { ApplicationControl, Caller, LocalApplication, RingDecision } from '../../sip/b2bua/types.js';
import type { MenuName, MenuOption, Receptionist } from '../../store/routing-schema.js';
import { parseDestination, type Destination } from '../../store/destination.js';
import { AppLeg } from '../features/app-leg.js';
import type { ConferenceEntry, ConferenceService } from '../features/conference.js';
import { DtmfInput, type KeyPress } from '../features/dtmf-input.js';
import type { MediaClock } from '../features/media-clock.js';
import { Player, playTo, type PlaySource } from '../features/player.js';
import { transferMedia } from '../features/transfer-media.js';
import { defaultMenuPrompts } from './menu-prompts.js';
import { menuAt } from './schedule.js';

/** Where a destination takes a caller of the receptionist. */
export type ReceptionistTarget =
  | { kind: 'ring'; decision: RingDecision; noAnswer: Destination | null }
  | { kind: 'conference'; room: string }
  | { kind: 'receptionist'; receptionist: Receptionist }
  | { kind: 'voicemail'; extension: string }
  | { kind: 'unavailable'; reason: string };

export interface ReceptionistDeps {
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  conference: ConferenceService;
  /** <dataDir>/greetings: uploaded greetings, already 8 kHz mono 16-bit WAV */
  greetingsDir: string;
  /** the extension numbers a caller may dial by extension */
  isExtension(number: string): boolean;
  resolve(destination: Destination, caller: Caller): ReceptionistTarget;
  /** ringback cadence */
  country: Country;
  /** the time the schedule is read at (tests inject it) */
  now?: () => Date;
  /** Hands the caller (this leg) to a voicemail box, which then owns the audio (services/voicemail/). */
  voicemail?(extension: string, callId: string, caller: Caller, leg: AppLeg, hangUp: (reason: string) => void, control: ApplicationControl | null): VoicemailEntry;
}

/** A caller the receptionist handed to a voicemail box: it keeps forwarding INFO keys and the end of the call. */
export interface VoicemailEntry {
  info(contentType: string | null, body: Buffer): void;
  stop(): void;
}

/** Pause that ends dial-by-extension input without # (Asterisk's default digit timeout is 3 s). */
export const EXTENSION_DIGIT_TIMEOUT_MS = 3000;
/** A no-answer destination pointing on to another at most this many times. */
const MAX_HOPS = 5;

type State =
  | { kind: 'menu'; menu: MenuName }
  | { kind: 'extension'; digits: string }
  | { kind: 'ringing' }
  | { kind: 'conference'; entry: ConferenceEntry }
  | { kind: 'voicemail'; entry: VoicemailEntry }
  | { kind: 'leaving' }
  | { kind: 'done' };

export function createReceptionist(deps: ReceptionistDeps, initial: Receptionist, callId: string, caller: Caller): LocalApplication {
  const leg = new AppLeg(deps.engine, callId);
  const player = new Player();
  const log = deps.logger.child({ callId, caller: caller.extension, receptionist: initial.name });
  let config = initial;
  let state: State = { kind: 'done' };
  let attempts = 0;
  let hops = 0;
  let timer: NodeJS.Timeout | null = null;
  let generation = 0;
  let stopPlaying: (() => void) | null = null;
  let output: MediaOutput | null = null;
  let hangUp: (reason: string) => void = () => undefined;
  let control: ApplicationControl | null = null;
  let stopped = false;
  /**
   * Timers, prompt ends, key presses and the transfer's outcome arrive from the event loop: a bug
   * there ends this call (logged), never the process and never in silence for long.
   */
  const safe = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      log.error({ err: error instanceof Error ? error.stack : String(error), what }, 'receptionist failed');
      if (!stopped) hangUp('receptionist error');
    }
  };
  const later = (ms: number, what: string, fn: () => void): NodeJS.Timeout => setTimeout(() => safe(what, fn), ms);
  const dtmf = new DtmfInput((press) => safe('key', () => onKey(press)));
  const language = (): PromptLanguage => config.language;

  const clearTimer = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  /** Says `sources` (barging in on whatever played); `then` runs once they have been heard whole. */
  const say = (sources: PlaySource[], then?: () => void): void => {
    clearTimer();
    const mine = ++generation;
    player.clear();
    try {
      player.play(...sources);
    } catch (error) {
      log.warn({ err: String(error) }, 'prompt unavailable');
    }
    if (then !== undefined) {
      void player.whenIdle().then(() => {
        if (mine === generation && !stopped) safe('prompt end', then);
      });
    }
  };
  const prompts = (ids: PromptId[]): PlaySource[] => ids.map((id) => ({ kind: 'prompt', id, language: language() }));

  const menuSources = (menu: MenuName): PlaySource[] => {
    const greeting = config.menus[menu].greeting;
    if (greeting !== null) {
      try {
        return [{ kind: 'pcm', samples: decodeWavMono(fs.readFileSync(path.join(deps.greetingsDir, greeting))) }];
      } catch (error) {
        log.warn({ err: String(error), greeting }, 'greeting unreadable: default prompts instead');
      }
    }
    return prompts(defaultMenuPrompts(menu, config.menus[menu]));
  };

  const playMenu = (before: PromptId[] = []): void => {
    const menu = menuAt(config, deps.now?.() ?? new Date());
    state = { kind: 'menu', menu };
    log.info({ menu, attempts }, 'menu');
    if (config.menus[menu].options.length === 0) {
      // A menu without keys (an office closed for the night): its message, then goodbye.
      leave([], `${menu} menu has no options`, [...prompts(before), ...menuSources(menu)]);
      return;
    }
    say([...prompts(before), ...menuSources(menu)], () => {
      timer = later(config.timeoutSeconds * 1000, 'menu timeout', () => retry('common.no_input', 'timeout'));
    });
  };

  /** A timeout or a wrong key: say so and repeat, or give up after maxAttempts. */
  const retry = (prompt: PromptId, why: string): void => {
    attempts++;
    log.info({ why, attempts }, 'no valid choice');
    if (attempts < config.maxAttempts) {
      playMenu([prompt]);
      return;
    }
    if (config.operator !== null) {
      attempts = 0;
      go(parseDestination(config.operator), 'operator after too many attempts', [prompt]);
      return;
    }
    leave([prompt], `no valid choice after ${attempts} attempts`);
  };

  const leave = (before: PromptId[], reason: string, message: PlaySource[] = []): void => {
    state = { kind: 'leaving' };
    say([...message, ...prompts([...before, 'common.goodbye'])], () => hangUp(reason));
  };

  const choose = (option: MenuOption): void => {
    log.info({ digit: option.digit, target: option.target }, 'option chosen');
    switch (option.target) {
      case 'repeat':
        playMenu();
        return;
      case 'dial-by-extension':
        state = { kind: 'extension', digits: '' };
        say(prompts(['ivr.enter_extension']), () => {
          timer = later(config.timeoutSeconds * 1000, 'extension timeout', dialled);
        });
        return;
      case 'operator':
        if (config.operator === null) {
          retry('common.invalid_option', 'no operator set');
          return;
        }
        go(parseDestination(config.operator), 'operator');
        return;
      default:
        go(parseDestination(option.target), `key ${option.digit}`);
    }
  };

  const dialled = (): void => {
    if (state.kind !== 'extension') return;
    const digits = state.digits;
    clearTimer();
    if (digits.length === 0) {
      retry('common.no_input', 'no extension dialled');
      return;
    }
    if (!deps.isExtension(digits)) {
      log.info({ digits }, 'dialled extension does not exist');
      retry('ivr.invalid_extension', 'invalid extension');
      return;
    }
    go({ kind: 'extension', number: digits }, 'dial by extension');
  };

  /** Sends the caller to `destination`, after `before` (why we do) when it rings. */
  const go = (destination: Destination, why: string, before: PromptId[] = []): void => {
    const target = deps.resolve(destination, caller);
    log.info({ destination, target: target.kind, why }, 'sending the caller on');
    switch (target.kind) {
      case 'unavailable':
        log.info({ reason: target.reason }, 'destination unavailable');
        attempts = 0;
        playMenu(['ivr.unavailable']);
        return;
      case 'receptionist':
        if (++hops > MAX_HOPS) {
          leave(['ivr.unavailable'], 'receptionist loop');
          return;
        }
        config = target.receptionist;
        attempts = 0;
        playMenu();
        return;
      case 'conference': {
        clearTimer();
        ++generation;
        stopPlaying?.();
        stopPlaying = null;
        state = { kind: 'conference', entry: deps.conference.join(target.room, callId, caller, leg, (reason) => hangUp(reason), { handedOver: true }) };
        return;
      }
      case 'voicemail': {
        if (deps.voicemail === undefined) {
          attempts = 0;
          playMenu(['ivr.unavailable']);
          return;
        }
        clearTimer();
        ++generation;
        stopPlaying?.();
        stopPlaying = null;
        player.clear();
        state = { kind: 'voicemail', entry: deps.voicemail(target.extension, callId, caller, leg, (reason) => hangUp(reason), control) };
        return;
      }
      case 'ring':
        transfer(target.decision, target.noAnswer, before).catch((error: unknown) => {
          log.error({ err: error instanceof Error ? error.stack : String(error) }, 'transfer failed');
          if (!stopped) hangUp('receptionist error');
        });
        return;
    }
  };

  const transfer = async (decision: RingDecision, noAnswer: Destination | null, before: PromptId[]): Promise<void> => {
    if (control === null) {
      // Only a B2BUA without transfers would start us without control: say so rather than ring nothing.
      playMenu(['ivr.unavailable']);
      return;
    }
    state = { kind: 'ringing' };
    // "Please hold…" is heard whole before anything rings (Asterisk plays it before Dial too):
    // a phone that answers at once would otherwise cut it.
    await new Promise<void>((resolve) => say(prompts([...before, 'ivr.transferring']), resolve));
    if (stopped) return;
    say([{ kind: 'tone', country: deps.country, tone: 'ringback', ms: 600_000 }]);
    let media;
    try {
      media = transferMedia(leg, { clock: deps.clock, logger: log });
    } catch (error) {
      log.error({ err: String(error) }, 'no media for the transfer');
      playMenu(['ivr.unavailable']);
      return;
    }
    const outcome = await control.transfer(decision, media);
    if (stopped || outcome.kind === 'answered') return;
    log.info({ status: outcome.status, target: decision.target }, 'transfer not answered');
    if (noAnswer !== null && ++hops <= MAX_HOPS) {
      go(noAnswer, 'no-answer destination');
      return;
    }
    attempts = 0;
    playMenu(['ivr.no_answer']);
  };

  const onKey = (press: KeyPress): void => {
    log.debug({ digit: press.digit, via: press.source, state: state.kind }, 'key');
    switch (state.kind) {
      case 'menu': {
        const option = config.menus[state.menu].options.find((o) => o.digit === press.digit);
        if (option === undefined) {
          retry('common.invalid_option', `key ${press.digit}`);
          return;
        }
        attempts = 0;
        choose(option);
        return;
      }
      case 'extension':
        player.clear();
        ++generation;
        clearTimer();
        if (press.digit === '#') {
          dialled();
          return;
        }
        if (state.digits.length < 6) state.digits += press.digit;
        timer = later(EXTENSION_DIGIT_TIMEOUT_MS, 'extension digit timeout', dialled);
        return;
      default:
        return;
    }
  };

  return {
    answer: (offer) => leg.answer(offer),
    start: (hangUpCall, callControl) => {
      if (stopped) return;
      hangUp = hangUpCall;
      control = callControl ?? null;
      output = leg.attach({ onAudio: (frame) => dtmf.audio(frame), onDtmf: (event) => dtmf.rfc4733(event) });
      stopPlaying = playTo(deps.clock, player, output);
      log.info({ language: config.language }, 'receptionist answered');
      playMenu();
    },
    info: (contentType, body) => {
      if (state.kind === 'conference' || state.kind === 'voicemail') {
        state.entry.info(contentType, body);
        return;
      }
      const error = dtmf.info(contentType, body);
      if (error !== null) log.debug({ error }, 'INFO body is not DTMF');
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearTimer();
      ++generation;
      stopPlaying?.();
      stopPlaying = null;
      player.clear();
      if (state.kind === 'conference' || state.kind === 'voicemail') state.entry.stop();
      state = { kind: 'done' };
      leg.close();
    },
  };
}
