/**
 * SIP parser throughput on one core: `node dist/bench/sip-parser.js [seconds-per-case]`.
 * Parses (and, separately, serializes) a typical REGISTER with digest Authorization and an INVITE
 * with SDP in a tight bounded loop and prints messages per second.
 */
import { parseMessage } from '../services/sip/parser.js';
import { serializeMessage } from '../services/sip/serializer.js';
import type { SipMessage } from '../services/sip/message.js';

const REGISTER = Buffer.from(
  [
    'REGISTER sip:192.168.1.2 SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.50:5062;branch=z9hG4bK-524287-1---7f6e2a1c9d3b4e5f;rport',
    'Max-Forwards: 70',
    'Contact: <sip:101@192.168.1.50:5062;rinstance=8a1b2c3d4e5f6a7b;transport=UDP>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;expires=3600',
    'To: "Ana" <sip:101@192.168.1.2>',
    'From: "Ana" <sip:101@192.168.1.2>;tag=4f1e2d3c',
    'Call-ID: ZTRjNmM5YTRmODkxZTYxMmE4NTA3ODVhNjIwOWI3YjA',
    'CSeq: 2 REGISTER',
    'Expires: 3600',
    'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
    'Supported: replaces, outbound, path',
    'User-Agent: Desk Phone 1.0',
    'Authorization: Digest username="101",realm="pbx",nonce="5f3e2a1b9c8d7e6f5a4b3c2d1e0f9a8b",uri="sip:192.168.1.2",response="0a4f113b4d6e9f8a7b6c5d4e3f2a1b0c",cnonce="a1b2c3d4",nc=00000001,qop=auth,algorithm=MD5',
    'Allow-Events: presence, kpml, talk',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
);

const SDP = [
  'v=0',
  'o=- 3849203 3849203 IN IP4 192.168.1.50',
  's=-',
  'c=IN IP4 192.168.1.50',
  't=0 0',
  'm=audio 40000 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

const INVITE = Buffer.from(
  [
    'INVITE sip:102@192.168.1.2 SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.50:5062;branch=z9hG4bK-524287-1---1a2b3c4d5e6f7a8b;rport',
    'Max-Forwards: 70',
    'Contact: <sip:101@192.168.1.50:5062;transport=UDP>',
    'To: <sip:102@192.168.1.2>',
    'From: "Ana" <sip:101@192.168.1.2>;tag=9a8b7c6d',
    'Call-ID: YjE2ZDQ5MjYxNjM0ZTk4ZmQ3OTRkYmNhYjc0MjM1OWE',
    'CSeq: 1 INVITE',
    'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
    'Content-Type: application/sdp',
    'Supported: replaces, timer',
    'User-Agent: Desk Phone 1.0',
    'Session-Expires: 1800',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
);

const seconds = Number(process.argv[2] ?? 1.5);
const MAX_ITERATIONS = 20_000_000;

function run(name: string, fn: () => void): number {
  for (let i = 0; i < 20000; i++) fn(); // warm up the JIT
  // CPU time of this process, not wall time: other processes on the box must not count against us
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const budget = BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let elapsed = 0n;
  while (n < MAX_ITERATIONS) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
    if (elapsed >= budget) break;
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const perCpuSecond = n / cpuSeconds;
  const perWallSecond = n / (Number(elapsed) / 1e9);
  console.log(
    `${name.padEnd(34)} ${Math.round(perCpuSecond).toLocaleString('en-US').padStart(10)} msgs/s per CPU-second  ` +
      `${(1e6 / perCpuSecond).toFixed(2)} µs CPU/msg  (wall: ${Math.round(perWallSecond).toLocaleString('en-US')} msgs/s)`,
  );
  return perCpuSecond;
}

function parsed(data: Buffer): SipMessage {
  const r = parseMessage(data);
  if (!r.ok) throw new Error('bench message does not parse: ' + r.error.reason);
  return r.message;
}

let sink = 0;
const register = parsed(REGISTER);
const invite = parsed(INVITE);
console.log(`SIP parser benchmark, node ${process.version}, ${seconds}s per case (REGISTER ${REGISTER.length} B, INVITE ${INVITE.length} B)`);
run('parse REGISTER with Authorization', () => {
  const r = parseMessage(REGISTER);
  if (r.ok) sink += r.message.cseq.seq;
});
run('parse INVITE with SDP', () => {
  const r = parseMessage(INVITE);
  if (r.ok) sink += r.message.body.length;
});
run('serialize REGISTER', () => {
  sink += serializeMessage(register).length;
});
run('serialize INVITE', () => {
  sink += serializeMessage(invite).length;
});
if (sink === 42) console.log(''); // keep the results alive
