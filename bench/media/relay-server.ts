/**
 * Our media engine as a separate process for the benchmark, so its CPU is measured alone
 * (/proc/<pid>/stat). Driven by JSON lines on stdin:
 *   {"op":"setup","portMin":..,"portMax":..,"phones":[[portA,portB],...]} -> {"relay":[[portForA,portForB],...]}
 *   {"op":"teardown"} -> {"ok":true,"sessions":0} (the engine's open sessions after closing the step's calls)
 */
import { createInterface } from 'node:readline';
import { silentLogger } from '../../services/log.js';
import { createMediaEngine, type MediaEngine, type MediaSession } from '../../services/media/engine.js';

process.title = 'pbx-media-bench';

function phoneSdp(port: number, id: number): string {
  return `v=0\r\no=- ${id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;
}

function portOf(sdp: string): number {
  const m = /^m=audio (\d+)/m.exec(sdp);
  if (!m) throw new Error('no m=audio');
  return Number(m[1]);
}

let engine: MediaEngine | undefined;
let sessions: MediaSession[] = [];

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    const cmd = JSON.parse(line) as { op: string; portMin?: number; portMax?: number; phones?: [number, number][]; coalesceUs?: number; relayThreads?: number; realtimePriority?: number; relayNice?: number };
    if (cmd.op === 'setup') {
      engine ??= await createMediaEngine({ bind: '127.0.0.1', portMin: cmd.portMin ?? 40000, portMax: cmd.portMax ?? 50000, logger: silentLogger(), ...(cmd.coalesceUs !== undefined ? { coalesceUs: cmd.coalesceUs } : {}), ...(cmd.relayThreads !== undefined ? { relayThreads: cmd.relayThreads } : {}), ...(cmd.realtimePriority !== undefined ? { realtimePriority: cmd.realtimePriority } : {}), ...(cmd.relayNice !== undefined ? { relayNice: cmd.relayNice } : {}) });
      const relay: [number, number][] = [];
      (cmd.phones ?? []).forEach(([pa, pb], i) => {
        const s = (engine as MediaEngine).createSession({ callId: `bench-${Date.now()}-${i}` });
        const a = s.createLeg('a');
        const b = s.createLeg('b');
        const offer = b.anchorOffer(phoneSdp(pa, 2 * i), a);
        const answer = a.anchorAnswer(phoneSdp(pb, 2 * i + 1), b);
        s.bridge(a, b);
        sessions.push(s);
        relay.push([portOf(answer), portOf(offer)]);
      });
      process.stdout.write(JSON.stringify({ relay }) + '\n');
    } else if (cmd.op === 'teardown') {
      for (const s of sessions) s.close();
      sessions = [];
      process.stdout.write(JSON.stringify({ ok: true, sessions: engine?.sessions.size ?? 0 }) + '\n');
    } else if (cmd.op === 'exit') {
      engine?.close();
      process.exit(0);
    }
  })();
});
rl.on('close', () => {
  engine?.close();
  process.exit(0);
});
