import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JitterBuffer, type JitterBufferOptions, type JitterOutput, type JitterPacket } from './jitter-buffer.js';
import { prng } from '../dsp/synth.js';

interface SimOptions {
  readonly packets: number;
  readonly delay: (k: number) => number; // network delay of packet k, ms
  readonly drop?: (k: number) => boolean;
  readonly dup?: (k: number) => boolean;
  readonly seq0?: number;
  readonly ts0?: number;
  /** Sender clock rate relative to ours (1.001 = sender 0.1 % fast). */
  readonly drift?: number;
  readonly jb?: Partial<JitterBufferOptions>;
}

interface SimResult {
  readonly jb: JitterBuffer;
  readonly out: JitterOutput[];
  /** sequence numbers (unwrapped index k) of packets played, in order */
  readonly played: number[];
  readonly delays: number[]; // stats.currentDelayMs after each pop
}

function payloadFor(k: number): Uint8Array {
  const p = new Uint8Array(160);
  p[0] = k & 0xff;
  p[1] = (k >> 8) & 0xff;
  p[2] = (k >> 16) & 0xff;
  return p;
}

const indexOf = (p: JitterPacket): number => (p.payload[0] as number) | ((p.payload[1] as number) << 8) | ((p.payload[2] as number) << 16);

function simulate(o: SimOptions): SimResult {
  const jb = new JitterBuffer(o.jb);
  const drift = o.drift ?? 1;
  const arrivals: { at: number; pkt: JitterPacket }[] = [];
  for (let k = 0; k < o.packets; k++) {
    if (o.drop?.(k)) continue;
    const pkt: JitterPacket = {
      sequence: ((o.seq0 ?? 1000) + k) & 0xffff,
      timestamp: ((o.ts0 ?? 12345) + k * 160) >>> 0,
      payload: payloadFor(k),
    };
    const at = (k * 20) / drift + o.delay(k);
    arrivals.push({ at, pkt });
    if (o.dup?.(k)) arrivals.push({ at: at + 3, pkt });
  }
  arrivals.sort((a, b) => a.at - b.at);
  const out: JitterOutput[] = [];
  const played: number[] = [];
  const delays: number[] = [];
  let i = 0;
  const endMs = (o.packets * 20) / drift + 1000;
  for (let now = 0; now < endMs; now += 20) {
    while (i < arrivals.length && (arrivals[i] as { at: number }).at <= now) {
      const a = arrivals[i++] as { at: number; pkt: JitterPacket };
      jb.push(a.pkt, a.at);
    }
    const r = jb.pop(now);
    out.push(r);
    if (r.kind === 'packet') played.push(indexOf(r.packet));
    delays.push(jb.stats.currentDelayMs);
  }
  return { jb, out, played, delays };
}

const isIncreasing = (a: number[]): boolean => a.every((v, i) => i === 0 || v > (a[i - 1] as number));

test('in-order stream without jitter plays every packet at the minimum delay', () => {
  const r = simulate({ packets: 500, delay: () => 30 });
  assert.equal(r.played.length, 500);
  assert.ok(isIncreasing(r.played));
  const s = r.jb.stats;
  assert.equal(s.lost, 0);
  assert.equal(s.late, 0);
  assert.ok(s.jitterMs < 0.01);
  assert.ok(s.targetDelayMs <= 40, `target ${s.targetDelayMs}`);
  assert.equal(r.out.filter((x) => x.kind === 'conceal' && x.reason !== 'underrun').length, 0);
});

test('reordering and duplicates: output in order, duplicates counted and dropped', () => {
  const r = simulate({
    packets: 400,
    delay: (k) => (k % 7 === 3 ? 45 : 20), // every 7th packet overtaken by the next one
    dup: (k) => k % 10 === 0,
  });
  assert.equal(r.played.length, 400);
  assert.ok(isIncreasing(r.played));
  assert.equal(r.jb.stats.duplicates, 40);
  assert.equal(r.jb.stats.lost, 0);
});

test('losses are reported for concealment and counted per RFC 3550', () => {
  const r = simulate({ packets: 300, delay: () => 20, drop: (k) => k % 50 === 25 || k === 100 || k === 101 });
  assert.equal(r.played.length, 300 - 8);
  const lost = r.out.filter((x) => x.kind === 'conceal' && x.reason === 'lost');
  assert.equal(lost.length, 8);
  assert.equal(r.jb.stats.lost, 8);
  const lostTs = lost.map((x) => (x.kind === 'conceal' ? x.timestamp : -1));
  assert.ok(lostTs.includes((12345 + 100 * 160) >>> 0));
});

test('sequence and timestamp wrap-around', () => {
  const r = simulate({ packets: 300, delay: (k) => 20 + (k % 3) * 5, seq0: 65500, ts0: 0xffffffff - 160 * 100 });
  assert.equal(r.played.length, 300);
  assert.ok(isIncreasing(r.played));
  assert.equal(r.jb.stats.lost, 0);
  assert.equal(r.jb.stats.resyncs, 0);
});

test('adaptive: grows fast on jitter, keeps late loss low, shrinks slowly when jitter goes away', () => {
  const rnd = prng(42);
  const jittery = (k: number): number => (k < 1500 ? 20 + rnd() * 80 : 20);
  const r = simulate({ packets: 3500, delay: jittery });
  const s = r.jb.stats;
  // during the jittery phase the target rose to cover ~80 ms of spread
  const midDelay = r.delays[1400] as number;
  assert.ok(midDelay >= 60 && midDelay <= 140, `mid delay ${midDelay}`);
  // late packets only while growing at the beginning
  assert.ok(s.late < 30, `late ${s.late}`);
  // afterwards the delay comes back down toward the minimum, but not instantly
  const after1s = r.delays[1500 + 100] as number;
  const end = r.delays[3400] as number;
  assert.ok(after1s > 50, `shrank too fast: ${after1s}`);
  assert.ok(end < 45, `did not shrink: ${end}`);
  assert.ok(isIncreasing(r.played));
  assert.ok(s.shrunk > 0);
});

test('RFC 3550 jitter estimate matches the known delay distribution', () => {
  const rnd = prng(7);
  const r = simulate({ packets: 3000, delay: () => 20 + rnd() * 60 });
  const j = r.jb.stats.jitterMs;
  assert.ok(j > 14 && j < 26, `jitter ${j}`); // E|X−Y| for U(0,60) = 20 ms
});

test('fixed mode keeps its delay whatever the jitter and drops packets that miss it', () => {
  const rnd = prng(3);
  const r = simulate({ packets: 1500, delay: () => 20 + (rnd() < 0.05 ? 150 : rnd() * 30), jb: { mode: 'fixed', fixedDelayMs: 60 } });
  const s = r.jb.stats;
  assert.equal(s.targetDelayMs, 60);
  const ds = r.delays.slice(100, 1400);
  assert.ok(Math.max(...ds) - Math.min(...ds) <= 40, `delay range ${Math.min(...ds)}..${Math.max(...ds)}`);
  assert.ok(s.late >= 40 && s.late <= 110, `late ${s.late}`); // the 5 % spikes miss the fixed delay
  assert.equal(s.stretched + s.shrunk, 0);
});

test('clock drift both ways stays bounded (no overflow, no runaway delay)', () => {
  for (const drift of [1.005, 0.995]) {
    const r = simulate({ packets: 6000, delay: () => 25, drift });
    const s = r.jb.stats;
    const tail = r.delays.slice(1000, 5900);
    assert.ok(Math.max(...tail) < 80 && Math.min(...tail) >= 0, `drift ${drift}: ${Math.min(...tail)}..${Math.max(...tail)}`);
    assert.equal(s.overflow, 0);
    if (drift > 1) assert.ok(s.shrunk >= 20, `shrunk ${s.shrunk}`);
    else assert.ok(s.stretched >= 20, `stretched ${s.stretched}`);
    assert.ok(isIncreasing(r.played));
    assert.ok(r.played.length > 6000 - s.shrunk - 60);
  }
});

test('fixed mode corrects drift only in large steps', () => {
  const r = simulate({ packets: 6000, delay: () => 25, drift: 1.002, jb: { mode: 'fixed', fixedDelayMs: 80 } });
  const s = r.jb.stats;
  assert.ok(s.shrunk >= 1 && s.shrunk <= 12, `shrunk ${s.shrunk}`);
});

test('a jump of the sender clock resynchronises instead of stalling', () => {
  const jb = new JitterBuffer();
  let played = 0;
  for (let k = 0; k < 100; k++) {
    const ts = k < 50 ? k * 160 : 5_000_000 + k * 160;
    jb.push({ sequence: k, timestamp: ts, payload: new Uint8Array(160) }, k * 20 + 10);
    if (jb.pop(k * 20 + 20).kind === 'packet') played++;
  }
  assert.equal(jb.stats.resyncs, 1);
  assert.ok(played > 85, `played ${played}`);
});

test('shrinking prefers frames marked silent; switching to fixed mode freezes the delay', () => {
  const silentEvery = 25; // every 25th frame is silence (payload byte 3 = 1)
  const mk = (k: number): JitterPacket => {
    const p = payloadFor(k);
    p[3] = k % silentEvery === 0 ? 1 : 0;
    return { sequence: k, timestamp: k * 160, payload: p };
  };
  const jb = new JitterBuffer({ isSilent: (p) => p.payload[3] === 1, initialDelayMs: 200 });
  const skipped: number[] = [];
  let expect = 0;
  for (let k = 0; k < 1500; k++) {
    jb.push(mk(k), k * 20 + 20);
    const r = jb.pop(k * 20 + 20);
    if (r.kind === 'packet') {
      const got = indexOf(r.packet);
      for (let m = Math.max(expect, 0); m < got; m++) skipped.push(m);
      expect = got + 1;
    }
  }
  assert.ok(skipped.length >= 3, `skipped ${skipped.length}`);
  assert.ok(skipped.every((m) => m % silentEvery === 0), `skipped non-silent frames: ${skipped.join(',')}`);
  jb.setMode('fixed', 100);
  assert.equal(jb.currentMode, 'fixed');
  assert.equal(jb.stats.targetDelayMs, 100);
});
