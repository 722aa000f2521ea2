import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallRecord } from '../store/cdr.js';
import { algFindings, audioFindings, isPrivateAddress } from './network.js';

const call = (callId: string, callerIn: number, calleeIn: number, talkMs = 10_000): CallRecord => ({
  id: 1,
  callId,
  caller: '101',
  callee: '102',
  dialled: null,
  trunk: null,
  startedAt: 0,
  answeredAt: 1000,
  endedAt: 1000 + talkMs,
  disposition: 'answered',
  status: 200,
  reason: 'bye',
  legs: [
    { side: 'caller', party: '101', callId, address: 'udp:203.0.113.7:5062', quality: { packetsIn: callerIn, packetsOut: 400, lost: 0, jitterMs: 1 } },
    { side: 'callee', party: '102', callId: `${callId}-b`, address: 'udp:192.168.1.20:5060', quality: { packetsIn: calleeIn, packetsOut: 400, lost: 0, jitterMs: 1 } },
  ],
});

test('one-way audio: the silent leg is named; both silent is no audio; short or clean calls say nothing', () => {
  assert.deepEqual(audioFindings([call('a', 0, 480)]).map((d) => [d.code, d.party, d.detail['address']]), [['one-way-audio', '101', 'udp:203.0.113.7:5062']]);
  assert.deepEqual(audioFindings([call('b', 0, 0)]).map((d) => d.code), ['no-audio']);
  assert.deepEqual(audioFindings([call('c', 500, 480), call('d', 0, 480, 1500)]), []);
});

test('SIP ALG: a public Contact equal to the source address but on another port', () => {
  const found = algFindings([
    { aor: '101', contactUri: 'sip:101@198.51.100.9:5060;transport=udp', sourceAddress: '198.51.100.9', sourcePort: 41234, registeredAt: 5 },
    { aor: '102', contactUri: 'sip:102@192.168.1.20:5060', sourceAddress: '198.51.100.10', sourcePort: 41000, registeredAt: 5 },
    { aor: '103', contactUri: 'sip:103@198.51.100.11:41000', sourceAddress: '198.51.100.11', sourcePort: 41000, registeredAt: 5 },
    { aor: '104', contactUri: 'sip:104@192.168.1.21:5062', sourceAddress: '192.168.1.21', sourcePort: 5070, registeredAt: 5 },
  ]);
  assert.deepEqual(found.map((d) => d.party), ['101']);
  assert.ok(isPrivateAddress('100.64.1.1') && isPrivateAddress('fd00::1') && !isPrivateAddress('8.8.8.8'));
});
