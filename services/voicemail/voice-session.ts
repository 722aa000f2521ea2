/**
 * What both voicemail applications (leaving a message, the mailbox) do with the caller's leg:
 * answer it, say things (barge-in on a key), hear keys from every source (RFC 4733, in-band, SIP
 * INFO), receive the caller's audio for a recording, and end the call. Timers and callbacks run
 * through `safe`: a bug ends this call (logged), never the process.
 */
import type { Logger } from '../log.js';
import type { MediaEngine, MediaOutput } from '../media/engine.js';
import type { PromptId, PromptLanguage } from '../media/prompts/catalog.js';
import type { ApplicationControl } from '../sip/b2bua/types.js';
import { AppLeg } from '../pbx/features/app-leg.js';
import { DtmfInput, type KeyPress } from '../pbx/features/dtmf-input.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import { Player, playTo, type PlaySource } from '../pbx/features/player.js';

/** The beep before a recording: 1 kHz for 250 ms (Asterisk's beep is a short ~1 kHz tone). */
export const BEEP: Int16Array = (() => {
  const n = 2000;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    // 5 ms ramps at both ends: no click.
    const ramp = Math.min(1, i / 40, (n - 1 - i) / 40);
    out[i] = Math.round(Math.sin((2 * Math.PI * 1000 * i) / 8000) * 12000 * ramp);
  }
  return out;
})();

export class VoiceSession {
  readonly leg: AppLeg;
  readonly player = new Player();
  readonly log: Logger;
  language: PromptLanguage;
  control: ApplicationControl | null = null;
  /** Receives every 20 ms frame of the caller's audio while set (recording). */
  onAudio: ((frame: Int16Array) => void) | null = null;
  #dtmf: DtmfInput;
  #hangUp: (reason: string) => void = () => undefined;
  #stopPlaying: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;
  #stopped = false;
  #started = false;
  readonly #clock: MediaClock;
  /** the leg was lent by another application (the receptionist), which closes it */
  readonly #borrowed: boolean;
  #deafUntil = 0;

  /**
   * `leg`: a leg another application answered and hands over; keys are ignored for `deafMs`
   * then (the rest of the key that chose us must not count as a new press).
   */
  constructor(
    deps: { engine: MediaEngine; clock: MediaClock; logger: Logger },
    callId: string,
    language: PromptLanguage,
    onKey: (press: KeyPress) => void,
    handOver?: { leg: AppLeg; deafMs: number },
  ) {
    this.leg = handOver?.leg ?? new AppLeg(deps.engine, callId);
    this.#borrowed = handOver !== undefined;
    if (handOver !== undefined) this.#deafUntil = performance.now() + handOver.deafMs;
    this.log = deps.logger;
    this.language = language;
    this.#clock = deps.clock;
    this.#dtmf = new DtmfInput((press) => {
      if (performance.now() >= this.#deafUntil) this.safe('key', () => onKey(press));
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The ACK came: media flows. */
  start(hangUp: (reason: string) => void, control: ApplicationControl | undefined): MediaOutput | null {
    if (this.#stopped || this.#started) return null;
    this.#started = true;
    this.#hangUp = hangUp;
    this.control = control ?? null;
    const output = this.leg.attach(
      {
        onAudio: (frame) => {
          this.#dtmf.audio(frame);
          const sink = this.onAudio;
          if (sink !== null) this.safe('audio', () => sink(frame));
        },
        onDtmf: (event) => this.#dtmf.rfc4733(event),
      },
      { playout: 'adaptive' },
    );
    this.#stopPlaying = playTo(this.#clock, this.player, output);
    return output;
  }

  info(contentType: string | null, body: Buffer): void {
    const error = this.#dtmf.info(contentType, body);
    if (error !== null) this.log.debug({ error }, 'INFO body is not DTMF');
  }

  safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: error instanceof Error ? error.stack : String(error), what }, 'voicemail failed');
      if (!this.#stopped) this.#hangUp('voicemail error');
    }
  }

  later(ms: number, what: string, fn: () => void): void {
    this.clearTimer();
    this.#timer = setTimeout(() => this.safe(what, fn), ms);
  }

  clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  prompts(ids: readonly PromptId[]): PlaySource[] {
    return ids.map((id) => ({ kind: 'prompt', id, language: this.language }));
  }

  /** Says `sources`, cutting whatever played; `then` runs once they were heard whole (not after a barge-in). */
  say(sources: PlaySource[], then?: () => void): void {
    this.clearTimer();
    const mine = ++this.#generation;
    this.player.clear();
    try {
      this.player.play(...sources);
    } catch (error) {
      this.log.warn({ err: String(error) }, 'prompt unavailable');
    }
    if (then !== undefined) {
      void this.player.whenIdle().then(() => {
        if (mine === this.#generation && !this.#stopped) this.safe('prompt end', then);
      });
    }
  }

  /** Stops what plays (a key barged in). */
  hush(): void {
    ++this.#generation;
    this.player.clear();
  }

  hangUp(reason: string): void {
    if (!this.#stopped) this.#hangUp(reason);
  }

  /** Says `sources` then hangs up. */
  leave(sources: PlaySource[], reason: string): void {
    this.say(sources, () => this.hangUp(reason));
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.clearTimer();
    ++this.#generation;
    this.onAudio = null;
    this.#stopPlaying?.();
    this.#stopPlaying = null;
    this.player.clear();
    if (!this.#borrowed) this.leg.close();
  }
}
