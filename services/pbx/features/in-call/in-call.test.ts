/** Unit tests of the in-call features' pure parts: hold transitions, Replaces parsing, class choice. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdTransition, mohClassFor, offerHolds } from './hold.js';
import { parseReplaces, replacesInUriHeaders } from './replaces.js';
import { builtInTune } from './hold-music.js';
import type { InCallHandle } from '../../../sip/b2bua/types.js';

const sdp = (extra: string, address = '127.0.0.1'): Buffer =>
  Buffer.from(['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', `c=IN IP4 ${address}`, 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', extra, ''].filter(Boolean).join('\r\n'));

test('hold offers: sendonly, inactive and c=0.0.0.0 hold; sendrecv and recvonly do not; garbage is not read', () => {
  assert.equal(offerHolds(sdp('a=sendonly')), true);
  assert.equal(offerHolds(sdp('a=inactive')), true);
  assert.equal(offerHolds(sdp('', '0.0.0.0')), true);
  assert.equal(offerHolds(sdp('a=sendrecv')), false);
  assert.equal(offerHolds(sdp('a=recvonly')), false);
  assert.equal(offerHolds(Buffer.from('not sdp')), null);
});

test('hold state machine (RFC 3264 §8.4): talking→holding on hold, holding→talking on resume, other re-offers relayed', () => {
  assert.equal(holdTransition('talking', true), 'holding');
  assert.equal(holdTransition('talking', false), null);
  assert.equal(holdTransition('holding', false), 'talking');
  assert.equal(holdTransition('holding', true), 'holding');
});

test('Replaces (RFC 3891 §6.1): header and Refer-To URI forms; malformed refused', () => {
  assert.deepEqual(parseReplaces('abc@h;to-tag=t1;from-tag=f1'), { callId: 'abc@h', toTag: 't1', fromTag: 'f1', earlyOnly: false });
  assert.deepEqual(parseReplaces('abc; from-tag=f;to-tag=t;early-only'), { callId: 'abc', toTag: 't', fromTag: 'f', earlyOnly: true });
  assert.equal(parseReplaces('abc;to-tag=t'), null);
  assert.equal(parseReplaces(''), null);
  assert.deepEqual(replacesInUriHeaders(new Map([['Replaces', 'x%40h%3Bto-tag%3Da%3Bfrom-tag%3Db']])), { callId: 'x@h', toTag: 'a', fromTag: 'b', earlyOnly: false });
  assert.equal(replacesInUriHeaders(new Map([['replaces', '%E0%A4%A']])), 'malformed');
  assert.equal(replacesInUriHeaders(new Map()), null);
});

test('music class precedence: number called, ring group, holder, default', () => {
  const call = (dialled: string, callee: { extension: string; displayName: string }): InCallHandle =>
    ({
      dialog: () => ({ localUri: { uri: { kind: 'sip', user: dialled } } }),
      party: (side: string) => (side === 'callee' ? callee : { extension: '900', displayName: 'x' }),
    }) as unknown as InCallHandle;
  const choices = new Map([['number:+15551230000', 'n'], ['ring-group:sales', 'g'], ['extension:101', 'e']]);
  const repo = { choiceOf: (o: string) => choices.get(o) ?? null };
  assert.equal(mohClassFor(call('+15551230000', { extension: '600', displayName: 'sales' }), 'callee', repo), 'n');
  assert.equal(mohClassFor(call('600', { extension: '600', displayName: 'sales' }), 'callee', repo), 'g');
  assert.equal(mohClassFor(call('101', { extension: '101', displayName: 'Ana' }), 'callee', repo), 'e');
  assert.equal(mohClassFor(call('102', { extension: '102', displayName: 'Bo' }), 'callee', repo), 'default');
});

test('the built-in default tune loops without a click', () => {
  const tune = builtInTune();
  assert.equal(tune.length, 64000);
  assert.ok(Math.abs(tune[0] as number) < 50 && Math.abs(tune[tune.length - 1] as number) < 50);
});
