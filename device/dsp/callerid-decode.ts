/**
 * Caller ID receiver: FSK demodulation and message parsing, what an analog phone's display does.
 *   - Bell 202 (Telcordia GR-30-CORE): mark 1200 Hz, space 2200 Hz, 1200 baud (US, MX);
 *   - ETSI EN 300 659-1 / ITU-T V.23: mark 1300 Hz, space 2100 Hz, 1200 baud (GB, FR, SE).
 * Both run at once on every sample; the first valid message wins. A message is: 300 bits of channel
 * seizure (0101…), ≥ 10 bits of mark, then start/8 data bits LSB first/stop bytes: type, length,
 * parameters, checksum (the sum of all bytes is 0 mod 256). SDMF (0x04) and MDMF (0x80) are parsed.
 *
 * Demodulation: per tone, the energy of a sliding one-bit window of complex correlation; the bit is
 * mark when the mark energy is the larger. The UART samples each bit at its centre (majority of 3).
 */
import { muLawDecode, SAMPLE_RATE } from '../../services/media/codec/g711.js';
import { goertzelPower } from '../../services/media/dsp/goertzel.js';
import { dbm0ToPower } from '../../services/media/dsp/levels.js';

export type FskStandard = 'bell202' | 'v23';

export interface CallerId {
  standard: FskStandard;
  format: 'mdmf' | 'sdmf';
  /** MMDDHHMM as sent. */
  dateTime: string | null;
  number: string | null;
  name: string | null;
  /** Why no number: 'private' (P) or 'unavailable' (O). */
  numberAbsent: 'private' | 'unavailable' | null;
}

const BAUD = 1200;
const SPB = SAMPLE_RATE / BAUD; // 6.667 samples per bit
const WINDOW = 7;
const MIN_MARK_BITS = 10;
const MAX_GAP_BITS = 20;
const GATE_POWER = dbm0ToPower(-42);

const TONES: Record<FskStandard, { mark: number; space: number }> = {
  bell202: { mark: 1200, space: 2200 },
  v23: { mark: 1300, space: 2100 },
};

class Correlator {
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;
  #re = 0;
  #im = 0;
  readonly #hre = new Float64Array(WINDOW);
  readonly #him = new Float64Array(WINDOW);
  #i = 0;
  #n = 0;

  constructor(freq: number) {
    // Period-exact tables are not needed: energy over the window does not depend on the phase origin,
    // so the reference phasor simply advances by ω per sample (recomputed from n to avoid drift).
    this.#cos = new Float64Array(SAMPLE_RATE);
    this.#sin = new Float64Array(SAMPLE_RATE);
    for (let k = 0; k < SAMPLE_RATE; k++) {
      this.#cos[k] = Math.cos((2 * Math.PI * freq * k) / SAMPLE_RATE);
      this.#sin[k] = Math.sin((2 * Math.PI * freq * k) / SAMPLE_RATE);
    }
  }

  push(x: number): number {
    const k = this.#n;
    this.#n = (this.#n + 1) % SAMPLE_RATE;
    const r = x * (this.#cos[k] as number);
    const m = x * (this.#sin[k] as number);
    this.#re += r - (this.#hre[this.#i] as number);
    this.#im += m - (this.#him[this.#i] as number);
    this.#hre[this.#i] = r;
    this.#him[this.#i] = m;
    this.#i = (this.#i + 1) % WINDOW;
    return this.#re * this.#re + this.#im * this.#im;
  }
}

type UartState = { s: 'hunt'; markRun: number } | { s: 'byte'; start: number } | { s: 'gap'; since: number };

class FskReceiver {
  readonly #mark: Correlator;
  readonly #space: Correlator;
  readonly #bits = new Uint8Array(128); // recent decisions, ring buffer by sample index (> one byte)
  readonly #pow = new Float64Array(WINDOW);
  #powSum = 0;
  #n = 0;
  #state: UartState = { s: 'hunt', markRun: 0 };
  #bytes: number[] = [];
  /** Raw samples, to tell the standards apart on the mark preamble (1200 vs 1300 Hz). */
  readonly #raw = new Float64Array(256);
  /** This message's mark tone belongs to the other standard: its bytes decode here too (the tones
   * are 100 Hz apart), but the message is the other receiver's to report. */
  #foreign = false;

  constructor(
    readonly standard: FskStandard,
    private readonly onMessage: (bytes: number[]) => void,
  ) {
    this.#mark = new Correlator(TONES[standard].mark);
    this.#space = new Correlator(TONES[standard].space);
  }

  push(x: number): void {
    const n = this.#n++;
    const em = this.#mark.push(x);
    const es = this.#space.push(x);
    this.#raw[n % 256] = x;
    const sq = x * x;
    this.#powSum += sq - (this.#pow[n % WINDOW] as number);
    this.#pow[n % WINDOW] = sq;
    const carrier = this.#powSum / WINDOW > GATE_POWER;
    const bit = em > es ? 1 : 0;
    this.#bits[n % 128] = bit;
    const st = this.#state;
    if (!carrier) {
      if (st.s !== 'hunt') this.#endMessage();
      this.#state = { s: 'hunt', markRun: 0 };
      return;
    }
    switch (st.s) {
      case 'hunt':
        if (bit === 1) st.markRun++;
        else {
          if (st.markRun >= MIN_MARK_BITS * SPB) {
            this.#bytes = [];
            this.#foreign = this.#markIsForeign(n, st.markRun);
            this.#state = { s: 'byte', start: n };
          } else st.markRun = 0;
        }
        return;
      case 'gap':
        if (bit === 0) this.#state = { s: 'byte', start: n };
        else if (n - st.since > MAX_GAP_BITS * SPB) {
          this.#endMessage();
          this.#state = { s: 'hunt', markRun: MAX_GAP_BITS * SPB };
        }
        return;
      case 'byte': {
        // Decide once the stop bit's centre (+1 sample for the majority vote) has been seen.
        const stopCentre = st.start + Math.round(9.5 * SPB);
        if (n < stopCentre + 1) return;
        const sample = (k: number): number => {
          const c = st.start + Math.round((k + 0.5) * SPB);
          const v = (this.#bits[(c - 1) % 128] as number) + (this.#bits[c % 128] as number) + (this.#bits[(c + 1) % 128] as number);
          return v >= 2 ? 1 : 0;
        };
        if (sample(0) !== 0 || sample(9) !== 1) {
          // Framing error: not a byte after all; back to hunting.
          this.#bytes = [];
          this.#state = { s: 'hunt', markRun: 0 };
          return;
        }
        let value = 0;
        for (let k = 0; k < 8; k++) value |= sample(1 + k) << k;
        this.#bytes.push(value);
        if (this.#complete()) {
          this.#endMessage();
          this.#state = { s: 'hunt', markRun: 0 };
        } else this.#state = { s: 'gap', since: n };
        return;
      }
    }
  }

  /** A stretch without carrier: whatever was being received ends here. */
  silence(): void {
    if (this.#state.s !== 'hunt') this.#endMessage();
    this.#state = { s: 'hunt', markRun: 0 };
  }

  /** Goertzel over the last 10 or 20 ms of mark (a whole number of 100 Hz bins: the two marks are orthogonal). */
  #markIsForeign(n: number, markRun: number): boolean {
    const len = markRun >= 168 ? 160 : 80;
    const x = new Float64Array(len);
    for (let i = 0; i < len; i++) x[i] = this.#raw[(n - 4 - len + i + 256 * 4) % 256] as number;
    const own = TONES[this.standard].mark;
    const other = this.standard === 'bell202' ? TONES.v23.mark : TONES.bell202.mark;
    return goertzelPower(x, other) > goertzelPower(x, own);
  }

  #complete(): boolean {
    const b = this.#bytes;
    return b.length >= 2 && b.length >= 3 + (b[1] as number);
  }

  #endMessage(): void {
    const b = this.#bytes;
    this.#bytes = [];
    if (b.length < 3) return;
    const len = b[1] as number;
    if (b.length < 3 + len) return;
    const msg = b.slice(0, 3 + len);
    const sum = msg.reduce((a, v) => (a + v) & 0xff, 0);
    if (sum !== 0 || this.#foreign) return;
    this.onMessage(msg);
  }
}

function ascii(bytes: number[]): string {
  return String.fromCharCode(...bytes.map((c) => (c >= 0x20 && c < 0x7f ? c : 0x3f)));
}

/** Parse a checked message (type, length, body, checksum); null for a type we do not show. */
export function parseCallerIdMessage(standard: FskStandard, msg: number[]): CallerId | null {
  const type = msg[0] as number;
  const body = msg.slice(2, msg.length - 1);
  const out: CallerId = { standard, format: 'mdmf', dateTime: null, number: null, name: null, numberAbsent: null };
  const absent = (s: string): 'private' | 'unavailable' | null => (s === 'P' ? 'private' : s === 'O' ? 'unavailable' : null);
  if (type === 0x04) {
    out.format = 'sdmf';
    out.dateTime = ascii(body.slice(0, 8));
    const rest = ascii(body.slice(8));
    out.numberAbsent = absent(rest);
    out.number = out.numberAbsent === null ? rest : null;
    return out;
  }
  if (type !== 0x80 && type !== 0x82) return null;
  let i = 0;
  while (i + 2 <= body.length) {
    const p = body[i] as number;
    const l = body[i + 1] as number;
    const v = body.slice(i + 2, i + 2 + l);
    if (v.length !== l) break;
    if (p === 0x01) out.dateTime = ascii(v);
    else if (p === 0x02 || p === 0x03) out.number = ascii(v);
    else if (p === 0x04) out.numberAbsent = absent(ascii(v));
    else if (p === 0x07) out.name = ascii(v);
    else if (p === 0x08 && out.name === null) out.name = null;
    i += 2 + l;
  }
  return out;
}

/** Streaming decoder for 20 ms µ-law frames (or PCM). */
export class CallerIdDecoder {
  readonly #rx: FskReceiver[];

  constructor(
    private readonly onCallerId: (cid: CallerId) => void,
    standards: readonly FskStandard[] = ['bell202', 'v23'],
  ) {
    this.#rx = standards.map(
      (s) =>
        new FskReceiver(s, (msg) => {
          const cid = parseCallerIdMessage(s, msg);
          if (cid !== null) this.onCallerId(cid);
        }),
    );
  }

  pushMuLaw(frame: Uint8Array): void {
    // Digital silence (µ-law ±0) carries no FSK: skip the per-sample work, as the carrier gate would.
    let silent = true;
    for (let i = 0; i < frame.length && silent; i++) silent = ((frame[i] as number) & 0x7f) === 0x7f;
    if (silent) {
      for (const rx of this.#rx) rx.silence();
      return;
    }
    this.pushPcm(muLawDecode(frame));
  }

  pushPcm(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) {
      const x = pcm[i] as number;
      for (const rx of this.#rx) rx.push(x);
    }
  }
}
