import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import { getHeaders, type SipMessage, type SipRequest } from './message.js';
import { parseMessage, type ParseResult } from './parser.js';
import { serializeMessage } from './serializer.js';

// the corpus lives beside the repository (../shared), as the issue names it; RFC4475_DIR overrides
const CORPUS = process.env.RFC4475_DIR ?? fileURLToPath(new URL('../../../../shared/conformance/rfc4475', import.meta.url));

function msg(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

const BASE = [
  'REGISTER sip:pbx.local SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: "Ana" <sip:101@pbx.local>',
  'From: "Ana" <sip:101@pbx.local>;tag=1928301774',
  'Call-ID: a84b4c76e66710@10.0.0.5',
  'CSeq: 314159 REGISTER',
  'Contact: <sip:101@10.0.0.5:5062;transport=udp>;expires=3600',
];

function ok(result: ParseResult): SipMessage {
  assert.ok(result.ok, result.ok ? '' : result.error.reason);
  return result.message;
}
function okRequest(result: ParseResult): SipRequest {
  const m = ok(result);
  assert.equal(m.kind, 'request');
  return m as SipRequest;
}
function rejected(result: ParseResult, status: number | null): string {
  assert.equal(result.ok, false, 'should not parse');
  if (result.ok) return '';
  assert.ok(!result.error.reason.startsWith('internal'), result.error.reason);
  if (status === null) {
    assert.equal(result.error.errorResponse, null, result.error.reason);
  } else {
    assert.ok(result.error.errorResponse, `expected ${status}: ${result.error.reason}`);
    assert.ok(result.error.errorResponse.toString().startsWith(`SIP/2.0 ${status} `), result.error.reason);
  }
  return result.error.reason;
}
function replace(name: string, line: string | null, lines = BASE): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.toLowerCase().startsWith(name.toLowerCase() + ':')) {
      if (line !== null) out.push(line);
    } else {
      out.push(l);
    }
  }
  return out;
}

test('a typical REGISTER parses into typed fields', () => {
  const r = okRequest(parseMessage(msg([...BASE, 'Expires: 3600', 'Content-Length: 0'])));
  assert.equal(r.method, 'REGISTER');
  assert.ok(r.uri.kind === 'sip' && r.uri.host === 'pbx.local');
  assert.equal(r.via.length, 1);
  assert.equal(r.via[0]!.port, 5062);
  assert.equal(r.via[0]!.params.get('rport'), null);
  assert.equal(r.from.params.get('tag'), '1928301774');
  assert.equal(r.callId, 'a84b4c76e66710@10.0.0.5');
  assert.deepEqual(r.cseq, { seq: 314159, method: 'REGISTER' });
  assert.equal(r.maxForwards, 70);
  assert.equal(r.expires, 3600);
  assert.ok(r.contact !== '*' && r.contact[0]!.params.get('expires') === '3600');
  assert.deepEqual(r.headers, []);
  assert.equal(r.body.length, 0);
});

test('compact forms are expanded, names are case-insensitive', () => {
  const lines = [
    'INVITE sip:102@pbx.local SIP/2.0',
    'v: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1',
    'f: <sip:101@pbx.local>;tag=1',
    't: <sip:102@pbx.local>',
    'i: abc@h',
    'cSeQ: 1 INVITE',
    'MAX-FORWARDS: 70',
    'm: <sip:101@10.0.0.5>',
    'c: application/sdp',
    'k: replaces, timer',
    's: hello',
    'o: dialog',
    'e: identity',
    'l: 4',
  ];
  const r = okRequest(parseMessage(msg(lines, 'v=0\r')));
  assert.equal(r.callId, 'abc@h');
  assert.equal(r.contentType, 'application/sdp');
  assert.equal(r.body.toString(), 'v=0\r');
  assert.deepEqual(
    r.headers.map((h) => h.name),
    ['Supported', 'Subject', 'Event', 'Content-Encoding'],
  );
});

test('line folding joins continuation lines with one space', () => {
  const lines = replace('Via', 'Via: SIP/2.0/UDP 10.0.0.5:5062\r\n   ;branch=z9hG4bK776asdhds\r\n\t;rport');
  lines.push('Subject: first\r\n  second');
  const r = okRequest(parseMessage(msg(lines)));
  assert.equal(r.via[0]!.params.get('branch'), 'z9hG4bK776asdhds');
  assert.deepEqual(getHeaders(r, 'subject'), ['first second']);
});

test('multi-value headers: one line or repeated, order kept', () => {
  const lines = replace('Via', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2');
  lines.splice(2, 0, 'Via: SIP/2.0/UDP c;branch=z9hG4bK3');
  lines.push('Contact: <sip:x@y>, "Doe, J" <sip:z@w>');
  lines.push('Route: <sip:p1;lr>, <sip:p2;lr>', 'Route: <sip:p3;lr>');
  lines.push('Record-Route: <sip:r1;lr>');
  lines.push('Allow: INVITE, ACK', 'Allow: BYE');
  const r = okRequest(parseMessage(msg(lines)));
  assert.deepEqual(r.via.map((v) => v.host), ['a', 'b', 'c']);
  assert.ok(r.contact !== '*' && r.contact.length === 3 && r.contact[2]!.displayName === 'Doe, J');
  assert.deepEqual(r.route.map((n) => n.uri.kind === 'sip' && n.uri.host), ['p1', 'p2', 'p3']);
  assert.equal(r.recordRoute.length, 1);
  assert.deepEqual(getHeaders(r, 'allow'), ['INVITE, ACK', 'BYE']);
});

test('single-value headers appearing twice → 400', () => {
  for (const line of [
    'From: <sip:x@y>;tag=2',
    'To: <sip:x@y>',
    'Call-ID: other',
    'CSeq: 314159 REGISTER',
    'Max-Forwards: 70',
    'Content-Length: 0',
    'Content-Type: application/sdp',
    'Expires: 60',
    'i: other',
    'l: 0',
  ]) {
    const lines = [...BASE, 'Content-Type: application/sdp', 'Expires: 60', 'Content-Length: 0'];
    lines.push(line);
    const reason = rejected(parseMessage(msg(lines)), 400);
    assert.match(reason, /duplicate/, line);
  }
});

test('scalar limits (RFC 4475 §3.1.2.4) and Content-Length', () => {
  okRequest(parseMessage(msg(replace('CSeq', `CSeq: ${2 ** 31 - 1} REGISTER`))));
  rejected(parseMessage(msg(replace('CSeq', `CSeq: ${2 ** 31} REGISTER`))), 400);
  rejected(parseMessage(msg(replace('CSeq', 'CSeq: -1 REGISTER'))), 400);
  rejected(parseMessage(msg(replace('CSeq', 'CSeq: 1REGISTER'))), 400);
  rejected(parseMessage(msg(replace('CSeq', 'CSeq: 1 REGISTER x'))), 400);
  assert.equal(okRequest(parseMessage(msg(replace('Max-Forwards', 'Max-Forwards: 255')))).maxForwards, 255);
  rejected(parseMessage(msg(replace('Max-Forwards', 'Max-Forwards: 256'))), 400);
  rejected(parseMessage(msg(replace('Max-Forwards', 'Max-Forwards: -1'))), 400);
  assert.equal(okRequest(parseMessage(msg([...BASE, `Expires: ${2 ** 32 - 1}`]))).expires, 2 ** 32 - 1);
  rejected(parseMessage(msg([...BASE, `Expires: ${2 ** 32}`])), 400);
  rejected(parseMessage(msg([...BASE, 'Expires: Thu, 01 Dec 1994 16:00:00 GMT'])), 400);
  rejected(parseMessage(msg([...BASE, 'Content-Length: 5'], 'abcd')), 400);
  rejected(parseMessage(msg([...BASE, 'Content-Length: -4'], 'abcd')), 400);
  rejected(parseMessage(msg([...BASE, 'Content-Length: 99999999999999999999'], 'abcd')), 400);
  const r = okRequest(parseMessage(msg([...BASE, 'Content-Length: 2'], 'abcd')));
  assert.equal(r.body.toString(), 'ab');
  const noLength = okRequest(parseMessage(msg(BASE, 'rest of datagram')));
  assert.equal(noLength.body.toString(), 'rest of datagram');
});

test('request line: exactly single spaces, SIP/2.0 only, URI rules', () => {
  const first = (line: string) => msg([line, ...BASE.slice(1)]);
  okRequest(parseMessage(first('REGISTER sip:pbx.local SIP/2.0')));
  rejected(parseMessage(first('REGISTER  sip:pbx.local SIP/2.0')), 400);
  rejected(parseMessage(first('REGISTER sip:pbx.local  SIP/2.0')), 400);
  rejected(parseMessage(first('REGISTER sip:pbx.local SIP/2.0 ')), 400);
  rejected(parseMessage(first('REGISTER sip:pbx.local;x y SIP/2.0')), 400);
  rejected(parseMessage(first('REGISTER <sip:pbx.local> SIP/2.0')), 400);
  rejected(parseMessage(first('REGISTER sip:pbx.local?Route=%3Csip:x%3E SIP/2.0')), 400);
  rejected(parseMessage(first('REGISTER sip:pbx.local SIP/2.1')), 505);
  rejected(parseMessage(first('REGISTER sip:pbx.local SIP/3.0')), 505);
  rejected(parseMessage(first('REGISTER sip:pbx.local HTTP/1.1')), 400);
  rejected(parseMessage(first('REG\x01ISTER sip:pbx.local SIP/2.0')), 400);
  rejected(parseMessage(first('OPTIONS sip:pbx.local SIP/2.0')), 400); // CSeq says REGISTER
});

test('status line: 100–699 only, broken responses are dropped', () => {
  const resp = (line: string) =>
    msg([line, 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>;tag=2', 'Call-ID: x', 'CSeq: 1 INVITE']);
  const m = ok(parseMessage(resp('SIP/2.0 180 Ringing')));
  assert.ok(m.kind === 'response' && m.status === 180 && m.reason === 'Ringing');
  const bare = ok(parseMessage(resp('SIP/2.0 200')));
  assert.ok(bare.kind === 'response' && bare.reason === '');
  for (const line of ['SIP/2.0 099 Low', 'SIP/2.0 700 High', 'SIP/2.0 2000 OK', 'SIP/2.0 20 OK', 'SIP/2.1 200 OK', 'SIP/2.0 2x0 OK']) {
    rejected(parseMessage(resp(line)), null);
  }
  // any malformed response is dropped, never answered
  rejected(parseMessage(msg(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'CSeq: 1 INVITE'])), null);
});

test('missing mandatory headers: 400 when Via and CSeq are readable, else dropped', () => {
  for (const name of ['From', 'To', 'Call-ID']) {
    assert.match(rejected(parseMessage(msg(replace(name, null))), 400), /missing/);
  }
  rejected(parseMessage(msg(replace('Via', null))), null);
  rejected(parseMessage(msg(replace('CSeq', null))), null);
});

test('errorResponse echoes Via, From, Call-ID, CSeq and adds a To tag', () => {
  const result = parseMessage(msg([...BASE, 'Content-Length: 99']));
  assert.equal(result.ok, false);
  if (result.ok) return;
  const response = parseMessage(result.error.errorResponse!);
  const m = ok(response);
  assert.ok(m.kind === 'response' && m.status === 400 && m.reason === 'Bad Request');
  assert.equal(m.via[0]!.params.get('branch'), 'z9hG4bK776asdhds');
  assert.equal(m.callId, 'a84b4c76e66710@10.0.0.5');
  assert.deepEqual(m.cseq, { seq: 314159, method: 'REGISTER' });
  assert.equal(m.from.params.get('tag'), '1928301774');
  assert.ok((m.to.params.get('tag') ?? '').length > 0);
});

test('ACK is never answered, even when broken', () => {
  const lines = ['ACK sip:102@pbx.local SIP/2.0', ...BASE.slice(1).map((l) => l.replace('REGISTER', 'ACK')), 'Content-Length: 9'];
  rejected(parseMessage(msg(lines)), null);
});

test('maxSize: 513 for a request, drop for a response or an ACK', () => {
  const ack = ['ACK sip:102@pbx.local SIP/2.0', ...BASE.slice(1).map((l) => l.replace('REGISTER', 'ACK'))];
  rejected(parseMessage(msg(ack), { maxSize: 100 }), null);
  rejected(parseMessage(Buffer.from(ack.join('\r\n') + '\r\nX-Pad: ' + 'a'.repeat(300)), { maxSize: 100 }), null);
  const response = ['SIP/2.0 200 OK', ...BASE.slice(1)];
  rejected(parseMessage(msg(response), { maxSize: 100 }), null);
  const big = msg([...BASE, 'X-Pad: ' + 'a'.repeat(70000)]);
  rejected(parseMessage(big), 513);
  rejected(parseMessage(msg(BASE), { maxSize: 100 }), 513);
  okRequest(parseMessage(msg(BASE), { maxSize: 1000 }));
});

test('leading CRLFs are ignored, bare LF line ends are tolerated', () => {
  okRequest(parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), msg(BASE)])));
  const lf = okRequest(parseMessage(Buffer.from(BASE.join('\n') + '\n\nxyz')));
  assert.equal(lf.body.toString(), 'xyz');
  assert.equal(lf.callId, 'a84b4c76e66710@10.0.0.5');
});

test('Contact: * is REGISTER only and alone', () => {
  const star = okRequest(parseMessage(msg([...replace('Contact', 'Contact: *'), 'Expires: 0'])));
  assert.equal(star.contact, '*');
  rejected(parseMessage(msg([...replace('Contact', 'Contact: *'), 'Contact: <sip:a@b>'])), 400);
  const options = ['OPTIONS sip:pbx.local SIP/2.0', ...replace('Contact', 'Contact: *').slice(1).map((l) => l.replace('314159 REGISTER', '1 OPTIONS'))];
  rejected(parseMessage(msg(options)), 400);
});

test('junk and empty inputs never throw', () => {
  for (const junk of ['', '\r\n', 'hello', 'SIP/2.0', 'INVITE', '\x00\x01\x02', 'A B C\r\n\r\n', 'SIP/2.0 200 OK\r\n\r\n', ':\r\n\r\n']) {
    const r = parseMessage(Buffer.from(junk, 'latin1'));
    assert.equal(r.ok, false, JSON.stringify(junk));
    if (!r.ok) assert.ok(!r.error.reason.startsWith('internal'));
  }
});

// ---- fuzz: bounded mutations of the corpus, fixed seed ----------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = Buffer.from('\r\n :;,"<>\\%@=?/\t\x00\xff0123456789', 'latin1');

function mutate(input: Buffer, rnd: () => number): Buffer {
  let data = Buffer.from(input);
  const rounds = 1 + Math.floor(rnd() * rnd() * 4);
  const at = () => Math.floor(rnd() * (data.length + 1));
  for (let k = 0; k < rounds; k++) {
    const op = Math.floor(rnd() * 7);
    if (data.length === 0) break;
    if (op === 0) {
      // byte flip
      const i = Math.min(at(), data.length - 1);
      data[i] = data[i]! ^ (1 << Math.floor(rnd() * 8));
    } else if (op === 1) {
      data = data.subarray(0, at()); // truncation
    } else if (op === 2) {
      // duplicate a range (headers, lines, body)
      const a = at();
      const b = Math.min(data.length, a + Math.floor(rnd() * 200));
      const c = at();
      data = Buffer.concat([data.subarray(0, c), data.subarray(a, b), data.subarray(c)]);
    } else if (op === 3) {
      // delete a range
      const a = at();
      data = Buffer.concat([data.subarray(0, a), data.subarray(Math.min(data.length, a + Math.floor(rnd() * 20)))]);
    } else if (op === 4) {
      // insert syntax characters
      const c = at();
      const n = 1 + Math.floor(rnd() * 3);
      const ins = Buffer.alloc(n);
      for (let i = 0; i < n; i++) ins[i] = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!;
      data = Buffer.concat([data.subarray(0, c), ins, data.subarray(c)]);
    } else if (op === 5) {
      // overwrite with a syntax character
      const i = Math.min(at(), data.length - 1);
      data[i] = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!;
    } else {
      // random bytes
      const i = Math.min(at(), data.length - 1);
      data[i] = Math.floor(rnd() * 256);
    }
  }
  return data;
}

test('fuzz: 20,000 mutated corpus messages never throw and always give ok or an error', () => {
  const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.dat')).sort();
  const corpus = [...files.map((f) => fs.readFileSync(path.join(CORPUS, f))), msg(BASE)];
  const rnd = mulberry32(Number(process.env.FUZZ_SEED ?? 0x5eed4475));
  let okCount = 0;
  let answered = 0;
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20000);
  for (let i = 0; i < iterations; i++) {
    const input = mutate(corpus[Math.floor(rnd() * corpus.length)]!, rnd);
    const result = parseMessage(input, rnd() < 0.1 ? { maxSize: 1 + Math.floor(rnd() * 4000) } : undefined);
    assert.equal(typeof result.ok, 'boolean');
    if (result.ok) {
      okCount++;
      const m = result.message;
      assert.ok(m.via.length > 0 && m.callId.length > 0 && Buffer.isBuffer(m.body));
      // whatever we accept, we can write back out and read again identically
      const again = parseMessage(serializeMessage(m));
      assert.ok(again.ok, `iteration ${i}: re-parse failed: ${again.ok ? '' : again.error.reason}`);
      assert.deepEqual(again.message, m, `iteration ${i}`);
    } else {
      assert.equal(typeof result.error.reason, 'string');
      assert.ok(!result.error.reason.startsWith('internal error'), `iteration ${i}: ${result.error.reason}`);
      const response = result.error.errorResponse;
      if (response !== null) {
        answered++;
        const text = response.toString('utf8');
        assert.match(text, /^SIP\/2\.0 (400|505|513) /);
        assert.ok(text.endsWith('\r\nContent-Length: 0\r\n\r\n'));
        assert.ok(/\r\nVia: /.test(text) && /\r\nCSeq: /.test(text));
      }
    }
  }
  // the mutations must exercise both sides
  if (process.env.FUZZ_VERBOSE) console.log(`fuzz: ${okCount} parsed, ${answered} answered`);
  assert.ok(okCount > 1000, `ok ${okCount}`);
  assert.ok(answered > 1000, `answered ${answered}`);
});
