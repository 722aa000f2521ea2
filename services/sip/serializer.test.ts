import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import { type SipRequest } from './message.js';
import { parseMessage } from './parser.js';
import { serializeMessage } from './serializer.js';
import { parseUri } from './uri.js';

// the corpus lives beside the repository (../shared), as the issue names it; RFC4475_DIR overrides
const CORPUS = process.env.RFC4475_DIR ?? fileURLToPath(new URL('../../../../shared/conformance/rfc4475', import.meta.url));

test('round trip: parse → serialize → parse gives the same typed values (every corpus message that parses)', () => {
  let count = 0;
  for (const file of fs.readdirSync(CORPUS).filter((f) => f.endsWith('.dat')).sort()) {
    const first = parseMessage(fs.readFileSync(path.join(CORPUS, file)));
    if (!first.ok) continue;
    const bytes = serializeMessage(first.message);
    const second = parseMessage(bytes);
    assert.ok(second.ok, `${file}: ${second.ok ? '' : second.error.reason}`);
    assert.deepEqual(second.message, first.message, file);
    // and serializing is stable
    assert.deepEqual(serializeMessage(second.message), bytes, file);
    count++;
  }
  assert.equal(count, 28);
});

test('Content-Length is computed from the body, typed fields come first, raw headers keep order', () => {
  const request: SipRequest = {
    kind: 'request',
    method: 'INVITE',
    uri: parseUri('sip:102@pbx.local')!,
    via: [{ transport: 'UDP', host: '10.0.0.1', port: 5060, params: new Map([['branch', 'z9hG4bKabc'], ['rport', null]]) }],
    from: { displayName: 'Ana', uri: parseUri('sip:101@pbx.local')!, params: new Map([['tag', 't1']]) },
    to: { displayName: null, uri: parseUri('sip:102@pbx.local')!, params: new Map() },
    callId: 'c1@pbx',
    cseq: { seq: 1, method: 'INVITE' },
    maxForwards: 70,
    contact: [{ displayName: null, uri: parseUri('sip:101@10.0.0.1:5060')!, params: new Map() }],
    route: [],
    recordRoute: [],
    expires: null,
    contentType: 'application/sdp',
    headers: [
      { name: 'Allow', value: 'INVITE, ACK, BYE' },
      { name: 'X-Evil', value: 'a\r\nInjected: yes' },
    ],
    body: Buffer.from('v=0\r\n'),
  };
  const text = serializeMessage(request).toString();
  assert.equal(
    text,
    'INVITE sip:102@pbx.local SIP/2.0\r\n' +
      'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n' +
      'From: "Ana" <sip:101@pbx.local>;tag=t1\r\n' +
      'To: <sip:102@pbx.local>\r\n' +
      'Call-ID: c1@pbx\r\n' +
      'CSeq: 1 INVITE\r\n' +
      'Max-Forwards: 70\r\n' +
      'Contact: <sip:101@10.0.0.1:5060>\r\n' +
      'Content-Type: application/sdp\r\n' +
      'Allow: INVITE, ACK, BYE\r\n' +
      'X-Evil: a Injected: yes\r\n' +
      'Content-Length: 5\r\n\r\nv=0\r\n',
  );
  const again = parseMessage(Buffer.from(text));
  assert.ok(again.ok && again.message.kind === 'request');
  assert.equal(again.message.headers.length, 2);
});

test('Contact * and multi-byte display names serialize as UTF-8', () => {
  const parsed = parseMessage(
    Buffer.from(
      'REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: "José Müller" <sip:101@pbx>;tag=1\r\nTo: <sip:101@pbx>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n\r\n',
    ),
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.message.from.displayName, 'José Müller');
  const out = serializeMessage(parsed.message).toString('utf8');
  assert.match(out, /\r\nContact: \*\r\n/);
  assert.match(out, /\r\nFrom: "José Müller" <sip:101@pbx>;tag=1\r\n/);
  assert.match(out, /\r\nExpires: 0\r\n/);
});
