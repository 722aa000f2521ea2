import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import type { SipRequest } from '../../sip/message.js';
import { parseMessage } from '../../sip/parser.js';
import type { CalleeContact, RouteDecision } from '../../sip/b2bua/types.js';
import { openStore } from '../../store/index.js';
import { createUserCallRouter, MAX_FORWARDS } from './forwarding.js';

function invite(extraHeaders: string[] = []): SipRequest {
  const text = ['INVITE sip:101@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.3:5060;branch=z9hG4bK1', 'From: <sip:103@127.0.0.3>;tag=a', 'To: <sip:101@127.0.0.1>', 'Call-ID: c1', 'CSeq: 1 INVITE', 'Contact: <sip:c@127.0.0.3>', 'Max-Forwards: 70', ...extraHeaders, 'Content-Length: 0', '', ''].join('\r\n');
  const parsed = parseMessage(Buffer.from(text));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad fixture');
  return parsed.message;
}

const contact = (user: string): CalleeContact => ({
  uri: { kind: 'sip', secure: false, user, password: null, host: '127.0.0.1', port: 5070, params: new Map(), headers: new Map() },
  destination: { transport: 'UDP', address: '127.0.0.1', port: 5070, connectionId: null },
});

const target = (d: RouteDecision): string => (d.kind === 'ring' ? `ring ${d.target}${d.trunk ? ` via ${d.trunk}` : ''}` : d.kind === 'reject' ? `reject ${d.status}` : `application ${d.name}`);

test('a call to a user: DND, forward always (chains, loops, the hop limit, incoming Diversions), unreachable, busy with call waiting off, the ring-time fallback', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forwarding-'));
  const store = openStore(dir);
  for (const n of ['101', '102', '103', '104', '105', '106', '107', '108']) store.extensions.add({ number: n, displayName: `User ${n}`, secret: `secret-of-${n}` });
  const registered = new Set(['101', '102', '103', '104', '106', '107', '108']);
  const talking = new Set<string>();
  const outside: string[] = [];
  const router = createUserCallRouter({
    extensions: store.extensions,
    features: store.userFeatures,
    contactsOf: (e) => (registered.has(e) ? [contact(e)] : []),
    inCall: (e) => talking.has(e),
    outside: (dialled, _request, caller, forwarded) => {
      outside.push(`${dialled} for ${caller.extension} by ${forwarded.by} (${forwarded.reason}, counter ${forwarded.counter})`);
      return { kind: 'ring', target: dialled, displayName: '', trunk: 'carrier', contacts: [contact(dialled)] };
    },
    logger: silentLogger(),
  });
  const caller = { extension: '103', displayName: 'User 103' };
  const call = (n: string, headers: string[] = []): RouteDecision => router.callUser(n, invite(headers), caller);

  assert.equal(target(call('101')), 'ring 101');
  const plain = call('101');
  assert.ok(plain.kind === 'ring' && plain.fallback === undefined && plain.stages === undefined, "nothing follows the ring: the B2BUA's own no-answer time");
  assert.equal(target(call('999')), 'reject 404');

  store.userFeatures.set('101', { doNotDisturb: true });
  assert.equal(target(call('101')), 'reject 486', 'DND without voicemail: busy');
  store.userFeatures.set('101', { forward: { busy: '104' } });
  assert.equal(target(call('101')), 'ring 104', 'DND takes the busy forward');
  store.userFeatures.set('101', { doNotDisturb: false, forward: { busy: null } });

  // A chain 101 → 102 → 107 → 0612345678 (outside): each step followed, the counter grows.
  store.userFeatures.set('101', { forward: { always: '102' } });
  store.userFeatures.set('102', { forward: { always: '107' } });
  assert.equal(target(call('101')), 'ring 107');
  store.userFeatures.set('107', { forward: { always: '0612345678' } });
  assert.equal(target(call('101')), 'ring 0612345678 via carrier');
  assert.equal(outside.at(-1), '0612345678 for 103 by 107 (unconditional, counter 3)');
  // A loop back to 101: the forward is not followed, 107 (the last user reached) rings.
  store.userFeatures.set('107', { forward: { always: '101' } });
  assert.equal(target(call('101')), 'ring 107');
  // A call that already went through MAX_FORWARDS diversions elsewhere (the carrier's Diversion counter) is not forwarded again.
  store.userFeatures.set('107', { forward: { always: null } });
  assert.equal(target(call('101', [`Diversion: <sip:+33142345600@carrier>;reason=unconditional;counter=${MAX_FORWARDS}`])), 'ring 101', 'too many diversions: not forwarded');
  assert.equal(target(call('101', [`Diversion: <sip:+33142345600@carrier>;reason=unconditional;counter=${MAX_FORWARDS - 1}`])), 'ring 102', 'one more forward allowed, not two');
  assert.equal(target(call('101', ['Diversion: <sip:+33142345600@carrier>;reason=unconditional;counter=1'])), 'ring 107');
  store.userFeatures.set('101', { forward: { always: null } });
  store.userFeatures.set('102', { forward: { always: null } });

  // Unreachable: 105 has no phone.
  assert.equal(target(call('105')), 'reject 480');
  store.userFeatures.set('105', { forward: { unreachable: '106' } });
  assert.equal(target(call('105')), 'ring 106');

  // Call waiting off and in a call: busy, or the busy forward.
  talking.add('108');
  assert.equal(target(call('108')), 'ring 108', 'call waiting on (default): the phone rings');
  store.userFeatures.set('108', { callWaiting: false });
  assert.equal(target(call('108')), 'reject 486');
  store.userFeatures.set('108', { forward: { busy: '104' } });
  assert.equal(target(call('108')), 'ring 104');
  talking.delete('108');

  // Ring time and the fallback: no answer → the no-answer forward; all busy → the busy forward.
  store.userFeatures.set('108', { forward: { 'no-answer': '106' }, noAnswerSeconds: 7 });
  const ring = call('108');
  assert.ok(ring.kind === 'ring' && ring.fallback !== undefined);
  assert.deepEqual(ring.stages?.map((s) => s.ringMs), [7000], "the user's ring time");
  assert.equal(target(ring.fallback({ status: 480 })), 'ring 106');
  assert.equal(target(ring.fallback({ status: 486 })), 'ring 104');
  store.userFeatures.set('108', { forward: { busy: null } });
  assert.equal(target(call('108').kind === 'ring' ? (call('108') as Extract<RouteDecision, { kind: 'ring' }>).fallback?.({ status: 486 }) ?? { kind: 'reject', status: 0 } : { kind: 'reject', status: 0 }), 'reject 486');
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
