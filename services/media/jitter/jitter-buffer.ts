// RTP jitter buffer with adaptive and fixed play-out delay.
//
// Model (pull): the media loop calls `pop(nowMs)` once per frame interval; the buffer answers with the
// packet whose timestamp is due, or asks the caller to conceal (lost / underrun / stretch).
// Delay accounting in RTP units: transit T_i = arrival_i·rate − ts_i (RFC 3550 §6.4.1). With T_min the
// windowed minimum transit (the fastest path; windowed so clock drift is followed) and playTs the
// timestamp due now, the current buffering delay is  cur = now·rate − playTs − T_min.
// Adaptive target: max(3·J + ½ frame, decaying peak of (T_i − T_min) + ½ frame), bounded [min, max],
// where J is the RFC 3550 §A.8 interarrival jitter. A packet needing more delay raises the target at once
// (grow fast); the peak decays with a 10 s time constant (shrink slowly). The buffer moves toward the
// target one frame at a time: a concealment frame without advancing (stretch) or one frame skipped
// (shrink, at most once per `shrinkIntervalMs`, preferring frames the caller marks silent).
// Fixed mode (fax/modem, V.152-style voiceband data): the delay is set once; it is only corrected when
// clock drift moves it by more than half the fixed delay, so the modem sees no routine adjustments.
// Sequence numbers (16 bit) and timestamps (32 bit) are extended across wrap-around (RFC 3550 §A.1).

export interface JitterPacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly payload: Uint8Array;
  readonly marker?: boolean;
}

export type JitterMode = 'adaptive' | 'fixed';

export interface JitterBufferOptions {
  readonly mode: JitterMode;
  readonly clockRate: number;
  /** Samples per frame (20 ms at 8 kHz = 160); the pop interval. */
  readonly frameSamples: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly initialDelayMs: number;
  /** Delay used in fixed mode. */
  readonly fixedDelayMs: number;
  /** Minimum time between two shrink steps (adaptive). */
  readonly shrinkIntervalMs: number;
  /** Window over which the minimum transit is tracked. */
  readonly transitWindowMs: number;
  readonly maxPackets: number;
  /** Samples carried by a packet (G.711: one byte per sample). */
  readonly samplesOf: (p: JitterPacket) => number;
  /** Whether a frame may be dropped without being heard (e.g. silence); shrinking prefers those. */
  readonly isSilent?: (p: JitterPacket) => boolean;
}

export const DEFAULT_JITTER_OPTIONS: JitterBufferOptions = {
  mode: 'adaptive',
  clockRate: 8000,
  frameSamples: 160,
  minDelayMs: 20,
  maxDelayMs: 300,
  initialDelayMs: 40,
  fixedDelayMs: 60,
  shrinkIntervalMs: 1000,
  transitWindowMs: 2000,
  maxPackets: 256,
  samplesOf: (p) => p.payload.length,
};

export type JitterOutput =
  | { readonly kind: 'packet'; readonly packet: JitterPacket }
  | { readonly kind: 'conceal'; readonly timestamp: number; readonly reason: 'lost' | 'underrun' | 'stretch' }
  | { readonly kind: 'idle' };

export interface JitterStats {
  received: number;
  duplicates: number;
  late: number;
  /** RFC 3550 §A.3 cumulative lost (expected − received). */
  lost: number;
  concealed: number;
  stretched: number;
  shrunk: number;
  overflow: number;
  resyncs: number;
  /** RFC 3550 §A.8 interarrival jitter, ms. */
  jitterMs: number;
  targetDelayMs: number;
  currentDelayMs: number;
}

interface Entry {
  readonly ts: number; // extended timestamp
  readonly seq: number; // extended sequence
  readonly packet: JitterPacket;
}

export class JitterBuffer {
  readonly options: JitterBufferOptions;
  private readonly buf: Entry[] = []; // sorted by ts
  private readonly rate: number; // RTP units per ms
  private started = false;
  private playTs = 0;
  private lastExtTs: number | undefined;
  private lastExtSeq: number | undefined;
  private baseSeq = 0;
  private maxSeq = 0;
  private readonly seenSeq = new Float64Array(1024).fill(-1);
  // transit tracking
  private prevTransit: number | undefined;
  private jitter = 0; // RTP units
  private readonly minDeque: { at: number; t: number }[] = [];
  private peakMs = 0;
  private lastPeakUpdateMs = 0;
  private targetMs: number;
  private lastShrinkMs = -Infinity;
  private readonly s: JitterStats;
  private mode: JitterMode;

  constructor(options: Partial<JitterBufferOptions> = {}) {
    this.options = { ...DEFAULT_JITTER_OPTIONS, ...options };
    const o = this.options;
    if (o.minDelayMs > o.maxDelayMs) throw new RangeError('jitter buffer: minDelayMs > maxDelayMs');
    this.rate = o.clockRate / 1000;
    this.mode = o.mode;
    this.targetMs = this.mode === 'fixed' ? o.fixedDelayMs : clamp(o.initialDelayMs, o.minDelayMs, o.maxDelayMs);
    this.peakMs = this.mode === 'fixed' ? 0 : this.targetMs; // decays from the initial delay, not from zero
    this.s = {
      received: 0, duplicates: 0, late: 0, lost: 0, concealed: 0, stretched: 0, shrunk: 0, overflow: 0, resyncs: 0,
      jitterMs: 0, targetDelayMs: this.targetMs, currentDelayMs: 0,
    };
  }

  /** A packet arrived at local time `arrivalMs`. Returns false when it was dropped (dup/late/overflow). */
  push(packet: JitterPacket, arrivalMs: number): boolean {
    const o = this.options;
    const ts = this.extendTs(packet.timestamp >>> 0);
    const seq = this.extendSeq(packet.sequence & 0xffff);
    const slot = seq & 1023;
    if (this.seenSeq[slot] === seq) {
      this.s.duplicates++;
      return false;
    }
    this.seenSeq[slot] = seq;
    if (this.s.received === 0) {
      this.baseSeq = seq;
      this.maxSeq = seq;
    } else if (seq > this.maxSeq) this.maxSeq = seq;
    this.s.received++;
    this.s.lost = Math.max(0, this.maxSeq - this.baseSeq + 1 - this.s.received);

    if (this.started) {
      const ahead = (ts - this.playTs) / this.rate;
      // sender restarted its clock or a long silence gap (DTX): start over on this packet
      if (ahead < -o.maxDelayMs * 4 || ahead > o.maxDelayMs * 4) this.resync();
    }
    // RFC 3550 §A.8 jitter and windowed minimum transit
    const transit = arrivalMs * this.rate - ts;
    if (this.prevTransit !== undefined) {
      const d = Math.abs(transit - this.prevTransit);
      this.jitter += (d - this.jitter) / 16;
    }
    this.prevTransit = transit;
    const dq = this.minDeque;
    while (dq.length > 0 && (dq[dq.length - 1] as { t: number }).t >= transit) dq.pop();
    dq.push({ at: arrivalMs, t: transit });
    while (dq.length > 1 && (dq[0] as { at: number }).at < arrivalMs - o.transitWindowMs) dq.shift();
    const tMin = (dq[0] as { t: number }).t;
    this.s.jitterMs = this.jitter / this.rate;

    if (this.mode === 'adaptive') this.raiseTarget((transit - tMin) / this.rate, arrivalMs);
    if (this.started && ts < this.playTs) {
      this.s.late++;
      return false;
    }

    // sorted insert (usually at the end)
    let i = this.buf.length;
    while (i > 0 && (this.buf[i - 1] as Entry).ts > ts) i--;
    if (i > 0 && (this.buf[i - 1] as Entry).ts === ts) {
      this.s.duplicates++; // same timestamp, different sequence: a retransmission
      return false;
    }
    this.buf.splice(i, 0, { ts, seq, packet });
    if (this.buf.length > o.maxPackets) {
      this.buf.shift();
      this.s.overflow++;
    }
    return true;
  }

  /** Called once per frame interval by the media loop at local time `nowMs`. */
  pop(nowMs: number): JitterOutput {
    const o = this.options;
    const tMin = this.minDeque[0]?.t;
    if (tMin === undefined) return { kind: 'idle' };
    this.decayTarget(nowMs);
    if (!this.started) {
      const first = this.buf[0];
      if (first === undefined) return { kind: 'idle' };
      if ((nowMs * this.rate - first.ts - tMin) / this.rate < this.targetMs - o.frameSamples / this.rate / 2) return { kind: 'idle' };
      this.started = true;
      this.playTs = first.ts;
    }
    const curMs = (nowMs * this.rate - this.playTs - tMin) / this.rate;
    this.s.currentDelayMs = curMs;
    const frameMs = o.frameSamples / this.rate;
    // drop anything that is already behind the play-out point
    while (this.buf.length > 0 && (this.buf[0] as Entry).ts < this.playTs) this.buf.shift();
    const head = this.buf[0];
    const due = head !== undefined && head.ts === this.playTs ? head : undefined;

    const fixed = this.mode === 'fixed';
    const low = fixed ? this.targetMs - this.targetMs / 2 : this.targetMs - frameMs / 2;
    const high = fixed ? this.targetMs + this.targetMs / 2 : this.targetMs + frameMs;
    if (curMs < low && curMs < o.maxDelayMs) {
      this.s.stretched++;
      this.s.concealed++;
      return { kind: 'conceal', timestamp: tsOut(this.playTs), reason: 'stretch' };
    }
    if (curMs > high && (fixed || nowMs - this.lastShrinkMs >= o.shrinkIntervalMs)) {
      const silent = due !== undefined && o.isSilent?.(due.packet) === true;
      if (silent || curMs > high + frameMs || fixed || o.isSilent === undefined) {
        this.lastShrinkMs = nowMs;
        this.s.shrunk++;
        if (due !== undefined) this.buf.shift();
        this.playTs += due !== undefined ? o.samplesOf(due.packet) : o.frameSamples;
        return this.pop(nowMs);
      }
    }
    if (due !== undefined) {
      this.buf.shift();
      this.playTs += o.samplesOf(due.packet);
      return { kind: 'packet', packet: due.packet };
    }
    const ts = this.playTs;
    this.playTs += o.frameSamples;
    this.s.concealed++;
    return { kind: 'conceal', timestamp: tsOut(ts), reason: head === undefined ? 'underrun' : 'lost' };
  }

  get stats(): Readonly<JitterStats> {
    return { ...this.s, targetDelayMs: this.targetMs };
  }

  /** Packets currently held. */
  get currentMode(): JitterMode {
    return this.mode;
  }

  get size(): number {
    return this.buf.length;
  }

  /** Switch mode mid-call (e.g. a re-INVITE to fax); fixed mode keeps the current target as its delay. */
  setMode(mode: JitterMode, fixedDelayMs?: number): void {
    this.mode = mode;
    if (mode === 'fixed') this.targetMs = fixedDelayMs ?? this.options.fixedDelayMs;
  }

  reset(): void {
    this.buf.length = 0;
    this.resync();
    this.minDeque.length = 0;
    this.prevTransit = undefined;
  }

  private resync(): void {
    this.buf.length = 0;
    this.started = false;
    this.s.resyncs++;
    this.minDeque.length = 0;
    this.prevTransit = undefined;
    if (this.mode === 'adaptive') {
      const o = this.options;
      this.targetMs = clamp(o.initialDelayMs, o.minDelayMs, o.maxDelayMs);
      this.peakMs = this.targetMs;
    }
  }

  private raiseTarget(needMs: number, nowMs: number): void {
    const o = this.options;
    const frameMs = o.frameSamples / this.rate;
    const want = needMs + frameMs / 2;
    if (want > this.peakMs) {
      this.peakMs = Math.min(want, o.maxDelayMs);
      this.lastPeakUpdateMs = nowMs;
    }
    const floor = (3 * this.jitter) / this.rate + frameMs / 2;
    const t = clamp(Math.max(this.peakMs, floor), o.minDelayMs, o.maxDelayMs);
    if (t > this.targetMs) this.targetMs = t;
  }

  private decayTarget(nowMs: number): void {
    const o = this.options;
    if (this.mode === 'fixed') return;
    const dt = nowMs - this.lastPeakUpdateMs;
    if (dt <= 0) return;
    this.lastPeakUpdateMs = nowMs;
    this.peakMs *= Math.exp(-dt / 10_000);
    const frameMs = o.frameSamples / this.rate;
    const floor = (3 * this.jitter) / this.rate + frameMs / 2;
    this.targetMs = clamp(Math.max(this.peakMs, floor), o.minDelayMs, o.maxDelayMs);
  }

  private extendTs(ts: number): number {
    if (this.lastExtTs === undefined) {
      this.lastExtTs = ts;
      return ts;
    }
    const d = ((ts - this.lastExtTs) | 0); // signed 32-bit distance
    const ext = this.lastExtTs + d;
    if (ext > this.lastExtTs) this.lastExtTs = ext;
    return ext;
  }

  private extendSeq(seq: number): number {
    if (this.lastExtSeq === undefined) {
      this.lastExtSeq = seq + 65536; // keep extended values positive after early backward steps
      return this.lastExtSeq;
    }
    let d = (seq - (this.lastExtSeq & 0xffff)) & 0xffff;
    if (d >= 0x8000) d -= 0x10000;
    const ext = this.lastExtSeq + d;
    if (ext > this.lastExtSeq) this.lastExtSeq = ext;
    return ext;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function tsOut(ext: number): number {
  return ext >>> 0;
}
