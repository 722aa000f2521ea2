import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSdp } from './parse.js';
import { serializeSdp } from './serialize.js';
import { SdpError } from './types.js';
import { answeredCodecs, buildLocalSdp, describeAudio, effectiveDirection, negotiated, supportedCodecs, wantsToReceive } from './offer-answer.js';

// A desk phone's offer (Polycom/Yealink style), in the canonical line order we serialize.
const PHONE_OFFER = [
  'v=0',
  'o=- 1694012 1694013 IN IP4 192.168.1.23',
  's=Polycom IP Phone',
  'c=IN IP4 192.168.1.23',
  'b=AS:80',
  't=0 0',
  'a=group:BUNDLE x',
  'm=audio 2222 RTP/AVP 9 0 8 18 101',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:18 G729/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:18 annexb=no',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=rtcp:2223 IN IP4 192.168.1.23',
  'a=x-custom:keep me',
  'a=sendrecv',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  '',
].join('\r\n');

test('parse -> serialize round trip is byte-exact for canonical SDP, and typed', () => {
  const s = parseSdp(PHONE_OFFER);
  assert.equal(serializeSdp(s), PHONE_OFFER);
  assert.equal(s.origin.sessionVersion, '1694013');
  assert.equal(s.connection?.address, '192.168.1.23');
  const m = s.media[0];
  assert.ok(m);
  assert.equal(m.port, 2222);
  assert.deepEqual(m.formats, ['9', '0', '8', '18', '101']);
  assert.equal(m.ptime, 20);
  assert.equal(m.direction, 'sendrecv');
  assert.deepEqual(m.rtcp, { port: 2223, connection: { netType: 'IN', addrType: 'IP4', address: '192.168.1.23' } });
  assert.deepEqual(m.attributes, [{ name: 'x-custom', value: 'keep me' }]);
  assert.equal(s.media[1]?.type, 'video');
  // LF-only input parses the same
  assert.deepEqual(parseSdp(PHONE_OFFER.replace(/\r\n/g, '\n')), s);
});

test('malformed SDP is rejected with SdpError, never another exception', () => {
  const bad = [
    '',
    'x=0',
    'v=1\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n',
    'v=0\r\no=- a 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1000 RTP/AVP 300\r\nc=IN IP4 1.2.3.4\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\n', // no c=
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\na=rtpmap:zz\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN XX 1.2.3.4\r\nt=0 0\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\nq=what\r\n',
    'v=0\r\n' + 'a=x\r\n'.repeat(20000),
  ];
  for (const b of bad) assert.throws(() => parseSdp(b), SdpError, JSON.stringify(b.slice(0, 60)));
  // random bytes: only SdpError
  let seed = 7;
  for (let i = 0; i < 500; i++) {
    const len = 1 + (i % 200);
    let txt = 'v=0\r\n';
    for (let k = 0; k < len; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      txt += String.fromCharCode(seed % 128);
    }
    try {
      parseSdp(txt);
    } catch (e) {
      assert.ok(e instanceof SdpError, String(e));
    }
  }
});

test('codec handling: supported set, static payload types without rtpmap, answer subset and choice', () => {
  const s = parseSdp(PHONE_OFFER);
  const m = s.media[0];
  assert.ok(m);
  const codecs = supportedCodecs(m);
  assert.deepEqual(codecs.map((c) => c.name), ['G722', 'PCMU', 'PCMA', 'telephone-event']); // G.729 dropped
  assert.equal(codecs[3]?.fmtp, '0-15');
  const bare = parseSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1000 RTP/AVP 8 0\r\n');
  assert.deepEqual(supportedCodecs(bare.media[0] ?? m).map((c) => c.name), ['PCMA', 'PCMU']);
  // the answerer picked PCMA + telephone-event: that is what is used
  const answer = answeredCodecs(codecs, [
    { payloadType: 8, name: 'PCMA', clockRate: 8000 },
    { payloadType: 101, name: 'telephone-event', clockRate: 8000 },
    { payloadType: 96, name: 'telephone-event', clockRate: 8000 }, // never offered: ignored
  ]);
  assert.deepEqual(answer.map((c) => c.payloadType), [8, 101]);
  const neg = negotiated(answer);
  assert.equal(neg.audio.name, 'PCMA');
  assert.equal(neg.dtmf?.payloadType, 101);
  // G.722 passes through when both ends have it
  assert.equal(negotiated(answeredCodecs(codecs, [{ payloadType: 9, name: 'G722', clockRate: 8000 }])).audio.name, 'G722');
  assert.throws(() => negotiated(answeredCodecs(codecs, [{ payloadType: 101, name: 'telephone-event', clockRate: 8000 }])), SdpError);
});

test('hold directions: sendonly/recvonly/inactive and RFC 2543 c=0.0.0.0', () => {
  const base = PHONE_OFFER.replace('a=sendrecv\r\n', '');
  const withDir = (d: string): string => PHONE_OFFER.replace('a=sendrecv', `a=${d}`);
  assert.equal(describeAudio(parseSdp(base)).direction, 'sendrecv'); // RFC 3264 §5.1 default
  for (const d of ['sendonly', 'recvonly', 'inactive', 'sendrecv'] as const) {
    const a = describeAudio(parseSdp(withDir(d)));
    assert.equal(a.direction, d);
    assert.equal(wantsToReceive(a), d === 'sendrecv' || d === 'recvonly');
  }
  // session-level direction applies when the m-line has none
  const sessionLevel = base.replace('t=0 0\r\n', 't=0 0\r\na=sendonly\r\n');
  assert.equal(describeAudio(parseSdp(sessionLevel)).direction, 'sendonly');
  const old = describeAudio(parseSdp(base.replace(/c=IN IP4 192\.168\.1\.23/, 'c=IN IP4 0.0.0.0')));
  assert.equal(old.nullAddress, true);
  assert.equal(effectiveDirection(old), 'sendonly');
  assert.equal(wantsToReceive(old), false);
});

test('anchored SDP: our address and port, m-line count kept, other streams rejected, version given', () => {
  const s = parseSdp(PHONE_OFFER);
  const a = describeAudio(s);
  const local = buildLocalSdp({
    template: s,
    audioIndex: a.index,
    sessionId: '42',
    sessionVersion: 3,
    address: '10.0.0.1',
    port: 40000,
    codecs: a.codecs,
    direction: 'sendonly',
    ptime: 20,
  });
  const text = serializeSdp(local);
  assert.deepEqual(parseSdp(text), local);
  assert.match(text, /^o=- 42 3 IN IP4 10\.0\.0\.1\r$/m);
  assert.match(text, /^c=IN IP4 10\.0\.0\.1\r$/m);
  assert.match(text, /^m=audio 40000 RTP\/AVP 9 0 8 101\r$/m);
  assert.match(text, /^a=sendonly\r$/m);
  assert.match(text, /^m=video 0 RTP\/AVP 96\r$/m);
  assert.doesNotMatch(text, /192\.168\.1\.23/);
  assert.doesNotMatch(text, /G729/);
});
