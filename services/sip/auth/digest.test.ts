import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeHa1, computeResponse, digestEquals, formatChallenge, parseAuthParams, parseCredentials } from './digest.js';

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
const RFC7616 = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  method: 'GET',
  uri: '/dir/index.html',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  nc: '00000001',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};

test('RFC 7616 §3.9.1 SHA-256 vector', () => {
  const ha1 = computeHa1('SHA-256', RFC7616.username, RFC7616.realm, RFC7616.password);
  const response = computeResponse({ algorithm: 'SHA-256', ha1, method: RFC7616.method, uri: RFC7616.uri, nonce: RFC7616.nonce, qop: 'auth', nc: RFC7616.nc, cnonce: RFC7616.cnonce });
  assert.equal(response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

test('RFC 7616 §3.9.1 MD5 vector', () => {
  const ha1 = computeHa1('MD5', RFC7616.username, RFC7616.realm, RFC7616.password);
  const response = computeResponse({ algorithm: 'MD5', ha1, method: RFC7616.method, uri: RFC7616.uri, nonce: RFC7616.nonce, qop: 'auth', nc: RFC7616.nc, cnonce: RFC7616.cnonce });
  assert.equal(response, '8ca523f5e9506fed4657c9700eebdbec');
});

test('RFC 2617 §3.5 vector, parsed from the header as sent', () => {
  const header =
    'Digest username="Mufasa",\r\n realm="testrealm@host.com",\r\n nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n' +
    ' uri="/dir/index.html",\r\n qop=auth,\r\n nc=00000001,\r\n cnonce="0a4f113b",\r\n' +
    ' response="6629fae49393a05397450978507c4ef1",\r\n opaque="5ccc069c403ebaf9f0171e9517f40e41"';
  const parsed = parseCredentials(header);
  assert.equal(parsed.kind, 'digest');
  if (parsed.kind !== 'digest') return;
  const c = parsed.credentials;
  assert.equal(c.algorithm, 'MD5');
  assert.equal(c.ncValue, 1);
  assert.equal(c.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
  const ha1 = computeHa1('MD5', c.username, c.realm, 'Circle Of Life');
  const expected = computeResponse({ algorithm: 'MD5', ha1, method: 'GET', uri: c.uri, nonce: c.nonce, qop: 'auth', nc: c.nc, cnonce: c.cnonce });
  assert.equal(expected, '6629fae49393a05397450978507c4ef1');
  assert.ok(digestEquals(expected, c.response));
  assert.ok(!digestEquals(expected, c.response.replace(/^6/, '7')));
  assert.ok(!digestEquals(expected, 'short'));
});

test('RFC 2069 form (no qop): response = H(HA1:nonce:HA2)', () => {
  // RFC 2069 §2.4 example: Mufasa / CircleOfLife, realm testrealm@host.com.
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'CircleOfLife');
  const response = computeResponse({ algorithm: 'MD5', ha1, method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: null, nc: null, cnonce: null });
  assert.equal(response, '1949323746fe6a43ef61f9606e7febea');
});

test('other schemes and malformed credentials are told apart, never thrown', () => {
  assert.deepEqual(parseCredentials('NoOneKnowsThisScheme opaque-data=here'), { kind: 'other-scheme', scheme: 'NoOneKnowsThisScheme' });
  assert.equal(parseCredentials('Digest username="a"').kind, 'malformed');
  assert.equal(parseCredentials('Digest username="a, realm="r"').kind, 'malformed');
  assert.equal(parseCredentials('Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"').kind, 'malformed');
  assert.equal(parseCredentials('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth').kind, 'malformed');
  assert.equal(parseCredentials('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=zz, cnonce="c"').kind, 'malformed');
  assert.equal(parseCredentials('Digest').kind, 'malformed');
  assert.equal(parseCredentials('').kind, 'other-scheme');
  assert.equal(parseAuthParams('a=1,,b=2'), null);
  assert.deepEqual([...(parseAuthParams('a = "x\\"y" , B=2') ?? [])], [['a', 'x"y'], ['b', '2']]);
});

test('challenge format offers qop=auth and marks stale', () => {
  const value = formatChallenge({ realm: 'pbx.local', nonce: 'abc', opaque: 'op', algorithm: 'SHA-256', stale: true });
  assert.equal(value, 'Digest realm="pbx.local", nonce="abc", opaque="op", algorithm=SHA-256, qop="auth", stale=true');
  const params = parseAuthParams(value.slice('Digest '.length));
  assert.equal(params?.get('realm'), 'pbx.local');
});
