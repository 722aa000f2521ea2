/**
 * One stream of key presses per caller, whichever way the phone sends them: RFC 4733 events on
 * the RTP stream, tones in the audio (detected here, ITU-T Q.24 detector), or SIP INFO bodies
 * (application/dtmf-relay, application/dtmf). Many phones send a digit two ways at once (RFC 4733
 * plus in-band leakage, or INFO plus RFC 4733); a press is reported once.
 *
 * De-duplication rule: a digit from one source is dropped when the SAME digit came from ANOTHER
 * source less than `dedupeMs` earlier. Repeats on one source are real presses (RFC 4733 identifies
 * events by timestamp, the detector needs a ≥ 40 ms pause, INFO is one request per press).
 */
import type { DtmfEvent } from '../../media/engine.js';
import { DtmfDetector } from '../../media/dtmf/detector.js';
import { parseDtmfDigit, type DtmfDigit } from '../../media/dtmf/digits.js';
import { parseDtmfInfo } from '../../media/dtmf/info.js';

export type DtmfSource = 'rfc4733' | 'inband' | 'info';

export interface KeyPress {
  digit: DtmfDigit;
  source: DtmfSource;
}

export interface DtmfInputOptions {
  /** window in which the same digit from another source is the same press (default 500 ms) */
  dedupeMs?: number;
  /** run the in-band detector on the caller's audio (default true) */
  inband?: boolean;
  now?: () => number;
}

export class DtmfInput {
  readonly #onDigit: (press: KeyPress) => void;
  readonly #detector: DtmfDetector | null;
  readonly #dedupeMs: number;
  readonly #now: () => number;
  #last: { digit: DtmfDigit; source: DtmfSource; at: number } | null = null;
  /** INFO bodies that were not DTMF (count, for the call's log) */
  rejectedInfo = 0;

  constructor(onDigit: (press: KeyPress) => void, options: DtmfInputOptions = {}) {
    this.#onDigit = onDigit;
    this.#detector = options.inband === false ? null : new DtmfDetector();
    this.#dedupeMs = options.dedupeMs ?? 500;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The leg's decoded audio (MediaEndpoint.onAudio). */
  audio(frame: Int16Array): void {
    if (this.#detector === null) return;
    for (const ev of this.#detector.process(frame)) {
      if (ev.type === 'start') this.#emit(ev.digit, 'inband');
    }
  }

  /** An RFC 4733 event (MediaEndpoint.onDtmf): the press counts when it begins. */
  rfc4733(event: DtmfEvent): void {
    if (event.phase !== 'begin') return;
    const digit = parseDtmfDigit(event.digit);
    if (digit !== undefined) this.#emit(digit, 'rfc4733');
  }

  /** A SIP INFO body (LocalApplication.info). Returns the parse error for bodies that are not DTMF. */
  info(contentType: string | null, body: Buffer): string | null {
    const parsed = parseDtmfInfo(contentType ?? '', body);
    if (!parsed.ok) {
      this.rejectedInfo++;
      return parsed.error;
    }
    this.#emit(parsed.value.digit, 'info');
    return null;
  }

  #emit(digit: DtmfDigit, source: DtmfSource): void {
    const at = this.#now();
    const last = this.#last;
    if (last !== null && last.digit === digit && last.source !== source && at - last.at < this.#dedupeMs) return;
    this.#last = { digit, source, at };
    this.#onDigit({ digit, source });
  }
}
