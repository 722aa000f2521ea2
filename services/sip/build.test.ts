import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BRANCH_MAGIC_COOKIE, getHeader, tagOf } from './message.js';
import { createResponse, newBranch, newCallId, newTag, reasonPhrase } from './build.js';
import { parseMessage } from './parser.js';
import { serializeMessage } from './serializer.js';
import { isToken } from './uri.js';

function request(extra = '', method = 'INVITE') {
  const text =
    `${method} sip:102@pbx.local SIP/2.0\r\n` +
    'Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK1;rport=5062;received=10.0.0.5\r\n' +
    'Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2\r\n' +
    'Record-Route: <sip:proxy.local;lr>\r\n' +
    'From: "Ana" <sip:101@pbx.local>;tag=ft\r\n' +
    'To: <sip:102@pbx.local>\r\n' +
    'Call-ID: cid@10.0.0.5\r\n' +
    `CSeq: 7 ${method}\r\n` +
    'Max-Forwards: 70\r\n' +
    extra +
    'Content-Length: 0\r\n\r\n';
  const result = parseMessage(Buffer.from(text));
  assert.ok(result.ok && result.message.kind === 'request');
  return result.message;
}

test('createResponse copies Via list, From, Call-ID, CSeq and adds a To tag (§8.2.6.2)', () => {
  const req = request();
  const res = createResponse(req, 486);
  assert.equal(res.kind, 'response');
  assert.equal(res.status, 486);
  assert.equal(res.reason, 'Busy Here');
  assert.deepEqual(res.via, req.via);
  assert.notEqual(res.via[0], req.via[0]); // copies, so editing one never touches the other
  assert.deepEqual(res.from, req.from);
  assert.equal(res.callId, req.callId);
  assert.deepEqual(res.cseq, req.cseq);
  assert.ok(isToken(tagOf(res.to) ?? ''));
  assert.equal(tagOf(req.to), null);
  assert.equal(res.maxForwards, null);
  assert.deepEqual(res.recordRoute, []); // not for a failure response
  const bytes = serializeMessage(res);
  const again = parseMessage(bytes);
  assert.ok(again.ok && again.message.kind === 'response' && again.message.status === 486);
});

test('100 Trying gets no To tag but echoes Timestamp; a 180 to an INVITE copies Record-Route', () => {
  const req = request('Timestamp: 54\r\n');
  const trying = createResponse(req, 100);
  assert.equal(tagOf(trying.to), null);
  assert.equal(getHeader(trying, 'timestamp'), '54');
  const ringing = createResponse(req, 180, { toTag: 'mytag', contact: req.contact === '*' ? [] : req.contact });
  assert.equal(tagOf(ringing.to), 'mytag');
  assert.equal(ringing.recordRoute.length, 1);
  assert.equal(getHeader(ringing, 'timestamp'), undefined);
});

test('createResponse options: reason, expires, body, headers; an existing To tag is kept', () => {
  const req = request();
  req.to.params.set('tag', 'existing');
  const res = createResponse(req, 200, {
    reason: 'Fine',
    expires: 60,
    contentType: 'application/sdp',
    body: Buffer.from('v=0\r\n'),
    headers: [{ name: 'Allow', value: 'INVITE' }],
  });
  assert.equal(tagOf(res.to), 'existing');
  assert.equal(res.reason, 'Fine');
  assert.equal(res.expires, 60);
  assert.equal(res.body.toString(), 'v=0\r\n');
  assert.deepEqual(res.headers, [{ name: 'Allow', value: 'INVITE' }]);
  const registerOk = createResponse(request('', 'REGISTER'), 200);
  assert.deepEqual(registerOk.recordRoute, []);
});

test('identifiers are tokens, unique, with the branch cookie', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const b = newBranch();
    const t = newTag();
    const c = newCallId('pbx.local');
    assert.ok(b.startsWith(BRANCH_MAGIC_COOKIE) && b.length > 15 && isToken(b));
    assert.ok(isToken(t) && t.length >= 8);
    assert.ok(c.endsWith('@pbx.local') && c.length > 20);
    for (const v of [b, t, c]) {
      assert.ok(!seen.has(v));
      seen.add(v);
    }
  }
});

test('reason phrases for every RFC 3261 code, class default otherwise', () => {
  const expected: Record<number, string> = {
    100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
    200: 'OK', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy',
    380: 'Alternative Service', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
    404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required',
    408: 'Request Timeout', 410: 'Gone', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long',
    415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
    423: 'Interval Too Brief', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
    482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here',
    487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending', 493: 'Undecipherable',
    500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
    504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large', 600: 'Busy Everywhere',
    603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
  };
  for (const [code, phrase] of Object.entries(expected)) assert.equal(reasonPhrase(Number(code)), phrase, code);
  assert.equal(reasonPhrase(299), 'Success');
  assert.equal(reasonPhrase(499), 'Client Error');
});
