import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { frameStream } from './framing.js';
import { parseMessage } from './parser.js';

const HEAD = 'OPTIONS sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@pbx>;tag=1\r\nTo: <sip:pbx>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n';

function message(body: string, lengthHeader = `Content-Length: ${Buffer.byteLength(body)}\r\n`): Buffer {
  return Buffer.from(HEAD + lengthHeader + '\r\n' + body);
}

test('one whole message, then the next, from a concatenated stream', () => {
  const a = message('hello');
  const b = message('', 'l: 0\r\n');
  const stream = Buffer.concat([a, b, Buffer.from('\r\n\r\n')]);
  const first = frameStream(stream, 65535);
  assert.deepEqual(first, { kind: 'message', length: a.length });
  const parsed = parseMessage(stream.subarray(0, a.length));
  assert.ok(parsed.ok && parsed.message.body.toString() === 'hello');
  const rest = stream.subarray(a.length);
  assert.deepEqual(frameStream(rest, 65535), { kind: 'message', length: b.length });
  assert.deepEqual(frameStream(rest.subarray(b.length), 65535), { kind: 'keepalive', length: 4 });
});

test('every prefix of a message is incomplete, never an error', () => {
  const a = message('v=0\r\nbody bytes');
  for (let n = 1; n < a.length; n++) {
    assert.deepEqual(frameStream(a.subarray(0, n), 65535), { kind: 'incomplete' }, `prefix ${n}`);
  }
  assert.deepEqual(frameStream(a, 65535), { kind: 'message', length: a.length });
});

test('RFC 5626 keepalives: CRLFCRLF ping, CRLF pong', () => {
  assert.deepEqual(frameStream(Buffer.from('\r\n\r\n'), 100), { kind: 'keepalive', length: 4 });
  assert.deepEqual(frameStream(Buffer.from('\r\n'), 100), { kind: 'keepalive', length: 2 });
  assert.deepEqual(frameStream(Buffer.from('\r\nOPTIONS'), 100), { kind: 'keepalive', length: 2 });
  assert.deepEqual(frameStream(Buffer.from('\r\n\r'), 100), { kind: 'incomplete' });
  assert.deepEqual(frameStream(Buffer.from('\r'), 100), { kind: 'incomplete' });
  assert.deepEqual(frameStream(Buffer.alloc(0), 100), { kind: 'incomplete' });
  assert.equal(frameStream(Buffer.from('\rX'), 100).kind, 'error');
});

test('missing Content-Length means an empty body on a stream', () => {
  const a = Buffer.from(HEAD + '\r\nNEXT');
  assert.deepEqual(frameStream(a, 65535), { kind: 'message', length: a.length - 4 });
});

test('errors: bad, conflicting or oversized lengths and endless headers', () => {
  assert.equal(frameStream(message('x', 'Content-Length: -1\r\n'), 65535).kind, 'error');
  assert.equal(frameStream(message('x', 'Content-Length: abc\r\n'), 65535).kind, 'error');
  assert.equal(frameStream(message('x', 'Content-Length: 1\r\nl: 2\r\n'), 65535).kind, 'error');
  assert.deepEqual(frameStream(message('x', 'Content-Length: 1\r\nContent-Length: 1\r\n'), 65535).kind, 'message');
  assert.equal(frameStream(message('', 'Content-Length: 100000\r\n'), 65535).kind, 'error');
  assert.equal(frameStream(Buffer.from(HEAD + 'X: ' + 'a'.repeat(2000)), 1000).kind, 'error');
  assert.equal(frameStream(Buffer.from(HEAD + 'X: ' + 'a'.repeat(200)), 1000).kind, 'incomplete');
  // a folded Content-Length value
  const folded = Buffer.from(HEAD + 'Content-Length:\r\n 3\r\n\r\nabc');
  assert.deepEqual(frameStream(folded, 65535), { kind: 'message', length: folded.length });
});

test('a byte-by-byte stream of several messages frames exactly (bounded)', () => {
  const messages = [message('one'), message(''), message('three!!')];
  const stream = Buffer.concat([Buffer.from('\r\n\r\n'), messages[0]!, messages[1]!, Buffer.from('\r\n'), messages[2]!]);
  let buffer = Buffer.alloc(0);
  const framed: string[] = [];
  for (let i = 0; i < stream.length; i++) {
    buffer = Buffer.concat([buffer, stream.subarray(i, i + 1)]);
    for (let guard = 0; guard < 10; guard++) {
      const r = frameStream(buffer, 65535);
      if (r.kind === 'incomplete') break;
      assert.notEqual(r.kind, 'error');
      if (r.kind === 'error') return;
      if (r.kind === 'message') {
        const p = parseMessage(buffer.subarray(0, r.length));
        assert.ok(p.ok);
        framed.push(p.message.body.toString());
      }
      buffer = buffer.subarray(r.length);
    }
  }
  assert.deepEqual(framed, ['one', '', 'three!!']);
  assert.equal(buffer.length, 0);
});

test('fuzz: random byte soups and corpus splices never throw, lengths stay in bounds', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const dir = process.env.RFC4475_DIR ?? fileURLToPath(new URL('../../../../shared/conformance/rfc4475', import.meta.url));
  const corpus = fs.readdirSync(dir).filter((f) => f.endsWith('.dat')).map((f) => fs.readFileSync(path.join(dir, f)));
  let seed = 0x4475;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const soup = Buffer.from('\r\n:lL Content-Length0123456789-\t', 'latin1');
  for (let i = 0; i < 5000; i++) {
    const base = corpus[Math.floor(rnd() * corpus.length)]!;
    const parts: Buffer[] = [base.subarray(0, Math.floor(rnd() * (base.length + 1)))];
    const n = Math.floor(rnd() * 40);
    const extra = Buffer.alloc(n);
    for (let k = 0; k < n; k++) extra[k] = soup[Math.floor(rnd() * soup.length)]!;
    parts.push(extra, base.subarray(Math.floor(rnd() * base.length)));
    const buffer = Buffer.concat(parts);
    const maxSize = rnd() < 0.2 ? 1 + Math.floor(rnd() * 500) : 65535;
    const r = frameStream(buffer, maxSize);
    if (r.kind === 'message' || r.kind === 'keepalive') {
      assert.ok(r.length > 0 && r.length <= buffer.length && r.length <= Math.max(maxSize, 4), `iteration ${i}`);
    } else {
      assert.ok(r.kind === 'incomplete' || (r.kind === 'error' && r.reason.length > 0));
    }
  }
});
