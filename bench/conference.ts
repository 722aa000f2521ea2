// Conference mixing cost: 10 rooms × 10 participants (the product's promise) for 10 simulated seconds.
// Each 20 ms tick does what the media loop does for a conference: G.711 decode of every participant's
// packet, the mix-minus of every room, G.711 encode of every participant's output. Reported as CPU
// (user+system) per tick and as a share of one core (a tick is due every 20 ms).
//
//   node dist/bench/conference.js [rooms] [participants] [seconds]
// With PERF_DOC=<file> (set by `make bench`) the table also replaces the '## Conference' section of
// that file (docs/performance.md).
import fs from 'node:fs';
import os from 'node:os';
import { FRAME_SAMPLES, muLawDecode, muLawEncode } from '../services/media/codec/g711.js';
import { whiteNoise, sines, mix } from '../services/media/dsp/synth.js';
import { ConferenceMixer, type Participant } from '../services/media/mixer/room.js';

const ROOMS = Number(process.argv[2] ?? 10);
const PARTICIPANTS = Number(process.argv[3] ?? 10);
const SECONDS = Number(process.argv[4] ?? 10);
const TICK_MS = 20;
const TICKS = Math.round((SECONDS * 1000) / TICK_MS);
const WARMUP = 50;

interface Leg {
  readonly p: Participant;
  /** One second of this talker's μ-law "RTP payloads", replayed in a loop. */
  readonly packets: Uint8Array[];
  readonly decoded: Int16Array;
  readonly encoded: Uint8Array;
}

function build(): { mixer: ConferenceMixer; legs: Leg[] } {
  const mixer = new ConferenceMixer();
  const legs: Leg[] = [];
  for (let r = 0; r < ROOMS; r++) {
    const room = mixer.room(`conf-${r}`);
    for (let k = 0; k < PARTICIPANTS; k++) {
      const talk = mix(8000, sines([{ freq: 300 + 97 * k, dbm0: -22 }, { freq: 1100 + 61 * r, dbm0: -28 }], 8000), whiteNoise(8000, -35, r * 100 + k + 1));
      const law = muLawEncode(talk);
      const packets: Uint8Array[] = [];
      for (let i = 0; i + FRAME_SAMPLES <= law.length; i += FRAME_SAMPLES) packets.push(law.subarray(i, i + FRAME_SAMPLES));
      legs.push({
        p: room.join(`p${k}`, { announce: k === PARTICIPANTS - 1 }),
        packets,
        decoded: new Int16Array(FRAME_SAMPLES),
        encoded: new Uint8Array(FRAME_SAMPLES),
      });
    }
  }
  return { mixer, legs };
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function runTicks(mixer: ConferenceMixer, legs: Leg[], ticks: number, withCodec: boolean, start: number): { cpu: number; perTick: Float64Array } {
  const perTick = new Float64Array(ticks);
  const c0 = cpuMicros();
  for (let t = 0; t < ticks; t++) {
    const w0 = process.hrtime.bigint();
    for (let i = 0; i < legs.length; i++) {
      const leg = legs[i] as Leg;
      const pkt = leg.packets[(start + t) % leg.packets.length] as Uint8Array;
      if (withCodec) leg.p.pushFrame(muLawDecode(pkt, leg.decoded));
      else leg.p.pushFrame(leg.decoded);
    }
    mixer.tick();
    if (withCodec) for (let i = 0; i < legs.length; i++) muLawEncode((legs[i] as Leg).p.output, (legs[i] as Leg).encoded);
    perTick[t] = Number(process.hrtime.bigint() - w0) / 1000;
  }
  return { cpu: cpuMicros() - c0, perTick };
}

function pct(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const { mixer, legs } = build();
runTicks(mixer, legs, WARMUP, true, 0);
const results: Record<string, unknown> = { rooms: ROOMS, participants: PARTICIPANTS, simulatedSeconds: SECONDS, ticks: TICKS };
const rows: string[] = [];
for (const [name, codec] of [['mix only', false], ['decode + mix + encode', true]] as const) {
  const { cpu, perTick } = runTicks(mixer, legs, TICKS, codec, WARMUP);
  const sorted = perTick.slice().sort();
  const usPerTick = cpu / TICKS;
  const share = (usPerTick / (TICK_MS * 1000)) * 100;
  console.log(
    `${name.padEnd(22)} ${ROOMS}×${PARTICIPANTS}: ${usPerTick.toFixed(1)} µs CPU per 20 ms tick = ${share.toFixed(2)}% of one core` +
      ` (wall per tick p50 ${pct(sorted, 0.5).toFixed(1)} µs, p99 ${pct(sorted, 0.99).toFixed(1)} µs, max ${pct(sorted, 1).toFixed(1)} µs)`,
  );
  rows.push(`| ${name} | ${ROOMS}×${PARTICIPANTS} | ${usPerTick.toFixed(1)} | ${share.toFixed(2)}% | ${pct(sorted, 0.99).toFixed(1)} |`);
  results[codec ? 'full' : 'mixOnly'] = {
    cpuMicrosPerTick: Number(usPerTick.toFixed(2)),
    coreSharePercent: Number(share.toFixed(3)),
    wallP50Micros: Number(pct(sorted, 0.5).toFixed(2)),
    wallP99Micros: Number(pct(sorted, 0.99).toFixed(2)),
  };
}
console.log(JSON.stringify({ bench: 'conference', ...results }));

const doc = process.env.PERF_DOC;
if (doc) {
  const section = [
    '## Conference',
    '',
    `Measured by \`node dist/bench/conference.js\` (part of \`make bench\`) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}).`,
    `${ROOMS} rooms of ${PARTICIPANTS} participants, ${SECONDS} simulated seconds (${TICKS} ticks of 20 ms): each tick decodes every participant's G.711 frame,`,
    'mixes every room (mix-minus: each hears the others), and encodes every participant\'s output. CPU is user+system of the process.',
    '',
    '| work per 20 ms tick | rooms × participants | µs CPU per tick | share of one core | wall p99 µs per tick |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
  let text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '# Performance\n';
  const start = text.search(/^## Conference\s*$/m);
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.slice(start + 1).search(/^## /m);
    text = `${text.slice(0, start)}${section}${next < 0 ? '' : `\n${text.slice(start + 1 + next)}`}`;
  }
  fs.writeFileSync(doc, text);
}
