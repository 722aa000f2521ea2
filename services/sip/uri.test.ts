import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNameAddr, formatUri, formatVia, parseNameAddr, parseNameAddrList, parseUri, parseVia, splitList } from './uri.js';

test('parseUri: sip URI with every part', () => {
  const uri = parseUri('sips:alice:secret@Example.COM:5061;transport=tls;lr;maddr=10.0.0.1?subject=hi&priority=urgent');
  assert.deepEqual(uri, {
    kind: 'sip',
    secure: true,
    user: 'alice',
    password: 'secret',
    host: 'example.com',
    port: 5061,
    params: new Map<string, string | null>([
      ['transport', 'tls'],
      ['lr', null],
      ['maddr', '10.0.0.1'],
    ]),
    headers: new Map([
      ['subject', 'hi'],
      ['priority', 'urgent'],
    ]),
  });
});

test('parseUri: host only, IPv6, uppercase scheme', () => {
  const a = parseUri('SIP:pbx.local');
  assert.ok(a?.kind === 'sip' && a.user === null && a.host === 'pbx.local' && a.port === null && !a.secure);
  const b = parseUri('sip:101@[2001:DB8::1]:5070');
  assert.ok(b?.kind === 'sip' && b.host === '[2001:db8::1]' && b.port === 5070 && b.user === '101');
});

test('parseUri: other schemes are kept verbatim', () => {
  assert.deepEqual(parseUri('tel:+1-201-555-0123;phone-context=x'), { kind: 'absolute', scheme: 'tel', raw: 'tel:+1-201-555-0123;phone-context=x' });
  assert.deepEqual(parseUri('soap.beep://192.0.2.103:3002'), { kind: 'absolute', scheme: 'soap.beep', raw: 'soap.beep://192.0.2.103:3002' });
});

test('parseUri: rejects malformed URIs', () => {
  for (const bad of [
    '',
    'sip:',
    'sip:@host',
    'sip:user@',
    'sip:host:99999',
    'sip:host:12a',
    'sip:host;=x',
    'sip:host;;lr',
    'sip:us er@host',
    ' sip:host',
    'sip:host ',
    'sip:host?noequals',
    'sip:[::1',
    'sip:[zz]',
    '1sip:host',
    'nocolon',
    'http:',
    'mailto:a b',
    'sip:a<b@host',
  ]) {
    assert.equal(parseUri(bad), null, bad);
  }
});

test('parseNameAddr: quoted, token and addr-spec forms with params', () => {
  const a = parseNameAddr('"Ana \\"the\\" Admin" <sip:101@pbx.local>;tag=abc;expires=60');
  assert.equal(a?.displayName, 'Ana "the" Admin');
  assert.equal(a?.params.get('tag'), 'abc');
  assert.equal(a?.params.get('expires'), '60');
  const b = parseNameAddr('Ana  Admin <sip:101@pbx.local;transport=udp>');
  assert.equal(b?.displayName, 'Ana Admin');
  assert.ok(b?.uri.kind === 'sip' && b.uri.params.get('transport') === 'udp');
  const c = parseNameAddr('sip:101@pbx.local;tag=x');
  assert.equal(c?.displayName, null);
  assert.equal(c?.params.get('tag'), 'x');
  assert.ok(c?.uri.kind === 'sip' && c.uri.params.size === 0);
  const d = parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1');
  assert.equal(d?.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
  assert.equal(parseNameAddr('José Müller <sip:a@b>')?.displayName, 'José Müller');
  const e = parseNameAddr('<sip:a@b> ; received = 2001:db8::1 ; flag');
  assert.equal(e?.params.get('received'), '2001:db8::1');
  assert.equal(e?.params.get('flag'), null);
});

test('parseNameAddr: rejects malformed values', () => {
  for (const bad of [
    '',
    '"unterminated <sip:a@b>',
    'Bell, Alexander <sip:a@b>',
    '< sip:a@b >',
    '<sip:a@b',
    'sip:a@b?Route=x',
    '<sip:a@b>;;',
    '<sip:a@b>;tag=',
    '<sip:a@b> junk',
    '"x" sip:a@b',
    '<sip:a@b>;tag="open',
  ]) {
    assert.equal(parseNameAddr(bad), null, bad);
  }
});

test('splitList / parseNameAddrList respect quotes and angle brackets', () => {
  assert.deepEqual(splitList('a, "b,c" <sip:x@y>, <sip:p,q@r>'), ['a', '"b,c" <sip:x@y>', '<sip:p,q@r>']);
  assert.equal(splitList('a,,b'), null);
  assert.equal(splitList('a,'), null);
  const list = parseNameAddrList('"Doe, John" <sip:j@d>;q=0.5, <sip:k@d>');
  assert.equal(list?.length, 2);
  assert.equal(list?.[0]?.displayName, 'Doe, John');
});

test('parseVia: LWS everywhere, several values, IPv6, rport', () => {
  const list = parseVia('SIP / 2.0 / udp 10.0.0.1 : 5062 ; branch = z9hG4bK1 ; rport, SIP/2.0/TLS [2001:db8::9];received=2001:db8::1;rport=1234');
  assert.equal(list?.length, 2);
  assert.deepEqual(list?.[0], {
    transport: 'UDP',
    host: '10.0.0.1',
    port: 5062,
    params: new Map<string, string | null>([
      ['branch', 'z9hG4bK1'],
      ['rport', null],
    ]),
  });
  assert.equal(list?.[1]?.host, '[2001:db8::9]');
  assert.equal(list?.[1]?.params.get('rport'), '1234');
  for (const bad of ['SIP/2.0/UDP', 'SIP/3.0/UDP h', 'XIP/2.0/UDP h', 'SIP/2.0/UDP h;;', 'SIP/2.0/UDP h,', 'SIP/2.0/UDPh', 'SIP/2.0/UDP h:70000']) {
    assert.equal(parseVia(bad), null, bad);
  }
});

test('format functions are the inverse of the parsers', () => {
  for (const text of ['sip:a@b', 'sips:u:p@[::1]:5061;transport=tls;lr?h=v&i=w', 'tel:+123', 'sip:host;x']) {
    const uri = parseUri(text);
    assert.ok(uri);
    assert.equal(formatUri(uri), text);
  }
  const n = parseNameAddr('"A \\\\ \\"B\\"" <sip:a@b;lr>;tag=1;x');
  assert.ok(n);
  assert.equal(formatNameAddr(n), '"A \\\\ \\"B\\"" <sip:a@b;lr>;tag=1;x');
  assert.deepEqual(parseNameAddr(formatNameAddr(n)), n);
  const ctl = { displayName: 'BEL:\x07', uri: parseUri('sip:a@b')!, params: new Map() };
  assert.deepEqual(parseNameAddr(formatNameAddr(ctl)), ctl);
  const v = parseVia('SIP/2.0/UDP h:5060;branch=z9hG4bKx;rport')![0]!;
  assert.equal(formatVia(v), 'SIP/2.0/UDP h:5060;branch=z9hG4bKx;rport');
});
