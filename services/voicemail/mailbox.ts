/**
 * Listening by phone: `*97` (the caller's own box) and `*98` (any box, asked first).
 *
 * States (explicit):
 *   box       *98: "enter your mailbox number" — digits until # (3 tries)
 *   pin       "enter your PIN" — digits until #; wrong: "incorrect" (logged), after maxPinAttempts goodbye
 *   main      "you have N new messages (and M saved)"; 1 play, 0 options, * help, # exit
 *   message   a message plays (new first, oldest first inside): 3 envelope, 4 previous, 5 repeat,
 *             6 next, 7 delete, 9 save, * help, # exit; a message heard moves to the old folder
 *   options   1 unavailable greeting, 2 busy greeting, 3 name, 5 PIN, # back, * help
 *   record    a greeting or the name after the beep, until # (60 s at most)
 *   newpin    digits until #: 4 to 10 digits
 *   leaving   goodbye, then we hang up
 * Keys cut what plays (barge-in). The prompts are in the box owner's language.
 */
import type { PromptId } from '../media/prompts/catalog.js';
import { newMessagesPrompts, numberPrompts } from '../media/prompts/catalog.js';
import type { WavRecorder } from '../media/recorder/recorder.js';
import { readWavFile } from '../media/wav/wav.js';
import type { Caller, LocalApplication } from '../sip/b2bua/types.js';
import type { VoicemailMessage } from '../store/voicemail.js';
import type { PlaySource } from '../pbx/features/player.js';
import type { VoicemailCore } from './core.js';
import type { GreetingKind } from './storage.js';
import { BEEP, VoiceSession } from './voice-session.js';

/** Time to wait for a key after a menu, and between digits of a number or PIN (Asterisk: 5 s / 3 s). */
const MENU_TIMEOUT_MS = 10_000;
const DIGIT_TIMEOUT_MS = 5_000;
const MAX_GREETING_SECONDS = 60;
/** Silences in a row at a menu before goodbye. */
const MAX_SILENCES = 3;

type State =
  | { kind: 'box'; digits: string; tries: number }
  | { kind: 'pin'; digits: string; tries: number }
  | { kind: 'main' }
  | { kind: 'message'; index: number }
  | { kind: 'options' }
  | { kind: 'record'; what: GreetingKind; recorder: WavRecorder | null; held: Int16Array[] }
  | { kind: 'newpin'; digits: string }
  | { kind: 'leaving' }
  | { kind: 'done' };

export interface MailboxDeps {
  core: VoicemailCore;
  /** Wrong PINs across calls: a box is locked for a while after too many (PIN guessing). */
  pinGuard: PinGuard;
}

export function createMailbox(deps: MailboxDeps, mode: { kind: 'own' } | { kind: 'any' }, callId: string, caller: Caller): LocalApplication {
  const core = deps.core;
  const log = core.logger.child({ callId, caller: caller.extension, app: mode.kind === 'own' ? '*97' : '*98' });
  let box = mode.kind === 'own' ? caller.extension : '';
  const session = new VoiceSession({ engine: core.engine, clock: core.clock, logger: log }, callId, core.owner(caller.extension).language, (press) => onKey(press.digit));
  let state: State = { kind: 'done' };
  let messages: VoicemailMessage[] = [];
  /** the message playing or last played, moved to "old" when the user moves on */
  let heard: VoicemailMessage | null = null;
  let silences = 0;

  const say = (ids: PromptId[], then?: () => void): void => session.say(session.prompts(ids), then);
  const goodbye = (reason: string, before: PromptId[] = []): void => {
    state = { kind: 'leaving' };
    moveOnFrom();
    session.leave(session.prompts([...before, 'common.goodbye']), reason);
  };
  /** Waits for a key after a menu; silences repeat it, then goodbye. */
  const waitKey = (repeat: () => void): void => {
    session.later(MENU_TIMEOUT_MS, 'menu timeout', () => {
      if (++silences >= MAX_SILENCES) goodbye('no key pressed');
      else repeat();
    });
  };

  // ── box and PIN ──
  const askBox = (before: PromptId[] = []): void => {
    state = { kind: 'box', digits: '', tries: state.kind === 'box' ? state.tries : 0 };
    say([...before, 'vm.enter_mailbox'], () => session.later(MENU_TIMEOUT_MS, 'box timeout', () => boxEntered()));
  };
  const boxEntered = (): void => {
    if (state.kind !== 'box') return;
    const entered = state.digits;
    state.tries++;
    if (entered.length > 0 && core.hasBox(entered)) {
      box = entered;
      session.language = core.owner(box).language;
      askPin();
      return;
    }
    log.info({ entered }, 'no such mailbox');
    if (state.tries >= 3) goodbye('no valid mailbox', ['ivr.invalid_extension']);
    else askBox(['ivr.invalid_extension']);
  };
  const askPin = (before: PromptId[] = []): void => {
    if (deps.pinGuard.locked(box)) {
      log.warn({ box }, 'mailbox locked after too many wrong PINs');
      goodbye('mailbox locked', ['vm.pin_incorrect']);
      return;
    }
    const pin = core.owner(box).pin;
    if (pin === null) {
      if (mode.kind === 'own') {
        // No PIN set: the phone's own SIP login already proved who dials *97.
        login();
        return;
      }
      log.warn({ box }, '*98 to a box without a PIN: refused');
      goodbye('box has no PIN', ['vm.pin_incorrect']);
      return;
    }
    state = { kind: 'pin', digits: '', tries: state.kind === 'pin' ? state.tries : 0 };
    say([...before, 'vm.enter_pin'], () => session.later(MENU_TIMEOUT_MS, 'pin timeout', () => pinEntered()));
  };
  const pinEntered = (): void => {
    if (state.kind !== 'pin') return;
    const entered = state.digits;
    if (entered.length > 0 && entered === core.owner(box).pin) {
      deps.pinGuard.succeeded(box);
      log.info({ box }, 'mailbox login');
      login();
      return;
    }
    state.tries++;
    deps.pinGuard.failed(box);
    // Wrong PINs are logged (with who tried), never the PIN itself.
    log.warn({ box, tries: state.tries, empty: entered.length === 0 }, 'wrong voicemail PIN');
    if (state.tries >= core.settings().maxPinAttempts) {
      goodbye('too many wrong PINs', ['vm.pin_incorrect']);
      return;
    }
    askPin(['vm.pin_incorrect']);
  };

  // ── main menu ──
  const login = (): void => {
    messages = core.messages(box);
    const counts = core.counts(box);
    const intro: PromptId[] = [];
    if (core.isFull(box)) intro.push('vm.owner_mailbox_full');
    intro.push(...newMessagesPrompts(counts.new));
    if (counts.old > 0) intro.push('vm.and', ...numberPrompts(counts.old), counts.old === 1 ? 'vm.saved_message' : 'vm.saved_messages');
    mainMenu(intro);
  };
  const mainMenu = (before: PromptId[] = []): void => {
    state = { kind: 'main' };
    say([...before, 'vm.menu_main'], () => waitKey(() => mainMenu()));
  };

  // ── messages ──
  const moveOnFrom = (): void => {
    if (heard !== null) {
      const still = core.messages(box).find((m) => m.id === heard?.id);
      if (still !== undefined) core.setFolder(still, 'old');
      heard = null;
    }
  };
  const play = async (index: number, before: PromptId[] = []): Promise<void> => {
    moveOnFrom();
    const message = messages[index];
    if (message === undefined) {
      state = { kind: 'main' };
      mainMenu([...before, messages.length === 0 ? 'vm.no_messages' : 'vm.no_more_messages']);
      return;
    }
    state = { kind: 'message', index };
    let audio: Int16Array;
    try {
      audio = await readWavFile(core.storage.audioPath(message));
    } catch (error) {
      log.error({ err: String(error), id: message.id }, 'message audio unreadable');
      audio = new Int16Array(0);
    }
    if (session.stopped || state.kind !== 'message' || state.index !== index) return;
    heard = message;
    const intro: PromptId[] = [...before, index === 0 ? 'vm.first_message' : 'vm.next_message'];
    session.say([...session.prompts(intro), { kind: 'pcm', samples: audio }, { kind: 'silence', ms: 300 }, ...session.prompts(['vm.menu_message'])], () =>
      waitKey(() => say(['vm.menu_message'], () => waitKey(() => mainMenu()))),
    );
  };
  const envelope = (message: VoicemailMessage): PlaySource[] => {
    const at = new Date(message.receivedAt);
    const from: PromptId[] = /^\+?\d{1,20}$/.test(message.caller) ? digits(message.caller.replace('+', '')) : ['vm.envelope_unknown'];
    return session.prompts([
      'vm.envelope_from',
      ...from,
      'vm.envelope_received',
      ...numberPrompts(at.getDate()),
      `month.${at.getMonth() + 1}` as PromptId,
      'vm.at',
      ...numberPrompts(at.getHours()),
      ...numberPrompts(at.getMinutes()),
    ]);
  };
  const onMessageKey = (digit: string, index: number): void => {
    const message = messages[index];
    switch (digit) {
      case '3':
        if (message !== undefined) session.say(envelope(message), () => waitKey(() => say(['vm.menu_message'])));
        return;
      case '4':
        void play(Math.max(0, index - 1));
        return;
      case '5':
        void play(index);
        return;
      case '6':
        void play(index + 1);
        return;
      case '7':
        if (message === undefined) return;
        heard = null;
        messages.splice(index, 1);
        void core.deleteMessage(message.id).then(() => {
          log.info({ box, id: message.id }, 'message deleted by its user');
          if (!session.stopped) void play(index, ['vm.message_deleted']);
        });
        return;
      case '9':
        if (message === undefined) return;
        heard = null;
        core.setFolder(message, 'old');
        void play(index + 1, ['vm.message_saved']);
        return;
      case '*':
        say(['vm.menu_message'], () => waitKey(() => mainMenu()));
        return;
      case '#':
        goodbye('user exited');
        return;
      case '0':
        moveOnFrom();
        optionsMenu();
        return;
      default:
        say(['common.invalid_option', 'vm.menu_message'], () => waitKey(() => mainMenu()));
    }
  };

  // ── options ──
  const optionsMenu = (before: PromptId[] = []): void => {
    state = { kind: 'options' };
    say([...before, 'vm.menu_options'], () => waitKey(() => optionsMenu()));
  };
  const recordGreeting = (what: GreetingKind): void => {
    const rec: State & { kind: 'record' } = { kind: 'record', what, recorder: null, held: [] };
    state = rec;
    say([what === 'name' ? 'vm.record_name' : 'vm.record_greeting'], () => {
      void core.storage.startGreeting(box, what, MAX_GREETING_SECONDS).then(
        (recorder) => {
          if (session.stopped || state !== rec) {
            void recorder.abort();
            return;
          }
          rec.recorder = recorder;
          session.say([{ kind: 'pcm', samples: BEEP }]);
          session.onAudio = (frame) => {
            rec.held.push(frame.slice());
            if (rec.held.length > 12 && !recorder.write(rec.held.shift() as Int16Array)) void endGreeting(rec, true);
          };
        },
        (error: unknown) => {
          log.error({ err: String(error) }, 'cannot record a greeting');
          optionsMenu(['ivr.unavailable']);
        },
      );
    });
  };
  const endGreeting = async (rec: State & { kind: 'record' }, keep: boolean): Promise<void> => {
    session.onAudio = null;
    const recorder = rec.recorder;
    rec.recorder = null;
    if (recorder === null) return;
    if (!keep || recorder.samples < 8000) {
      await recorder.abort();
      if (!session.stopped) optionsMenu(keep ? ['common.invalid_option'] : []);
      return;
    }
    try {
      await recorder.finish();
      log.info({ box, greeting: rec.what, seconds: recorder.samples / 8000 }, 'greeting recorded');
      if (!session.stopped) optionsMenu(['vm.greeting_saved']);
    } catch (error) {
      log.error({ err: String(error) }, 'greeting could not be saved');
      if (!session.stopped) optionsMenu(['ivr.unavailable']);
    }
  };
  const onOptionsKey = (digit: string): void => {
    switch (digit) {
      case '1':
        recordGreeting('unavailable');
        return;
      case '2':
        recordGreeting('busy');
        return;
      case '3':
        recordGreeting('name');
        return;
      case '5':
        state = { kind: 'newpin', digits: '' };
        say(['vm.enter_new_pin'], () => session.later(MENU_TIMEOUT_MS, 'new pin timeout', () => newPinEntered()));
        return;
      case '#':
        mainMenu();
        return;
      case '*':
        optionsMenu();
        return;
      default:
        optionsMenu(['common.invalid_option']);
    }
  };
  const newPinEntered = (): void => {
    if (state.kind !== 'newpin') return;
    const pin = state.digits;
    if (!/^\d{4,10}$/.test(pin)) {
      optionsMenu(['vm.pin_invalid']);
      return;
    }
    try {
      core.setPin(box, pin);
    } catch (error) {
      log.error({ err: String(error) }, 'PIN not changed');
      optionsMenu(['ivr.unavailable']);
      return;
    }
    log.info({ box }, 'PIN changed by its user');
    optionsMenu(['vm.pin_changed']);
  };

  // ── keys ──
  const collect = (s: { digits: string }, digit: string, done: () => void, max: number): void => {
    session.hush();
    if (digit === '#') {
      session.clearTimer();
      done();
      return;
    }
    if (digit !== '*' && s.digits.length < max) s.digits += digit;
    session.later(DIGIT_TIMEOUT_MS, 'digit timeout', done);
  };
  const onKey = (digit: string): void => {
    log.debug({ digit, state: state.kind }, 'key');
    silences = 0;
    switch (state.kind) {
      case 'box':
        collect(state, digit, boxEntered, 6);
        return;
      case 'pin':
        collect(state, digit, pinEntered, 10);
        return;
      case 'newpin':
        collect(state, digit, newPinEntered, 11);
        return;
      case 'main':
        session.clearTimer();
        if (digit === '1') void play(0);
        else if (digit === '0') optionsMenu();
        else if (digit === '*') mainMenu();
        else if (digit === '#') goodbye('user exited');
        else mainMenu(['common.invalid_option']);
        return;
      case 'message':
        session.clearTimer();
        onMessageKey(digit, state.index);
        return;
      case 'options':
        session.clearTimer();
        onOptionsKey(digit);
        return;
      case 'record':
        if (digit === '#' && state.recorder !== null) {
          state.held = [];
          void endGreeting(state, true);
        }
        return;
      default:
        return;
    }
  };

  return {
    answer: (offer) => session.leg.answer(offer),
    start: (hangUp, control) => {
      if (session.start(hangUp, control) === null) return;
      log.info('mailbox answered');
      if (mode.kind === 'any') askBox(['vm.welcome']);
      else askPin(['vm.welcome']);
    },
    info: (contentType, body) => session.info(contentType, body),
    stop: () => {
      if (state.kind === 'record') void endGreeting(state, false);
      moveOnFrom();
      state = { kind: 'done' };
      session.stop();
    },
  };
}

function digits(text: string): PromptId[] {
  return [...text].flatMap((d) => numberPrompts(Number(d)));
}

/**
 * Wrong PINs across calls, per box: after `maxFailures` within `windowMs` the box refuses logins
 * for `lockMs` (the conference PIN and Asterisk's `maxlogins` only count per call; a guesser just
 * calls again).
 */
export class PinGuard {
  readonly #failures = new Map<string, number[]>();
  readonly #lockedUntil = new Map<string, number>();
  constructor(
    readonly maxFailures = 10,
    readonly windowMs = 15 * 60_000,
    readonly lockMs = 15 * 60_000,
  ) {}

  failed(box: string, now = Date.now()): void {
    const list = (this.#failures.get(box) ?? []).filter((t) => now - t < this.windowMs);
    list.push(now);
    this.#failures.set(box, list);
    if (list.length >= this.maxFailures) {
      this.#lockedUntil.set(box, now + this.lockMs);
      this.#failures.delete(box);
    }
  }

  succeeded(box: string): void {
    this.#failures.delete(box);
  }

  locked(box: string, now = Date.now()): boolean {
    const until = this.#lockedUntil.get(box);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#lockedUntil.delete(box);
    return false;
  }
}
