import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectTones, meanSquare } from '../dsp/goertzel.js';
import { dbm0ToAmplitude } from '../dsp/levels.js';
import { sines } from '../dsp/synth.js';
import { ConferenceMixer, ConferenceRoom, JOIN_TONE_HZ, LEAVE_TONE_HZ, type Participant } from './room.js';

const F = 160;
const LEVEL = -10; // dBm0 per talker
const TONE_POWER = dbm0ToAmplitude(LEVEL) ** 2 / 2;

/** A talker: a continuous sine at its own frequency, 20 ms at a time. */
class Talker {
  #offset = 0;
  constructor(
    readonly p: Participant,
    readonly freq: number,
    readonly dbm0: number = LEVEL,
  ) {}
  speak(): void {
    this.p.pushFrame(sines([{ freq: this.freq, dbm0: this.dbm0 }], F, this.#offset));
    this.#offset += F;
  }
}

/** Runs `ticks` frames; returns what each participant heard, concatenated. */
function run(room: ConferenceRoom, talkers: readonly Talker[], ticks: number, silent: readonly Participant[] = []): Map<Participant, Int16Array> {
  const heard = new Map<Participant, Int16Array>();
  for (const p of [...talkers.map((t) => t.p), ...silent]) heard.set(p, new Int16Array(ticks * F));
  for (let k = 0; k < ticks; k++) {
    for (const t of talkers) t.speak();
    room.tick();
    for (const [p, buf] of heard) buf.set(p.output, k * F);
  }
  return heard;
}

function powerDb(pcm: Int16Array, f: number): number {
  return 10 * Math.log10((detectTones(pcm, [f])[0] ?? 0) / TONE_POWER + 1e-15);
}

function threeParty(): { room: ConferenceRoom; talkers: Talker[] } {
  const room = new ConferenceRoom('r1');
  const talkers = [
    new Talker(room.join('alice'), 440),
    new Talker(room.join('bob'), 697),
    new Talker(room.join('carol'), 1209),
  ];
  run(room, talkers, 50); // let the three join tones finish
  return { room, talkers };
}

test('3-party mix-minus: each party hears exactly the other two', () => {
  const { room, talkers } = threeParty();
  const heard = run(room, talkers, 50);
  for (const me of talkers) {
    const pcm = heard.get(me.p) as Int16Array;
    for (const other of talkers) {
      const db = powerDb(pcm, other.freq);
      if (other === me) assert.ok(db < -60, `${me.p.id} does not hear itself (${db.toFixed(1)} dB)`);
      else assert.ok(Math.abs(db) < 0.5, `${me.p.id} hears ${other.p.id} at full level (${db.toFixed(2)} dB)`);
    }
    // Nothing else: the output is exactly the sum of the two others' signals.
    const others = talkers.filter((t) => t !== me);
    const expected = sines(others.map((t) => ({ freq: t.freq, dbm0: LEVEL })), 50 * F, 100 * F);
    let maxErr = 0;
    for (let i = 0; i < expected.length; i++) maxErr = Math.max(maxErr, Math.abs((pcm[i] ?? 0) - (expected[i] ?? 0)));
    assert.ok(maxErr <= 1, `${me.p.id}: output is the others' sum (max error ${maxErr})`);
  }
});

test('mute removes a party from the others, who still hear the rest; the muted party hears everyone', () => {
  const { room, talkers } = threeParty();
  const [alice, bob, carol] = talkers as [Talker, Talker, Talker];
  room.setMuted('bob', true);
  let heard = run(room, talkers, 50);
  const a = heard.get(alice.p) as Int16Array;
  const c = heard.get(carol.p) as Int16Array;
  const b = heard.get(bob.p) as Int16Array;
  assert.ok(powerDb(a, 697) < -60, 'alice no longer hears bob');
  assert.ok(powerDb(c, 697) < -60, 'carol no longer hears bob');
  assert.ok(Math.abs(powerDb(a, 1209)) < 0.5, 'alice still hears carol');
  assert.ok(Math.abs(powerDb(c, 440)) < 0.5, 'carol still hears alice');
  assert.ok(Math.abs(powerDb(b, 440)) < 0.5 && Math.abs(powerDb(b, 1209)) < 0.5, 'bob hears both');
  assert.ok(powerDb(b, 697) < -60, 'bob does not hear himself');
  bob.p.muted = false;
  heard = run(room, talkers, 50);
  assert.ok(Math.abs(powerDb(heard.get(alice.p) as Int16Array, 697)) < 0.5, 'unmuted: alice hears bob again');
});

test('join and leave tones are heard by the room, in their order', () => {
  const room = new ConferenceRoom('tones');
  const alice = room.join('alice');
  const quiet = (n: number): Int16Array => run(room, [], n, [alice]).get(alice) as Int16Array;
  // Join: 1000 Hz then 1400 Hz (100 ms each, 20 ms gap).
  const join = quiet(15);
  const [j1, j2] = JOIN_TONE_HZ as [number, number];
  assert.ok(powerDb(join.subarray(0, 800), j1) > powerDb(join.subarray(0, 800), j2) + 20, 'first beep is the low one');
  assert.ok(powerDb(join.subarray(960, 1760), j2) > powerDb(join.subarray(960, 1760), j1) + 20, 'second beep is the high one');
  assert.ok(meanSquare(quiet(10)) === 0, 'then silence');

  const bob = room.join('bob');
  run(room, [], 15, [alice, bob]);
  room.leave('bob');
  assert.equal(bob.inRoom, false);
  const leave = quiet(15);
  const [l1, l2] = LEAVE_TONE_HZ as [number, number];
  assert.ok(powerDb(leave.subarray(0, 800), l1) > powerDb(leave.subarray(0, 800), l2) + 20, 'leave starts high');
  assert.ok(powerDb(leave.subarray(960, 1760), l2) > powerDb(leave.subarray(960, 1760), l1) + 20, 'and ends low');
  assert.equal(room.size, 1);
  // Joining without announcement plays nothing.
  room.join('carol', { announce: false });
  assert.equal(meanSquare(quiet(5)), 0);
});

test('a private prompt is heard by its participant only, over the mix', () => {
  const { room, talkers } = threeParty();
  const [alice] = talkers as [Talker, Talker, Talker];
  alice.p.playPrivate(sines([{ freq: 1800, dbm0: LEVEL }], 25 * F));
  const heard = run(room, talkers, 25);
  assert.ok(Math.abs(powerDb(heard.get(alice.p) as Int16Array, 1800)) < 0.5, 'alice hears her prompt');
  assert.ok(Math.abs(powerDb(heard.get(alice.p) as Int16Array, 697)) < 0.5, 'and still the others');
  for (const t of talkers.slice(1)) assert.ok(powerDb(heard.get(t.p) as Int16Array, 1800) < -60, `${t.p.id} does not`);
  const after = run(room, talkers, 10);
  assert.ok(powerDb(after.get(alice.p) as Int16Array, 1800) < -60, 'the prompt ends');
});

test('loud talkers are limited, never wrapped around', () => {
  const room = new ConferenceRoom('loud');
  const ps = ['a', 'b', 'c', 'd'].map((id) => room.join(id, { announce: false }));
  const loud = sines([{ freq: 500, dbm0: 3 }], F); // near full scale; three of them sum to ~3× full scale
  let minCorr = 1;
  let peak = 0;
  for (let k = 0; k < 20; k++) {
    for (const p of ps) p.pushFrame(loud);
    room.tick();
    const out = (ps[0] as Participant).output;
    let dot = 0;
    let e1 = 0;
    let e2 = 0;
    for (let i = 0; i < F; i++) {
      const x = out[i] ?? 0;
      const y = loud[i] ?? 0;
      dot += x * y;
      e1 += x * x;
      e2 += y * y;
      peak = Math.max(peak, Math.abs(x));
    }
    minCorr = Math.min(minCorr, dot / Math.sqrt(e1 * e2));
  }
  assert.ok(minCorr > 0.999, `shape kept, scaled not clipped (correlation ${minCorr})`);
  assert.ok(peak > 30000 && peak <= 32767, `uses the full range (${peak})`);
});

test('10 rooms × 10 participants mix independently and correctly', () => {
  const mixer = new ConferenceMixer();
  const freqs = Array.from({ length: 10 }, (_, k) => 350 + k * 300);
  const rooms: Talker[][] = [];
  for (let r = 0; r < 10; r++) {
    const room = mixer.room(`room-${r}`);
    // In room r, participant r is silent (sends nothing): a room must not leak into another.
    // -25 dBm0 each so that nine talkers stay below the limiter.
    rooms.push(freqs.map((f, k) => new Talker(room.join(`p${k}`, { announce: false }), f, -25)));
  }
  const ticks = 40;
  const heard = new Map<Participant, Int16Array>();
  for (const ts of rooms) for (const t of ts) heard.set(t.p, new Int16Array(ticks * F));
  for (let k = 0; k < ticks; k++) {
    rooms.forEach((ts, r) => ts.forEach((t, i) => (i === r ? undefined : t.speak())));
    mixer.tick();
    for (const [p, buf] of heard) buf.set(p.output, k * F);
  }
  rooms.forEach((ts, r) => {
    for (const [i, me] of ts.entries()) {
      const pcm = heard.get(me.p) as Int16Array;
      const ref = dbm0ToAmplitude(-25) ** 2 / 2;
      const powers = detectTones(pcm, freqs).map((p) => 10 * Math.log10(p / ref + 1e-15));
      powers.forEach((db, k) => {
        const expectAudible = k !== i && k !== r;
        if (expectAudible) assert.ok(Math.abs(db) < 0.5, `room ${r} p${i} hears p${k} (${db.toFixed(2)} dB)`);
        else assert.ok(db < -50, `room ${r} p${i} must not hear p${k} (${db.toFixed(1)} dB)`);
      });
    }
  });
  assert.equal([...mixer.rooms()].length, 10);
});

test('bad frames are refused with a clear error', () => {
  const room = new ConferenceRoom('x');
  const p = room.join('a');
  assert.throws(() => p.pushFrame(new Int16Array(80)), /frame of 80 samples, expected 160/);
  assert.throws(() => room.join('a'), /already joined/);
});
