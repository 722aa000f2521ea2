/**
 * What an analog port plays that the shared tone table (services/media/tones) does not hold: ringer
 * cadences per country, the howler, the call-waiting alerting signal (CAS / DT-AS), and an audio
 * source that queues PCM (caller ID FSK) ahead of a cadenced tone. Sources per entry.
 */
import { muLawEncode, SILENCE_BYTE } from '../../services/media/codec/g711.js';
import { sines, silence, concat } from '../../services/media/dsp/synth.js';
import { ToneGenerator } from '../../services/media/tones/generator.js';
import { toneSpec, type Country, type ToneName, type ToneSpec } from '../../services/media/tones/table.js';

/**
 * Ringing cadence (on/off ms, repeated) the FXS port asks the board for. They mirror each country's
 * ringback: US 2/4 s (GR-506), MX 1/4 s (Telmex), FR 1.5/3.5 s, SE 1/5 s (E.180 Suppl. 2), GB double
 * ring 0.4/0.2/0.4/2.0 s (BT SIN 350).
 */
export const RING_CADENCE: Readonly<Record<Country, readonly number[]>> = {
  US: [2000, 4000],
  MX: [1000, 4000],
  FR: [1500, 3500],
  SE: [1000, 5000],
  GB: [400, 200, 400, 2000],
};

/**
 * When on-hook caller ID may start and must be over, ms after the ring command: GR-30 §3.2 wants
 * the FSK ≥ 500 ms after the end of the first ring and done ≥ 200 ms before the second; the first
 * "ring" of a double-ring cadence is the whole burst before the long silence.
 */
export function callerIdWindow(cadence: readonly number[]): { startMs: number; endMs: number } {
  let t = 0;
  for (let i = 0; i + 1 < cadence.length; i += 2) {
    t += cadence[i] as number;
    const off = cadence[i + 1] as number;
    if (off >= 1000) return { startMs: t + 500, endMs: t + off - 200 };
    t += off;
  }
  const first = cadence[0] ?? 2000;
  return { startMs: first + 500, endMs: first + (cadence[1] ?? 4000) - 200 };
}

/**
 * Receiver off-hook tone (the howler): 1400+2060+2450+2600 Hz, 0.1 s on / 0.1 s off, loud (Telcordia
 * GR-506 §17.2.8, used for every country: the European administrations have no common howler).
 */
export const HOWLER: ToneSpec = {
  levelDbm0: -6,
  steps: [
    { ms: 100, freqs: [1400, 2060, 2450, 2600] },
    { ms: 100, freqs: [] },
  ],
  loopFrom: 0,
  source: 'Telcordia GR-506-CORE receiver off-hook (ROH) tone',
};

/** CPE alerting signal before off-hook caller ID: 2130+2750 Hz, 80 ms (GR-30 §2.4, ETSI DT-AS). */
export function alertingSignal(): Int16Array {
  return sines([{ freq: 2130, dbm0: -15 }, { freq: 2750, dbm0: -15 }], 640);
}

export type PortTone = ToneName | 'howler';

export function portToneSpec(country: Country, tone: PortTone): ToneSpec {
  return tone === 'howler' ? HOWLER : toneSpec(country, tone);
}

/**
 * The audio a port plays to its line when no call's media does: queued PCM first (caller ID,
 * alerting signal), then the current tone, else silence. 20 ms µ-law frames.
 */
export class PortAudio {
  #queue: Int16Array[] = [];
  #queued = 0;
  #tone: ToneGenerator | null = null;
  #toneName: PortTone | null = null;

  setTone(country: Country, tone: PortTone | null): void {
    if (tone === this.#toneName) return;
    this.#toneName = tone;
    this.#tone = tone === null ? null : new ToneGenerator(portToneSpec(country, tone));
  }

  get tone(): PortTone | null {
    return this.#toneName;
  }

  /** PCM played before anything else (in 20 ms frames, the last padded with silence). */
  enqueue(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i += 160) {
      const frame = new Int16Array(160);
      frame.set(pcm.subarray(i, Math.min(pcm.length, i + 160)));
      this.#queue.push(frame);
      this.#queued++;
    }
  }

  get busy(): boolean {
    return this.#queue.length > 0;
  }

  clearQueue(): void {
    this.#queue = [];
  }

  /** The next frame, or null when nothing local is playing (the call's media may play). */
  next(): Buffer | null {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Buffer.from(muLawEncode(queued));
    if (this.#tone !== null) return Buffer.from(muLawEncode(this.#tone.nextFrame()));
    return null;
  }
}

export function silentFrame(): Buffer {
  return Buffer.alloc(160, SILENCE_BYTE.PCMU);
}

/** Pads `pcm` with `ms` of silence before it. */
export function after(ms: number, pcm: Int16Array): Int16Array {
  return concat(silence(ms), pcm);
}
