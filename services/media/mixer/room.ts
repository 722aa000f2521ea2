// Conference room mixer (mix-minus). Every 20 ms each participant hands in one frame of 8 kHz 16-bit PCM;
// tick() sums the unmuted frames ONCE into an Int32 accumulator, adds the room's announcement tone,
// then gives each participant the total minus its own contribution, so nobody hears themselves and the
// cost is O(participants × samples), not O(participants²). A per-listener peak limiter scales a frame
// down instead of letting loud talkers wrap or clip hard.
//
// No allocation happens per frame: inputs, outputs and the accumulator are allocated at join time.
import { FRAME_SAMPLES, SAMPLE_RATE } from '../codec/g711.js';

export const JOIN_TONE_HZ: readonly number[] = [1000, 1400];
export const LEAVE_TONE_HZ: readonly number[] = [1400, 1000];

/** Two 100 ms beeps separated by 20 ms, at about -16 dBFS, with 5 ms ramps against clicks. */
export function makeBeeps(freqs: readonly number[], beepMs = 100, gapMs = 20, amplitude = 5000): Int16Array {
  const beep = Math.round((beepMs * SAMPLE_RATE) / 1000);
  const gap = Math.round((gapMs * SAMPLE_RATE) / 1000);
  const ramp = Math.round(0.005 * SAMPLE_RATE);
  const out = new Int16Array(freqs.length * (beep + gap));
  let off = 0;
  for (const f of freqs) {
    for (let i = 0; i < beep; i++) {
      const env = Math.min(1, i / ramp, (beep - 1 - i) / ramp);
      out[off + i] = Math.round(amplitude * env * Math.sin((2 * Math.PI * f * i) / SAMPLE_RATE));
    }
    off += beep + gap;
  }
  return out;
}

const DEFAULT_JOIN_TONE = makeBeeps(JOIN_TONE_HZ);
const DEFAULT_LEAVE_TONE = makeBeeps(LEAVE_TONE_HZ);

/** Limiter release: the gain recovers by this much per frame (full recovery from -6 dB in ~0.5 s). */
const RELEASE_PER_FRAME = 0.02;
const FULL_SCALE = 32767;

export interface RoomOptions {
  readonly frameSamples?: number;
  /** Played to the whole room when someone joins / leaves; empty array for none. */
  readonly joinTone?: Int16Array;
  readonly leaveTone?: Int16Array;
}

export interface JoinOptions {
  readonly muted?: boolean;
  /** Announce with the join tone (default true). */
  readonly announce?: boolean;
}

export class Participant {
  readonly id: string;
  /** What this participant hears after the last tick(). Reused every tick: encode or copy it before the next. */
  readonly output: Int16Array;
  #input: Int16Array;
  #hasInput = false;
  #muted: boolean;
  #gain = 1;
  #room: ConferenceRoom | undefined;
  #private: Int16Array[] = [];
  #privatePos = 0;

  /** @internal created by ConferenceRoom.join */
  constructor(id: string, frameSamples: number, muted: boolean, room: ConferenceRoom) {
    this.id = id;
    this.output = new Int16Array(frameSamples);
    this.#input = new Int16Array(frameSamples);
    this.#muted = muted;
    this.#room = room;
  }

  get muted(): boolean {
    return this.#muted;
  }

  set muted(m: boolean) {
    this.#muted = m;
  }

  get inRoom(): boolean {
    return this.#room !== undefined;
  }

  /** Hands in this participant's next 20 ms (copied). A frame not handed in before tick() counts as silence. */
  pushFrame(frame: Int16Array): void {
    if (frame.length !== this.#input.length) {
      throw new RangeError(`participant ${this.id}: frame of ${frame.length} samples, expected ${this.#input.length}`);
    }
    this.#input.set(frame);
    this.#hasInput = true;
  }

  /** Queues audio only this participant hears, over the mix (e.g. the "you are muted" prompt). */
  playPrivate(samples: Int16Array): void {
    if (samples.length > 0) this.#private.push(samples);
  }

  /** @internal adds the head of the private queue into this tick's mix. */
  _addPrivate(mixed: Int32Array): void {
    let i = 0;
    const n = mixed.length;
    while (i < n) {
      const s = this.#private[0];
      if (!s) return;
      const take = Math.min(n - i, s.length - this.#privatePos);
      for (let k = 0; k < take; k++) mixed[i + k] = (mixed[i + k] as number) + (s[this.#privatePos + k] as number);
      i += take;
      this.#privatePos += take;
      if (this.#privatePos >= s.length) {
        this.#private.shift();
        this.#privatePos = 0;
      }
    }
  }

  /** @internal */ get _hasPrivate(): boolean {
    return this.#private.length > 0;
  }

  /** Leaves the room (plays the leave tone to those who remain). */
  leave(): void {
    this.#room?.leave(this.id);
  }

  /** @internal */ get _input(): Int16Array {
    return this.#input;
  }
  /** @internal */ get _contributes(): boolean {
    return this.#hasInput && !this.#muted;
  }
  /** @internal */ _consumed(): void {
    this.#hasInput = false;
  }
  /** @internal */ get _gain(): number {
    return this.#gain;
  }
  /** @internal */ set _gain(g: number) {
    this.#gain = g;
  }
  /** @internal */ _detach(): void {
    this.#room = undefined;
  }
}

export class ConferenceRoom {
  readonly id: string;
  readonly frameSamples: number;
  #participants = new Map<string, Participant>();
  /** Snapshot array for the hot loop (rebuilt on join/leave only). */
  #list: Participant[] = [];
  #sum: Int32Array;
  #mixed: Int32Array;
  #joinTone: Int16Array;
  #leaveTone: Int16Array;
  /** Queue of announcements; the head plays from #tonePos. */
  #tones: Int16Array[] = [];
  #tonePos = 0;
  #ticks = 0;

  constructor(id: string, opts: RoomOptions = {}) {
    this.id = id;
    this.frameSamples = opts.frameSamples ?? FRAME_SAMPLES;
    this.#sum = new Int32Array(this.frameSamples);
    this.#mixed = new Int32Array(this.frameSamples);
    this.#joinTone = opts.joinTone ?? DEFAULT_JOIN_TONE;
    this.#leaveTone = opts.leaveTone ?? DEFAULT_LEAVE_TONE;
  }

  get size(): number {
    return this.#list.length;
  }

  get ticks(): number {
    return this.#ticks;
  }

  participants(): readonly Participant[] {
    return this.#list;
  }

  get(id: string): Participant | undefined {
    return this.#participants.get(id);
  }

  join(id: string, opts: JoinOptions = {}): Participant {
    if (this.#participants.has(id)) throw new Error(`room ${this.id}: participant ${id} already joined`);
    const p = new Participant(id, this.frameSamples, opts.muted ?? false, this);
    this.#participants.set(id, p);
    this.#list = [...this.#participants.values()];
    if (opts.announce ?? true) this.playTone(this.#joinTone);
    return p;
  }

  leave(id: string, announce = true): boolean {
    const p = this.#participants.get(id);
    if (!p) return false;
    this.#participants.delete(id);
    this.#list = [...this.#participants.values()];
    p._detach();
    if (announce && this.#list.length > 0) this.playTone(this.#leaveTone);
    return true;
  }

  setMuted(id: string, muted: boolean): void {
    const p = this.#participants.get(id);
    if (!p) throw new Error(`room ${this.id}: no participant ${id}`);
    p.muted = muted;
  }

  /** Queues a sound every participant hears (announcement, beep, prompt). */
  playTone(samples: Int16Array): void {
    if (samples.length > 0) this.#tones.push(samples);
  }

  /** Mixes one frame period. Afterwards each participant's `output` holds what it hears. */
  tick(): void {
    const n = this.frameSamples;
    const sum = this.#sum;
    const list = this.#list;
    sum.fill(0);
    for (let p = 0; p < list.length; p++) {
      const part = list[p] as Participant;
      if (!part._contributes) continue;
      const inp = part._input;
      for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + (inp[i] as number);
    }
    this.#addTone(sum);

    const mixed = this.#mixed;
    for (let p = 0; p < list.length; p++) {
      const part = list[p] as Participant;
      const out = part.output;
      let peak = 0;
      if (part._contributes) {
        const inp = part._input;
        for (let i = 0; i < n; i++) {
          const v = (sum[i] as number) - (inp[i] as number);
          mixed[i] = v;
          const a = v < 0 ? -v : v;
          if (a > peak) peak = a;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = sum[i] as number;
          mixed[i] = v;
          const a = v < 0 ? -v : v;
          if (a > peak) peak = a;
        }
      }
      if (part._hasPrivate) {
        part._addPrivate(mixed);
        peak = 0;
        for (let i = 0; i < n; i++) {
          const v = mixed[i] as number;
          const a = v < 0 ? -v : v;
          if (a > peak) peak = a;
        }
      }
      // Peak limiter: instant attack to the gain that keeps this frame in range, slow release.
      let gain = part._gain;
      const target = peak > FULL_SCALE ? FULL_SCALE / peak : 1;
      gain = Math.min(target, gain + RELEASE_PER_FRAME, 1);
      part._gain = gain;
      if (gain >= 1) {
        for (let i = 0; i < n; i++) out[i] = mixed[i] as number; // |v| <= 32767 here
      } else {
        for (let i = 0; i < n; i++) {
          const v = Math.round((mixed[i] as number) * gain);
          out[i] = v > FULL_SCALE ? FULL_SCALE : v < -32768 ? -32768 : v;
        }
      }
    }
    for (let p = 0; p < list.length; p++) (list[p] as Participant)._consumed();
    this.#ticks++;
  }

  #addTone(sum: Int32Array): void {
    let i = 0;
    const n = sum.length;
    while (i < n) {
      const tone = this.#tones[0];
      if (!tone) return;
      const take = Math.min(n - i, tone.length - this.#tonePos);
      for (let k = 0; k < take; k++) sum[i + k] = (sum[i + k] as number) + (tone[this.#tonePos + k] as number);
      i += take;
      this.#tonePos += take;
      if (this.#tonePos >= tone.length) {
        this.#tones.shift();
        this.#tonePos = 0;
      }
    }
  }

  /** Drops everyone without tones (room closed). */
  close(): void {
    for (const p of this.#list) p._detach();
    this.#participants.clear();
    this.#list = [];
    this.#tones = [];
    this.#tonePos = 0;
  }
}

/** All rooms of the appliance; the media clock calls tick() every 20 ms. */
export class ConferenceMixer {
  readonly #rooms = new Map<string, ConferenceRoom>();
  readonly #opts: RoomOptions;

  constructor(opts: RoomOptions = {}) {
    this.#opts = opts;
  }

  room(id: string): ConferenceRoom {
    let r = this.#rooms.get(id);
    if (!r) {
      r = new ConferenceRoom(id, this.#opts);
      this.#rooms.set(id, r);
    }
    return r;
  }

  has(id: string): boolean {
    return this.#rooms.has(id);
  }

  rooms(): IterableIterator<ConferenceRoom> {
    return this.#rooms.values();
  }

  closeRoom(id: string): void {
    this.#rooms.get(id)?.close();
    this.#rooms.delete(id);
  }

  /** Mixes every non-empty room once. */
  tick(): void {
    for (const r of this.#rooms.values()) if (r.size > 0) r.tick();
  }
}
