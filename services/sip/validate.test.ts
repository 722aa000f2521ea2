import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from './parser.js';
import type { SipRequest } from './message.js';
import { validateRequest, type ValidateOptions } from './validate.js';

const OPTIONS: ValidateOptions = {
  supportedExtensions: ['path', 'outbound', 'replaces', 'timer'],
  acceptedContentTypes: ['application/sdp', 'application/dtmf-relay'],
  isProxyOrB2bua: true,
};

function request(method: string, uri: string, extra: string[] = [], body = ''): SipRequest {
  const lines = [
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1',
    'From: <sip:101@pbx>;tag=1',
    'To: <sip:102@pbx>',
    'Call-ID: c1',
    `CSeq: 1 ${method}`,
    ...extra,
  ];
  const result = parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body));
  assert.ok(result.ok && result.message.kind === 'request', result.ok ? '' : result.error.reason);
  return result.message;
}

test('a plain INVITE with SDP passes', () => {
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', ['Max-Forwards: 70', 'Content-Type: application/sdp', 'Accept: application/sdp'], 'v=0\r\n'), OPTIONS), null);
});

test('416 for any scheme but sip/sips (tel included)', () => {
  assert.equal(validateRequest(request('INVITE', 'tel:+15551234'), OPTIONS)?.status, 416);
  assert.equal(validateRequest(request('OPTIONS', 'mailto:a@b'), OPTIONS)?.status, 416);
  assert.equal(validateRequest(request('OPTIONS', 'sips:a@b'), OPTIONS), null);
});

test('483 for Max-Forwards 0 on what we would forward, not on what we answer', () => {
  const mf0 = ['Max-Forwards: 0'];
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', mf0), OPTIONS)?.status, 483);
  assert.equal(validateRequest(request('OPTIONS', 'sip:102@pbx', mf0), OPTIONS)?.status, 483);
  assert.equal(validateRequest(request('BYE', 'sip:102@pbx', mf0), OPTIONS)?.status, 483);
  assert.equal(validateRequest(request('OPTIONS', 'sip:pbx', mf0), OPTIONS), null);
  assert.equal(validateRequest(request('REGISTER', 'sip:pbx', mf0), OPTIONS), null);
  assert.equal(validateRequest(request('CANCEL', 'sip:102@pbx', mf0), OPTIONS), null);
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', mf0), { ...OPTIONS, isProxyOrB2bua: false }), null);
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', ['Max-Forwards: 1']), OPTIONS), null);
});

test('420 lists every unknown option-tag in Unsupported; Proxy-Require only for a proxy/B2BUA', () => {
  const r = validateRequest(request('INVITE', 'sip:102@pbx', ['Require: timer, foo', 'Require: Bar', 'Proxy-Require: baz']), OPTIONS);
  assert.equal(r?.status, 420);
  assert.deepEqual(r?.headers, [{ name: 'Unsupported', value: 'foo, Bar, baz' }]);
  const uas = validateRequest(request('INVITE', 'sip:102@pbx', ['Require: replaces', 'Proxy-Require: baz']), { ...OPTIONS, isProxyOrB2bua: false });
  assert.equal(uas, null);
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', ['Require: REPLACES, Timer']), OPTIONS), null);
  assert.equal(validateRequest(request('CANCEL', 'sip:102@pbx', ['Require: foo']), OPTIONS), null);
});

test('415 with Accept for an unknown session body type or encoding', () => {
  const r = validateRequest(request('INVITE', 'sip:102@pbx', ['Content-Type: application/unknownformat'], '<x/>'), OPTIONS);
  assert.equal(r?.status, 415);
  assert.deepEqual(r?.headers, [{ name: 'Accept', value: 'application/sdp, application/dtmf-relay' }]);
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', ['Content-Type: Application/SDP; charset=x'], 'v=0'), OPTIONS), null);
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', [], 'v=0'), OPTIONS)?.status, 415);
  const enc = validateRequest(request('INVITE', 'sip:102@pbx', ['Content-Type: application/sdp', 'Content-Encoding: gzip'], 'v=0'), OPTIONS);
  assert.equal(enc?.status, 415);
  assert.deepEqual(enc?.headers, [{ name: 'Accept-Encoding', value: 'identity' }]);
  // an empty INVITE body, or a MESSAGE body, is not a session description
  assert.equal(validateRequest(request('INVITE', 'sip:102@pbx', ['Content-Type: application/unknownformat']), OPTIONS), null);
  assert.equal(validateRequest(request('MESSAGE', 'sip:102@pbx', ['Content-Type: text/plain'], 'hi'), OPTIONS), null);
});

test('406 when an INVITE Accept excludes application/sdp', () => {
  const r = (accept: string) => validateRequest(request('INVITE', 'sip:102@pbx', [`Accept: ${accept}`]), OPTIONS)?.status ?? null;
  assert.equal(r('text/nobodyKnowsThis'), 406);
  assert.equal(r('application/sdp;q=0, text/plain'), 406);
  assert.equal(r('application/sdp'), null);
  assert.equal(r('text/plain, application/*'), null);
  assert.equal(r('*/*'), null);
  assert.equal(validateRequest(request('OPTIONS', 'sip:102@pbx', ['Accept: text/plain']), OPTIONS), null);
});

test('400 for a CSeq method differing from the request method (built by code, not parsed)', () => {
  const req = request('INVITE', 'sip:102@pbx');
  req.cseq = { seq: 1, method: 'BYE' };
  assert.equal(validateRequest(req, OPTIONS)?.status, 400);
});

test('ACK is never rejected (no response to an ACK)', () => {
  assert.equal(validateRequest(request('ACK', 'tel:+1', ['Max-Forwards: 0', 'Require: foo']), OPTIONS), null);
});
