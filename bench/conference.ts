// Conference cost, live: 10 rooms × 10 participants (the product's promise) through the real path,
// in a process of its own: the media engine's sockets and relay thread, the RTP handed to JS,
// the conference service (playout FIFO, in-band DTMF detector, mixer, prompt player, G.711) on the
// shared 20 ms media clock, and the mixed audio sent back to every phone. The phones (another
// process: this one) send a tone each at 50 packets/s and count what comes back. Reported: the
// conference process's CPU (utime+stime from /proc, CLK_TCK from getconf) per 20 ms tick and as a
// share of one core; what each phone received; how late the media clock ran.
// For reference, the mixer alone in a tight loop (decode + mix + encode, no I/O) is shown too.
//
//   node dist/bench/conference.js [rooms] [participants] [seconds]
// With PERF_DOC=<file> (set by `make bench`) the table also replaces the '## Conference' section of
// that file (docs/performance.md).
import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FRAME_SAMPLES, muLawDecode, muLawEncode } from '../services/media/codec/g711.js';
import { whiteNoise, sines, mix } from '../services/media/dsp/synth.js';
import { ConferenceMixer } from '../services/media/mixer/room.js';
import { silentLogger } from '../services/log.js';
import { createMediaEngine } from '../services/media/engine.js';
import { ConferenceService } from '../services/pbx/features/conference.js';
import { createMediaClock } from '../services/pbx/features/media-clock.js';

const ROLE_SERVER = '--server';
const TICK_MS = 20;

function sdp(port: number, id: number): string {
  return `v=0\r\no=- ${id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n`;
}

function portOf(s: string): number {
  const m = /^m=audio (\d+)/m.exec(s);
  if (!m) throw new Error('no m=audio');
  return Number(m[1]);
}

// ---------- the conference process ----------

async function server(participants: number): Promise<void> {
  process.title = 'pbx-conference-bench';
  const base = 20000 + 2 * Math.floor(Math.random() * 10000);
  const engine = await createMediaEngine({ bind: '127.0.0.1', portMin: base, portMax: base + 4 * 200 + 64, logger: silentLogger() });
  const clock = createMediaClock();
  const service = new ConferenceService({ engine, clock, logger: silentLogger(), languageOf: () => 'en' });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = JSON.parse(line) as { op: string; phones?: number[] };
    if (cmd.op === 'join') {
      const relay: number[] = [];
      (cmd.phones ?? []).forEach((port, i) => {
        const room = String(8000 + Math.floor(i / participants));
        const app = service.create(room, `conf-bench-${i}`, { extension: String(5000 + i), displayName: `p${i}` });
        relay.push(portOf(app.answer(Buffer.from(sdp(port, i))).toString('utf8')));
        app.start((reason) => process.stderr.write(`conference hung up participant ${i}: ${reason}\n`));
      });
      process.stdout.write(JSON.stringify({ relay }) + '\n');
    } else if (cmd.op === 'clock') {
      process.stdout.write(JSON.stringify(clock.stats()) + '\n');
    } else if (cmd.op === 'exit') {
      service.close();
      clock.close();
      engine.close();
      process.exit(0);
    }
  });
}

// ---------- the phones and the measurement ----------

function clkTck(): number {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (v > 0) return v;
  } catch {
    /* below */
  }
  throw new Error('getconf CLK_TCK failed');
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Busy jiffies of the whole machine (/proc/stat), to tell how much else ran meanwhile. */
function machineBusy(): number {
  const cpu = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
}

interface Live {
  cpuUsPerTick: number;
  coreShare: number;
  sentPerSecond: number;
  receivedPerPhonePerSecond: number;
  minPhonePerSecond: number;
  clockMaxLateMs: number;
  othersCores: number;
}

async function live(rooms: number, participants: number, seconds: number): Promise<Live> {
  const n = rooms * participants;
  const tck = clkTck();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ROLE_SERVER, String(participants)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = createInterface({ input: child.stdout });
  const reply = (): Promise<string> => new Promise((resolve) => out.once('line', resolve));
  const phones: Socket[] = [];
  const received = new Array<number>(n).fill(0);
  try {
    for (let i = 0; i < n; i++) {
      const s = createSocket('udp4');
      s.bind(0, '127.0.0.1');
      await once(s, 'listening');
      s.on('message', () => {
        received[i] = (received[i] ?? 0) + 1;
      });
      phones.push(s);
    }
    const joined = reply();
    child.stdin.write(JSON.stringify({ op: 'join', phones: phones.map((p) => p.address().port) }) + '\n');
    const relay = (JSON.parse(await joined) as { relay: number[] }).relay;
    // one second of each talker's tone as PCMU frames, sent as RTP on a 20 ms timer
    const frames = phones.map((_, i) => {
      const law = muLawEncode(mix(8000, sines([{ freq: 300 + 37 * i, dbm0: -22 }], 8000), whiteNoise(8000, -40, i + 1)));
      const f: Buffer[] = [];
      for (let k = 0; k + FRAME_SAMPLES <= law.length; k += FRAME_SAMPLES) f.push(Buffer.from(law.subarray(k, k + FRAME_SAMPLES)));
      return f;
    });
    let seq = 0;
    let sent = 0;
    const sendAll = (): void => {
      for (let i = 0; i < n; i++) {
        const pkt = Buffer.alloc(12 + FRAME_SAMPLES);
        pkt[0] = 0x80;
        pkt[1] = 0;
        pkt.writeUInt16BE(seq & 0xffff, 2);
        pkt.writeUInt32BE((seq * FRAME_SAMPLES) >>> 0, 4);
        pkt.writeUInt32BE(0x20000000 + i, 8);
        (frames[i]?.[seq % 50] as Buffer).copy(pkt, 12);
        (phones[i] as Socket).send(pkt, relay[i] as number, '127.0.0.1');
        sent++;
      }
      seq++;
    };
    const t0 = performance.now();
    const timer = setInterval(() => {
      // catch up on a late timer so the phones keep 50 packets/s each
      const due = Math.floor((performance.now() - t0) / TICK_MS) + 1;
      while (seq < due) sendAll();
    }, TICK_MS);
    await new Promise((r) => setTimeout(r, 2000)); // warm-up: prompts played, FIFOs primed
    const c0 = cpuTicks(child.pid ?? 0);
    const m0 = machineBusy();
    const me0 = process.cpuUsage();
    const r0 = received.slice();
    const s0 = sent;
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = cpuTicks(child.pid ?? 0);
    const m1 = machineBusy();
    const me1 = process.cpuUsage(me0);
    const wall = (performance.now() - w0) / 1000;
    const r1 = received.slice();
    const s1 = sent;
    clearInterval(timer);
    const clockStats = reply();
    child.stdin.write('{"op":"clock"}\n');
    const clk = JSON.parse(await clockStats) as { maxLateMs: number };
    const cpuUs = ((c1 - c0) / tck) * 1e6;
    const ticks = (wall * 1000) / TICK_MS;
    const perPhone = r1.map((v, i) => (v - (r0[i] ?? 0)) / wall);
    const othersJiffies = m1 - m0 - (c1 - c0) - ((me1.user + me1.system) / 1e6) * tck;
    return {
      cpuUsPerTick: cpuUs / ticks,
      coreShare: (100 * cpuUs) / (wall * 1e6),
      sentPerSecond: (s1 - s0) / wall,
      receivedPerPhonePerSecond: perPhone.reduce((a, b) => a + b, 0) / n,
      minPhonePerSecond: Math.min(...perPhone),
      clockMaxLateMs: clk.maxLateMs,
      othersCores: Math.max(0, othersJiffies / tck / wall),
    };
  } finally {
    child.stdin.write('{"op":"exit"}\n');
    await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const p of phones) p.close();
  }
}

/** The mixer alone, decode + mix + encode in a tight loop (no sockets, no timers): the floor. */
function tightLoop(rooms: number, participants: number, ticks: number): number {
  const mixer = new ConferenceMixer();
  const legs: { p: ReturnType<ReturnType<ConferenceMixer['room']>['join']>; packets: Uint8Array[]; decoded: Int16Array; encoded: Uint8Array }[] = [];
  for (let r = 0; r < rooms; r++) {
    const room = mixer.room(`conf-${r}`);
    for (let k = 0; k < participants; k++) {
      const law = muLawEncode(mix(8000, sines([{ freq: 300 + 97 * k, dbm0: -22 }], 8000), whiteNoise(8000, -35, r * 100 + k + 1)));
      const packets: Uint8Array[] = [];
      for (let i = 0; i + FRAME_SAMPLES <= law.length; i += FRAME_SAMPLES) packets.push(law.subarray(i, i + FRAME_SAMPLES));
      legs.push({ p: room.join(`p${k}`, { announce: false }), packets, decoded: new Int16Array(FRAME_SAMPLES), encoded: new Uint8Array(FRAME_SAMPLES) });
    }
  }
  const run = (count: number): void => {
    for (let t = 0; t < count; t++) {
      for (const leg of legs) leg.p.pushFrame(muLawDecode(leg.packets[t % leg.packets.length] as Uint8Array, leg.decoded));
      mixer.tick();
      for (const leg of legs) muLawEncode(leg.p.output, leg.encoded);
    }
  };
  run(50);
  const u0 = process.cpuUsage();
  run(ticks);
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / ticks;
}

async function main(): Promise<void> {
  const rooms = Number(process.argv[2] ?? 10);
  const participants = Number(process.argv[3] ?? 10);
  const seconds = Number(process.argv[4] ?? 10);
  const load0 = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const l = await live(rooms, participants, seconds);
  const floor = tightLoop(rooms, participants, 500);
  const load1 = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const n = rooms * participants;
  console.log(
    `live ${rooms}×${participants}: ${l.cpuUsPerTick.toFixed(0)} µs CPU per 20 ms tick = ${l.coreShare.toFixed(1)}% of one core; ` +
      `phones sent ${l.sentPerSecond.toFixed(0)}/s, each received ${l.receivedPerPhonePerSecond.toFixed(1)}/s (min ${l.minPhonePerSecond.toFixed(1)}); ` +
      `clock max late ${l.clockMaxLateMs.toFixed(1)} ms; others on the box ${l.othersCores.toFixed(2)} cores; tight loop ${floor.toFixed(0)} µs/tick`,
  );
  const doc = process.env.PERF_DOC;
  if (!doc) return;
  const section = [
    '## Conference',
    '',
    `Measured by \`node dist/bench/conference.js\` (part of \`make bench\`) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}); load average ${load0} at start, ${load1} at end; other processes used ${l.othersCores.toFixed(2)} cores meanwhile.`,
    `Live: ${rooms} rooms of ${participants} participants (${n} phones, a tone each, 50 RTP packets/s) through the conference process: the media engine's sockets and relay thread,`,
    'the RTP handed to JS, the conference service on the 20 ms media clock (playout FIFO, in-band DTMF detector, mix-minus, prompt player, G.711) and the mixed audio sent to each phone.',
    `CPU is utime+stime of that process (/proc, CLK_TCK from \`getconf\`) over ${seconds} s after 2 s of warm-up; the phones are another process.`,
    '',
    '| what | rooms × participants | µs CPU per 20 ms tick | share of one core | packets/s each phone received (min) | media clock max late (whole run, joins included) |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    `| live conference process | ${rooms}×${participants} | ${l.cpuUsPerTick.toFixed(0)} | ${l.coreShare.toFixed(1)}% | ${l.receivedPerPhonePerSecond.toFixed(1)} (${l.minPhonePerSecond.toFixed(1)}) | ${l.clockMaxLateMs.toFixed(1)} ms |`,
    `| mixer alone, tight loop (decode + mix + encode, no I/O) | ${rooms}×${participants} | ${floor.toFixed(0)} | ${((floor / (TICK_MS * 1000)) * 100).toFixed(2)}% | – | – |`,
    '',
    'The difference between the two rows is the I/O and JS path around the mixer (per packet: the native queue to JS, decode into the FIFO, the detector; per tick and phone: the player, encode, the send through the relay).',
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

if (process.argv[2] === ROLE_SERVER) {
  void server(Number(process.argv[3] ?? 10));
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
