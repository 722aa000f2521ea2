/**
 * A queue of things to say to one caller, rendered 20 ms at a time: prompts (by id and language),
 * call-progress tones with their national cadence, silence, raw PCM. The player only makes frames;
 * who pulls them (the media clock → a MediaOutput, or a conference mixing it over the room) is
 * the caller's business, so the same queue serves IVR-style playback and conference whispers.
 */
import { FRAME_SAMPLES } from '../../media/codec/g711.js';
import type { MediaOutput } from '../../media/engine.js';
import { loadPrompt } from '../../media/prompts/prompts.js';
import type { PromptId, PromptLanguage } from '../../media/prompts/catalog.js';
import { ToneGenerator } from '../../media/tones/generator.js';
import { toneSpec, type Country, type ToneName } from '../../media/tones/table.js';
import type { MediaClock } from './media-clock.js';

export type PlaySource =
  | { kind: 'prompt'; id: PromptId; language: PromptLanguage }
  | { kind: 'tone'; country: Country; tone: ToneName; ms: number }
  | { kind: 'silence'; ms: number }
  | { kind: 'pcm'; samples: Int16Array };

/** One source being rendered: a PCM buffer and a read position, or a live tone generator. */
type Current =
  | { kind: 'pcm'; samples: Int16Array; pos: number }
  | { kind: 'tone'; generator: ToneGenerator; framesLeft: number };

export class Player {
  readonly #queue: PlaySource[] = [];
  #current: Current | null = null;
  #idleWaiters: (() => void)[] = [];

  /** Appends sources; throws PromptNotFoundError (prompts not built) before anything is queued. */
  play(...sources: PlaySource[]): void {
    for (const s of sources) if (s.kind === 'prompt') loadPrompt(s.id, s.language);
    this.#queue.push(...sources);
  }

  /** Drops what is playing and everything queued (barge-in). */
  clear(): void {
    this.#queue.length = 0;
    this.#current = null;
    this.#wakeIdle();
  }

  get idle(): boolean {
    return this.#current === null && this.#queue.length === 0;
  }

  /** Resolves once everything queued has been played (or cleared). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Writes the next 20 ms into `out` (zero-padded at the end of the queue) and returns true, or
   * returns false (and leaves `out` alone) when there is nothing to play.
   */
  nextFrame(out: Int16Array): boolean {
    if (out.length !== FRAME_SAMPLES) throw new RangeError(`player frames are ${FRAME_SAMPLES} samples`);
    if (this.idle) return false;
    let filled = 0;
    while (filled < out.length) {
      const cur = this.#current ?? this.#advance();
      if (cur === null) break;
      if (cur.kind === 'tone') {
        // Tones are generated whole frames at a time; sources start on frame boundaries.
        if (filled === 0) {
          cur.generator.nextFrame(out);
          filled = out.length;
        } else {
          break;
        }
        if (--cur.framesLeft <= 0) this.#current = null;
        continue;
      }
      const take = Math.min(out.length - filled, cur.samples.length - cur.pos);
      out.set(cur.samples.subarray(cur.pos, cur.pos + take), filled);
      cur.pos += take;
      filled += take;
      if (cur.pos >= cur.samples.length) this.#current = null;
    }
    if (filled < out.length) out.fill(0, filled);
    if (this.idle) this.#wakeIdle();
    return true;
  }

  #advance(): Current | null {
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#current = null;
      return null;
    }
    switch (next.kind) {
      case 'prompt':
        this.#current = { kind: 'pcm', samples: loadPrompt(next.id, next.language), pos: 0 };
        break;
      case 'pcm':
        this.#current = { kind: 'pcm', samples: next.samples, pos: 0 };
        break;
      case 'silence':
        this.#current = { kind: 'pcm', samples: new Int16Array(Math.round(next.ms * 8)), pos: 0 };
        break;
      case 'tone':
        this.#current = {
          kind: 'tone',
          generator: new ToneGenerator(toneSpec(next.country, next.tone)),
          framesLeft: Math.max(1, Math.round(next.ms / 20)),
        };
        break;
    }
    return this.#current;
  }

  #wakeIdle(): void {
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}

/**
 * Plays `player` to a phone on the shared clock: one frame per tick while it has something, and
 * silence frames otherwise when `keepAlive` (so the phone's jitter buffer and NAT stay warm).
 * Returns the function that stops it.
 */
export function playTo(clock: MediaClock, player: Player, output: MediaOutput, keepAlive = true): () => void {
  const frame = new Int16Array(FRAME_SAMPLES);
  return clock.subscribe(() => {
    if (player.nextFrame(frame)) {
      output.sendAudio(frame);
    } else if (keepAlive) {
      frame.fill(0);
      output.sendAudio(frame);
    }
  });
}

/** Adds `b` into `a` with saturation (a whisper over a mix). */
export function mixInto(a: Int16Array, b: Int16Array): void {
  for (let i = 0; i < a.length; i++) {
    const v = (a[i] as number) + (b[i] as number);
    a[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
