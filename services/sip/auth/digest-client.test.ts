import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResponse } from '../build.js';
import type { SipRequest } from '../message.js';
import { parseMessage } from '../parser.js';
import { computeHa1, computeResponse, parseCredentials } from './digest.js';
import { authorizationHeader, readChallenge } from './digest-client.js';

function request(): SipRequest {
  const text = ['INVITE sip:+12125550199@carrier.test SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1', 'From: <sip:+12125550101@carrier.test>;tag=a', 'To: <sip:+12125550199@carrier.test>', 'Call-ID: c1', 'CSeq: 1 INVITE', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
  const parsed = parseMessage(Buffer.from(text));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad fixture');
  return parsed.message;
}

test('a 407 with MD5 and SHA-256 challenges: SHA-256 is answered with Proxy-Authorization the server can verify', () => {
  const response = createResponse(request(), 407, {
    headers: [
      { name: 'Proxy-Authenticate', value: 'Digest realm="carrier.test", nonce="n1", algorithm=MD5, qop="auth"' },
      { name: 'Proxy-Authenticate', value: 'Digest realm="carrier.test", nonce="n2", opaque="o", algorithm=SHA-256, qop="auth,auth-int"' },
    ],
  });
  const challenge = readChallenge(response);
  assert.equal(challenge?.algorithm, 'SHA-256');
  assert.equal(challenge?.header, 'Proxy-Authorization');
  if (challenge === null) return;
  const header = authorizationHeader(challenge, { username: 'officepbx', password: 'pw' }, 'INVITE', 'sip:+12125550199@carrier.test');
  assert.equal(header.name, 'Proxy-Authorization');
  const parsed = parseCredentials(header.value);
  assert.equal(parsed.kind, 'digest');
  if (parsed.kind !== 'digest') return;
  const c = parsed.credentials;
  assert.equal(c.opaque, 'o');
  assert.equal(c.nc, '00000001');
  // What the server computes from what it stores (HA1) must equal our response.
  const expected = computeResponse({ algorithm: 'SHA-256', ha1: computeHa1('SHA-256', 'officepbx', 'carrier.test', 'pw'), method: 'INVITE', uri: c.uri, nonce: 'n2', qop: 'auth', nc: c.nc, cnonce: c.cnonce });
  assert.equal(c.response, expected);
});

test('a 401 without qop is answered in the RFC 2069 form; unusable challenges give null', () => {
  const ok = readChallenge(createResponse(request(), 401, { headers: [{ name: 'WWW-Authenticate', value: 'Digest realm="r", nonce="n"' }] }));
  assert.equal(ok?.header, 'Authorization');
  assert.equal(ok?.qop, null);
  if (ok === null) return;
  const parsed = parseCredentials(authorizationHeader(ok, { username: 'u', password: 'p' }, 'REGISTER', 'sip:r').value);
  assert.ok(parsed.kind === 'digest' && parsed.credentials.qop === null && parsed.credentials.response === computeResponse({ algorithm: 'MD5', ha1: computeHa1('MD5', 'u', 'r', 'p'), method: 'REGISTER', uri: 'sip:r', nonce: 'n', qop: null, nc: null, cnonce: null }));
  for (const value of ['Basic realm="r"', 'Digest realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Digest realm="r", nonce="n", qop="auth-int"', 'Digest realm="r" nonce="n"']) {
    assert.equal(readChallenge(createResponse(request(), 401, { headers: [{ name: 'WWW-Authenticate', value }] })), null, value);
  }
});
