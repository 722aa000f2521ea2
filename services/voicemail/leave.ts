/**
 * Leaving a message: the call is answered for the box of `extension`, the caller hears the
 * greeting, a beep, and is recorded until `#`, hang-up or the length limit.
 *
 * States (explicit):
 *   greeting   the greeting plays: the user's own (busy or unavailable), else "The person at
 *              extension 1 0 1 / <recorded name> is not available / is on another call", then
 *              "leave a message after the tone"; `#` skips to the beep, `0` goes to the operator
 *   recording  the caller's audio goes to the box's temporary file; `#` ends, `0` ends and goes to
 *              the operator, hang-up ends; the key's own tone (in-band) is cut from the end
 *   operator   the operator rings (ringback); answered: the call is theirs; not: goodbye
 *   full       the box is full: "this mailbox is full", goodbye (and the user is told)
 *   leaving    a last prompt, then we hang up
 * Messages shorter than the `minSeconds` setting are discarded (Asterisk `minsecs`).
 */
import type { ApplicationControl, Caller, LocalApplication, RingDecision } from '../sip/b2bua/types.js';
import type { AppLeg } from '../pbx/features/app-leg.js';
import type { PromptId } from '../media/prompts/catalog.js';
import { numberPrompts } from '../media/prompts/catalog.js';
import { readWavFile } from '../media/wav/wav.js';
import type { WavRecorder } from '../media/recorder/recorder.js';
import type { Country } from '../media/tones/table.js';
import type { VoicemailReason } from '../store/voicemail.js';
import { transferMedia } from '../pbx/features/transfer-media.js';
import type { PlaySource } from '../pbx/features/player.js';
import { BEEP, VoiceSession } from './voice-session.js';
import type { VoicemailCore } from './core.js';

/** Frames kept back from the file: a `#` pressed in-band must not end the message as a beep (240 ms). */
const HOLD_BACK_FRAMES = 12;

type State =
  | { kind: 'starting' }
  | { kind: 'greeting' }
  | { kind: 'recording'; recorder: WavRecorder; held: Int16Array[]; startedAt: number }
  | { kind: 'operator' }
  | { kind: 'leaving' }
  | { kind: 'done' };

export interface LeaveDeps {
  core: VoicemailCore;
  country: Country;
  /** The operator's destination as a ring, for `0`; null when it cannot ring now. */
  ringOperator(destination: string, caller: Caller): RingDecision | null;
}

/** Keys pressed within this time after the receptionist hands the caller over belong to the key that chose us. */
const HANDOVER_DEAF_MS = 300;

/** What the receptionist keeps of a caller it handed to a box: SIP INFO keys and the end of the call. */
export interface LeaveHandle {
  info(contentType: string | null, body: Buffer): void;
  stop(): void;
}

export function createLeaveMessage(deps: LeaveDeps, extension: string, reason: VoicemailReason, callId: string, caller: Caller): LocalApplication {
  const flow = leaveFlow(deps, extension, reason, callId, caller);
  return {
    answer: (offer) => flow.session.leg.answer(offer),
    start: (hangUp, control) => flow.start(hangUp, control),
    info: (contentType, body) => flow.info(contentType, body),
    stop: () => flow.stop(),
  };
}

/** A caller already answered by another application (its leg) leaves a message in `extension`'s box. */
export function leaveOnLeg(
  deps: LeaveDeps,
  extension: string,
  callId: string,
  caller: Caller,
  leg: AppLeg,
  hangUp: (reason: string) => void,
  control: ApplicationControl | null,
): LeaveHandle {
  const flow = leaveFlow(deps, extension, 'direct', callId, caller, { leg, deafMs: HANDOVER_DEAF_MS });
  flow.start(hangUp, control ?? undefined);
  return flow;
}

function leaveFlow(deps: LeaveDeps, extension: string, reason: VoicemailReason, callId: string, caller: Caller, handOver?: { leg: AppLeg; deafMs: number }) {
  const core = deps.core;
  const owner = core.owner(extension);
  const log = core.logger.child({ callId, caller: caller.extension, box: extension, reason });
  const session = new VoiceSession({ engine: core.engine, clock: core.clock, logger: log }, callId, owner.language, (press) => onKey(press.digit), handOver);
  let state: State = { kind: 'starting' };
  let finishing: Promise<void> | null = null;
  const operator = core.operatorOf(extension);

  /** The user's own greeting (it says what to do, as on every PBX: no prompt after it), else the default sentence. */
  const greeting = async (): Promise<{ own: boolean; sources: PlaySource[] }> => {
    const kind = reason === 'busy' ? 'busy' : 'unavailable';
    for (const k of kind === 'busy' ? (['busy', 'unavailable'] as const) : (['unavailable'] as const)) {
      if (core.storage.hasGreeting(extension, k)) {
        try {
          return { own: true, sources: [{ kind: 'pcm', samples: await readWavFile(core.storage.greetingPath(extension, k)) }] };
        } catch (error) {
          log.warn({ err: String(error), greeting: k }, 'greeting unreadable: default prompt instead');
        }
      }
    }
    let who: PlaySource[];
    if (core.storage.hasGreeting(extension, 'name')) {
      try {
        who = [{ kind: 'pcm', samples: await readWavFile(core.storage.greetingPath(extension, 'name')) }];
      } catch {
        who = session.prompts(['vm.person_at_extension', ...digits(extension)]);
      }
    } else {
      who = session.prompts(['vm.person_at_extension', ...digits(extension)]);
    }
    return { own: false, sources: [...who, ...session.prompts([kind === 'busy' ? 'vm.is_busy' : 'vm.is_unavailable'])] };
  };

  const begin = async (): Promise<void> => {
    if (core.isFull(extension)) {
      log.warn('mailbox full: the caller cannot leave a message');
      core.boxFull(extension, caller);
      state = { kind: 'leaving' };
      session.leave(session.prompts(['vm.mailbox_full', 'common.goodbye']), 'mailbox full');
      return;
    }
    const { own, sources } = await greeting();
    if (session.stopped) return;
    state = { kind: 'greeting' };
    const after: PromptId[] = own ? [] : ['vm.leave_message'];
    if (!own && operator !== null) after.push('vm.operator_press_0');
    session.say([...sources, ...session.prompts(after)], () => void record());
  };

  const record = async (): Promise<void> => {
    if (state.kind !== 'greeting') return;
    state = { kind: 'starting' };
    let recorder: WavRecorder;
    try {
      recorder = await core.storage.startMessage(extension, core.settings().maxMessageSeconds);
    } catch (error) {
      log.error({ err: String(error) }, 'cannot create the message file');
      state = { kind: 'leaving' };
      session.leave(session.prompts(['ivr.unavailable', 'common.goodbye']), 'storage error');
      return;
    }
    if (session.stopped) {
      await recorder.abort();
      return;
    }
    const rec: State & { kind: 'recording' } = { kind: 'recording', recorder, held: [], startedAt: Date.now() };
    state = rec;
    session.say([{ kind: 'pcm', samples: BEEP }]);
    log.info('recording');
    session.onAudio = (frame) => {
      rec.held.push(frame.slice());
      if (rec.held.length > HOLD_BACK_FRAMES) {
        const oldest = rec.held.shift() as Int16Array;
        if (!recorder.write(oldest)) {
          // The length limit: the message ends there (Asterisk maxsecs).
          log.info('message reached the length limit');
          void endRecording('limit', true);
        }
      }
    };
  };

  /** Ends the recording: `keepTail` false drops the held-back frames (the key's tone). */
  const endRecording = (why: string, keepTail: boolean, then?: () => void): Promise<void> => {
    if (state.kind !== 'recording') return finishing ?? Promise.resolve();
    const rec = state;
    state = { kind: 'leaving' };
    session.onAudio = null;
    if (keepTail) for (const frame of rec.held) rec.recorder.write(frame);
    rec.held = [];
    finishing = (async () => {
      const saved = await core.saveMessage(extension, rec.recorder, { caller, reason });
      log.info({ why, saved: saved !== null, durationMs: saved?.durationMs ?? rec.recorder.samples / 8 }, saved === null ? 'message discarded (too short)' : 'message saved');
      if (then) session.safe('after recording', then);
    })().catch((error: unknown) => {
      log.error({ err: error instanceof Error ? error.stack : String(error) }, 'message could not be saved');
    });
    return finishing;
  };

  const toOperator = async (): Promise<void> => {
    if (operator === null || session.control === null) return;
    const decision = deps.ringOperator(operator, caller);
    if (decision === null) {
      state = { kind: 'leaving' };
      session.leave(session.prompts(['ivr.unavailable', 'common.goodbye']), 'operator unavailable');
      return;
    }
    state = { kind: 'operator' };
    await new Promise<void>((resolve) => session.say(session.prompts(['ivr.transferring']), resolve));
    if (session.stopped) return;
    session.say([{ kind: 'tone', country: deps.country, tone: 'ringback', ms: 600_000 }]);
    const outcome = await session.control.transfer(decision, transferMedia(session.leg, { clock: core.clock, logger: log }));
    if (session.stopped || outcome.kind === 'answered') return;
    log.info({ status: outcome.status }, 'operator did not answer');
    state = { kind: 'leaving' };
    session.leave(session.prompts(['ivr.no_answer', 'common.goodbye']), 'operator did not answer');
  };

  const onKey = (digit: string): void => {
    switch (state.kind) {
      case 'greeting':
        if (digit === '#') {
          session.hush();
          void record();
        } else if (digit === '0' && operator !== null) {
          session.hush();
          void toOperator();
        }
        return;
      case 'recording':
        if (digit === '#') {
          void endRecording('caller pressed #', false, () => session.leave(session.prompts(['vm.message_saved', 'common.goodbye']), 'message left'));
        } else if (digit === '0' && operator !== null) {
          void endRecording('caller pressed 0', false, () => void toOperator());
        }
        return;
      default:
        return;
    }
  };

  return {
    session,
    start: (hangUp: (reason: string) => void, control: ApplicationControl | undefined): void => {
      if (session.start(hangUp, control) === null) return;
      log.info('voicemail answered');
      begin().catch((error: unknown) => {
        log.error({ err: error instanceof Error ? error.stack : String(error) }, 'voicemail failed to start');
        session.hangUp('voicemail error');
      });
    },
    info: (contentType: string | null, body: Buffer): void => session.info(contentType, body),
    stop: (): void => {
      // The caller hung up: what was recorded is kept (it is the message), the tone-free tail too.
      void endRecording('caller hung up', true);
      if (state.kind !== 'leaving') state = { kind: 'done' };
      session.stop();
    },
  };
}

function digits(extension: string): PromptId[] {
  return [...extension].flatMap((d) => numberPrompts(Number(d)));
}
