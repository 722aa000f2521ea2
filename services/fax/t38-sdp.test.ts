import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSdp } from '../media/sdp/parse.js';
import { answerParams, buildT38Sdp, describeT38, isT38Sdp, nextOrigin, OUR_T38 } from './t38-sdp.js';

const ASTERISK_OFFER = [
  'v=0',
  'o=- 1 3 IN IP4 192.0.2.10',
  's=Asterisk',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=image 4000 udptl t38',
  'a=T38FaxVersion:0',
  'a=T38MaxBitRate:9600',
  'a=T38FaxRateManagement:localTCF',
  'a=T38FaxMaxDatagram:200',
  'a=T38FaxUdpEC:t38UDPFEC',
  '',
].join('\r\n');

test('a far end T.38 offer is read into typed parameters', () => {
  const remote = describeT38(parseSdp(ASTERISK_OFFER));
  assert.deepEqual(remote, {
    address: '192.0.2.10',
    port: 4000,
    params: { version: 0, maxBitRate: 9600, rateManagement: 'localTCF', maxBuffer: 1800, maxDatagram: 200, udpEc: 't38UDPFEC' },
  });
  const answer = answerParams(remote.params);
  assert.equal(answer.maxBitRate, 9600, 'the lower bit rate');
  assert.equal(answer.rateManagement, 'localTCF', 'the offer decides rate management (Annex D.2.3)');
  assert.equal(answer.udpEc, 't38UDPRedundancy');
});

test('our offer round-trips, continues the o= line, and port 0 or audio is not T.38', () => {
  const origin = nextOrigin('v=0\r\no=- 42 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\n');
  assert.deepEqual(origin, { username: '-', sessionId: '42', sessionVersion: '8' });
  const sdp = buildT38Sdp({ origin, address: '127.0.0.1', port: 5000, params: OUR_T38 });
  assert.match(sdp, /^m=image 5000 udptl t38\r$/m);
  assert.match(sdp, /^o=- 42 8 IN IP4 127.0.0.1\r$/m);
  assert.deepEqual(describeT38(parseSdp(sdp))?.params, OUR_T38);
  assert.equal(isT38Sdp(sdp.replace('m=image 5000', 'm=image 0')), false);
  assert.equal(isT38Sdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n'), false);
  assert.equal(isT38Sdp('garbage'), false);
});
