/**
 * What the analog ports listen for in 20 ms frames: dial tone on the FXO line (dial as soon as it is
 * there), busy/reorder (the far end hung up on a line without disconnect supervision), and the fax
 * tones CNG (1100 Hz, ITU-T T.30 §5.2) and CED (2100 Hz, T.30 / V.25). Each detector is a small state
 * machine over "is this frame mostly this tone?", judged by Goertzel power against the frame's energy.
 */
import { detectTones, goertzelPower, meanSquare } from '../../services/media/dsp/goertzel.js';
import { dbm0ToPower } from '../../services/media/dsp/levels.js';

const FRAME_MS = 20;

/** Share of the frame's energy in the strongest of `groups` (each group's powers are summed). */
export function toneShare(pcm: Int16Array, groups: readonly (readonly number[])[], minLevelDbm0 = -36): number {
  const total = meanSquare(pcm);
  if (total < dbm0ToPower(minLevelDbm0)) return 0;
  const freqs = [...new Set(groups.flat())];
  const powers = detectTones(pcm, freqs);
  const power = new Map(freqs.map((f, i) => [f, powers[i] as number]));
  let best = 0;
  for (const group of groups) {
    let p = 0;
    for (const f of group) p += power.get(f) ?? 0;
    best = Math.max(best, p);
  }
  return best / total;
}

/** Every dial tone of the countries we ship (a landline may not be the box's country). */
const DIAL_GROUPS = [[350, 440], [425], [440], [400, 450]] as const;
/** Busy and reorder tones of those countries. */
const BUSY_GROUPS = [[480, 620], [425], [440], [400]] as const;

/** Dial tone present for `minMs` without a break (100 ms: well inside what any exchange gives). */
export class DialToneDetector {
  #run = 0;
  constructor(private readonly minMs = 100) {}
  /** True once dial tone has lasted minMs. */
  push(pcm: Int16Array): boolean {
    this.#run = toneShare(pcm, DIAL_GROUPS) > 0.6 ? this.#run + FRAME_MS : 0;
    return this.#run >= this.minMs;
  }
  reset(): void {
    this.#run = 0;
  }
}

/**
 * Busy or reorder cadence: three tone bursts of 140–660 ms separated by gaps of 140–800 ms (US, FR
 * 500/500; GB 375/375; SE, MX 250/250; reorder 250/250, SE 250/750).
 */
export class BusyToneDetector {
  #on = false;
  #runMs = 0;
  #cycles = 0;
  push(pcm: Int16Array): boolean {
    const on = toneShare(pcm, BUSY_GROUPS) > 0.6;
    if (on === this.#on) {
      this.#runMs += FRAME_MS;
      if (this.#runMs > 820) this.#cycles = 0;
      return false;
    }
    const lasted = this.#runMs;
    this.#on = on;
    this.#runMs = FRAME_MS;
    // A burst lasts 140–660 ms, a gap up to 800 ms (Sweden's reorder: 250 on, 750 off).
    if (lasted >= 140 && lasted <= (this.#on ? 800 : 660)) this.#cycles++;
    else this.#cycles = 0;
    // Five valid edges: three bursts and the two gaps between them.
    return this.#cycles >= 5;
  }
  reset(): void {
    this.#on = false;
    this.#runMs = 0;
    this.#cycles = 0;
  }
}

export type FaxTone = 'cng' | 'ced';

/** CNG (1100 Hz ≥ 400 ms of its 0.5 s burst) or CED (2100 Hz ≥ 500 ms of its 2.6–4 s). */
export class FaxToneDetector {
  #cng = 0;
  #ced = 0;
  push(pcm: Int16Array): FaxTone | null {
    this.#cng = toneShare(pcm, [[1100]], -43) > 0.7 ? this.#cng + FRAME_MS : 0;
    this.#ced = toneShare(pcm, [[2100]], -43) > 0.7 ? this.#ced + FRAME_MS : 0;
    if (this.#cng >= 400) return 'cng';
    if (this.#ced >= 500) return 'ced';
    return null;
  }
  reset(): void {
    this.#cng = 0;
    this.#ced = 0;
  }
}

/**
 * The CPE alerting signal of caller ID on call waiting (Telcordia GR-30-CORE §3.2 "CAS", ETSI EN
 * 300 659-2 "DT-AS"): 2130 + 2750 Hz together for 75–85 ms. Judged on 10 ms blocks (an 80 ms tone
 * fills 7 or 8 of them whatever its alignment): both tones within 6 dB of each other and ≥ 80 % of
 * the block's energy. Reported once, when the tone ends after 50–110 ms (a longer dual tone is
 * something else, as is one shorter than a real CAS).
 */
export class CasDetector {
  #hits = 0;
  /** Feeds 20 ms; true on the block where a CAS just ended. */
  push(pcm: Int16Array): boolean {
    let found = false;
    for (let i = 0; i + 80 <= pcm.length; i += 80) if (this.#block(pcm.subarray(i, i + 80))) found = true;
    return found;
  }
  #block(block: Int16Array): boolean {
    const total = meanSquare(block);
    let hit = false;
    if (total >= dbm0ToPower(-40)) {
      const [low, high] = detectTones(block, [2130, 2750]) as unknown as [number, number];
      const twist = Math.abs(10 * Math.log10((low + 1e-9) / (high + 1e-9)));
      hit = twist <= 6 && (low + high) / total >= 0.8;
    }
    if (hit) {
      this.#hits++;
      return false;
    }
    const ms = this.#hits * 10;
    this.#hits = 0;
    return ms >= 50 && ms <= 110;
  }
  reset(): void {
    this.#hits = 0;
  }
}

/**
 * Caller ID FSK on the line (Bell 202 1200/2200 Hz, V.23 1300/2100 Hz): ≥ 75 % of a 20 ms frame's
 * energy between 1100 and 2300 Hz, spread over that band (no two neighbouring 50 Hz bins hold 75 %
 * of it, which any steady tone would). The 160 bins of a rectangular 20 ms DFT are orthogonal, so
 * their Goertzel powers add up to the frame's energy (Parseval). What a test listens for to tell
 * "caller ID was sent" from "only the tone was"; the leading mark of a burst is a tone and not counted.
 */
export function isFskFrame(pcm: Int16Array): boolean {
  if (pcm.length !== 160) return false;
  const total = meanSquare(pcm);
  if (total < dbm0ToPower(-45)) return false;
  let band = 0;
  let prev = 0;
  let pair = 0;
  for (let k = 22; k <= 46; k++) {
    const p = goertzelPower(pcm, k * 50);
    band += p;
    pair = Math.max(pair, p + prev);
    prev = p;
  }
  return band / total >= 0.75 && pair / band < 0.75;
}
