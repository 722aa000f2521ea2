/**
 * The transaction layer over real UDP sockets on loopback: a raw dgram peer plays the phone, the
 * stack runs with a small T1 so the RFC 3261 §17 timers can be observed in a short test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../log.js';
import { branchOf, getHeader, tagOf, type SipRequest, type SipResponse } from '../message.js';
import { parseMessage } from '../parser.js';
import { createSipStack, type SipStack, type SipStackOptions } from '../stack.js';
import { requestText, responseText, sleep, UdpPeer, type Received } from '../../../hw-tests/support/sip-peer.js';
import type { Endpoint, ServerTransaction } from '../types.js';
import { EXPIRY_SLACK_MS } from './timers.js';

const T1 = 40;
const T2 = 160;

function options(extra: Partial<SipStackOptions> = {}): SipStackOptions {
  return {
    bind: '127.0.0.1',
    udpPort: 0,
    logger: silentLogger(),
    timers: { T1, T2, T4: 200, D: 300, trying100: 100 },
    validate: { supportedExtensions: ['replaces'], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
    ...extra,
  };
}

function isResponse(status: number, method?: string): (r: Received) => boolean {
  return (r) => r.message?.kind === 'response' && r.message.status === status && (method === undefined || r.message.cseq.method === method);
}

function isRequest(method: string): (r: Received) => boolean {
  return (r) => r.message?.kind === 'request' && r.message.method === method;
}

function parseRequest(text: string): SipRequest {
  const result = parseMessage(Buffer.from(text));
  assert.ok(result.ok, 'test request must parse');
  assert.equal(result.message.kind, 'request');
  return result.message as SipRequest;
}

/** A request the stack sends to the peer: our Via (with a fresh branch) on top. */
function outgoing(stack: SipStack, peer: UdpPeer, method: string, callId: string): SipRequest {
  const local = stack.localEndpoint('UDP');
  const request = parseRequest(requestText({ method, to: peer.port, viaHost: local.address, viaPort: local.port, callId, branch: 'z9hG4bK' + callId }));
  return request;
}

function peerEndpoint(peer: UdpPeer): Endpoint {
  return { transport: 'UDP', address: '127.0.0.1', port: peer.port, connectionId: null };
}

describe('server transactions over UDP (§17.2)', () => {
  let stack: SipStack;
  let peer: UdpPeer;
  const handlers: Array<(t: ServerTransaction) => void> = [];
  const acks: SipRequest[] = [];
  before(async () => {
    stack = await createSipStack(options());
    peer = await UdpPeer.open();
    stack.transactions.onRequest((t) => {
      const handler = handlers.find((_h, i) => i >= 0);
      const call = t.request.callId;
      const byCall = routes.get(call);
      if (byCall) byCall(t);
      else if (handler) handler(t);
      else t.respond(200);
    });
    stack.transactions.onAck((ack) => acks.push(ack));
  });
  after(async () => {
    await stack.close();
    await peer.close();
  });
  const routes = new Map<string, (t: ServerTransaction) => void>();

  it('answers a request and absorbs its retransmission: TU called once, response resent', async () => {
    let calls = 0;
    routes.set('retrans-1', (t) => {
      calls++;
      t.respond(200);
    });
    const text = requestText({ method: 'OPTIONS', to: stack.ports().udp ?? 0, viaPort: peer.port, callId: 'retrans-1' });
    await peer.send(text, stack.ports().udp ?? 0);
    const [first] = await peer.waitFor((r) => r.message?.callId === 'retrans-1');
    await peer.send(text, stack.ports().udp ?? 0);
    const both = await peer.waitFor((r) => r.message?.callId === 'retrans-1', 2);
    assert.equal(calls, 1);
    assert.ok(first?.data.equals(both[1]?.data ?? Buffer.alloc(0)), 'the retransmitted response is the same bytes');
    assert.equal((both[1]?.message as SipResponse).status, 200);
  });

  it('Timer J: after 64*T1 the same request is new again (the Completed record expired)', async () => {
    let calls = 0;
    routes.set('timer-j', (t) => {
      calls++;
      t.respond(200);
    });
    const port = stack.ports().udp ?? 0;
    const text = requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'timer-j' });
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'timer-j');
    await sleep(32 * T1);
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'timer-j', 2);
    assert.equal(calls, 1, 'absorbed while Timer J runs');
    // End timers share queues that may fire up to EXPIRY_SLACK_MS late (never early).
    await sleep(33 * T1 + EXPIRY_SLACK_MS + 50);
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'timer-j', 3);
    assert.equal(calls, 2, 'a new transaction after Timer J');
  });

  it('non-INVITE Trying absorbs retransmissions silently until the TU answers', async () => {
    let calls = 0;
    routes.set('trying-silent', (t) => {
      calls++;
      setTimeout(() => t.respond(200), 150);
    });
    const port = stack.ports().udp ?? 0;
    const text = requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'trying-silent' });
    await peer.send(text, port);
    await sleep(20);
    await peer.send(text, port);
    await sleep(20);
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'trying-silent');
    await sleep(50);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'trying-silent').length, 1);
    assert.equal(calls, 1);
  });

  it('sends 100 Trying when the TU is slow, and gives an ACK for 2xx to the TU', async () => {
    const port = stack.ports().udp ?? 0;
    routes.set('trying-1', (t) => {
      setTimeout(() => t.respond(200, { contact: [] }), 250);
    });
    await peer.send(requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'trying-1' }), port);
    const [trying] = await peer.waitFor((r) => r.message?.callId === 'trying-1' && isResponse(100)(r));
    const [ok] = await peer.waitFor((r) => r.message?.callId === 'trying-1' && isResponse(200)(r));
    assert.ok(trying && ok && trying.at < ok.at);
    const toTag = tagOf((ok?.message as SipResponse).to) ?? '';
    await peer.send(requestText({ method: 'ACK', to: port, viaPort: peer.port, callId: 'trying-1', toTag }), port);
    for (let i = 0; i < 50 && !acks.some((a) => a.callId === 'trying-1'); i++) await sleep(10);
    assert.equal(acks.filter((a) => a.callId === 'trying-1').length, 1);
  });

  it('CANCEL: 200 for the CANCEL, onCancel, 487 for the INVITE, its ACK absorbed and Timer G stopped', async () => {
    const port = stack.ports().udp ?? 0;
    let cancelled = 0;
    let terminated = 0;
    routes.set('cancel-1', (t) => {
      t.onCancel(() => cancelled++);
      t.onTerminated(() => terminated++);
      t.respond(180);
    });
    const branch = 'z9hG4bK-cancel-1';
    await peer.send(requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'cancel-1', branch }), port);
    const [ringing] = await peer.waitFor((r) => r.message?.callId === 'cancel-1' && isResponse(180)(r));
    await peer.send(requestText({ method: 'CANCEL', to: port, viaPort: peer.port, callId: 'cancel-1', branch }), port);
    const [cancelOk] = await peer.waitFor((r) => r.message?.callId === 'cancel-1' && isResponse(200, 'CANCEL')(r));
    const [terminatedResponse] = await peer.waitFor((r) => r.message?.callId === 'cancel-1' && isResponse(487, 'INVITE')(r));
    assert.equal(cancelled, 1);
    const ringingTag = tagOf((ringing?.message as SipResponse).to);
    assert.equal(tagOf((cancelOk?.message as SipResponse).to), ringingTag, '§9.2: same To tag as the INVITE responses');
    assert.equal(tagOf((terminatedResponse?.message as SipResponse).to), ringingTag, 'the 487 keeps the To tag of the 180');
    // Let Timer G retransmit the 487 at least once (T1 = 40 ms), then ACK it.
    await peer.waitFor((r) => r.message?.callId === 'cancel-1' && isResponse(487, 'INVITE')(r), 2);
    const toTag = tagOf((terminatedResponse?.message as SipResponse).to) ?? '';
    await peer.send(requestText({ method: 'ACK', to: port, viaPort: peer.port, callId: 'cancel-1', branch, toTag }), port);
    await sleep(3 * T1);
    const count487 = peer.received.filter((r) => r.message?.callId === 'cancel-1' && isResponse(487)(r)).length;
    await sleep(6 * T2);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'cancel-1' && isResponse(487)(r)).length, count487, 'no 487 after the ACK');
    assert.equal(acks.filter((a) => a.callId === 'cancel-1').length, 0, 'ACK for a non-2xx is absorbed by the transaction');
    // CANCEL for something unknown gets 481.
    await peer.send(requestText({ method: 'CANCEL', to: port, viaPort: peer.port, callId: 'cancel-none', branch: 'z9hG4bK-none' }), port);
    await peer.waitFor((r) => r.message?.callId === 'cancel-none' && isResponse(481, 'CANCEL')(r));
    // Timer I (T4 = 200 ms) ends the transaction.
    for (let i = 0; i < 100 && terminated === 0; i++) await sleep(20);
    assert.equal(terminated, 1);
  });

  it('RFC 2543 matching: a request without a 3261 branch still has its retransmission absorbed', async () => {
    const port = stack.ports().udp ?? 0;
    let calls = 0;
    routes.set('old-branch', (t) => {
      calls++;
      t.respond(200);
    });
    const text = requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'old-branch', branch: 'z9hG4bK' });
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'old-branch');
    await peer.send(text, port);
    await peer.waitFor((r) => r.message?.callId === 'old-branch', 2);
    assert.equal(calls, 1);
  });

  it('rejects what validation refuses (420 with Unsupported) without calling the TU', async () => {
    const port = stack.ports().udp ?? 0;
    let calls = 0;
    routes.set('require-1', () => calls++);
    await peer.send(requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'require-1', extra: ['Require: frobnicate'] }), port);
    const [rejected] = await peer.waitFor((r) => r.message?.callId === 'require-1' && isResponse(420)(r));
    assert.match(getHeader(rejected?.message as SipResponse, 'Unsupported') ?? '', /frobnicate/);
    assert.equal(calls, 0);
  });
});

describe('client transactions over UDP (§17.1)', () => {
  let stack: SipStack;
  let peer: UdpPeer;
  before(async () => {
    stack = await createSipStack(options());
    peer = await UdpPeer.open();
  });
  after(async () => {
    await stack.close();
    await peer.close();
  });

  it('non-INVITE: Timer E doubles up to T2, Timer F reports a timeout once and retransmissions stop', async () => {
    const request = outgoing(stack, peer, 'OPTIONS', 'timer-f');
    const timeouts: string[] = [];
    const start = performance.now();
    let timedOutAt = 0;
    stack.transactions.sendRequest(request, peerEndpoint(peer), {
      onFinal: () => assert.fail('no response was sent'),
      onTimeout: (kind) => {
        timeouts.push(kind);
        timedOutAt = performance.now();
      },
    });
    for (let i = 0; i < 400 && timeouts.length === 0; i++) await sleep(10);
    const sends = peer.received.filter((r) => r.message?.callId === 'timer-f').map((r) => r.at);
    await sleep(4 * T2);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'timer-f').length, sends.length, 'nothing after Timer F');
    assert.deepEqual(timeouts, ['timeout']);
    assert.ok(timedOutAt - start >= 64 * T1 - 5, `Timer F fired at ${timedOutAt - start} ms, before 64*T1`);
    // Timers never fire early: transmission k is sent no sooner than the sum of the nominal
    // intervals 40, 80, 160, 160 (T2) ... after the first. Late, under load, is allowed.
    let due = 0;
    sends.forEach((at, k) => {
      if (k > 0) due += Math.min(T1 * 2 ** (k - 1), T2);
      assert.ok(at - start >= due - 2, `transmission ${k} at ${(at - start).toFixed(1)} ms, due no sooner than ${due}`);
    });
    // Ideal count is 18 transmissions in 64*T1; a loaded machine may manage fewer, never more.
    assert.ok(sends.length <= 18 && sends.length >= 6, `${sends.length} transmissions`);
  });

  it('non-INVITE: a final response stops retransmissions and is reported once', async () => {
    const request = outgoing(stack, peer, 'OPTIONS', 'final-1');
    const finals: number[] = [];
    stack.transactions.sendRequest(request, peerEndpoint(peer), { onFinal: (r) => finals.push(r.status) });
    const [, second] = await peer.waitFor((r) => r.message?.callId === 'final-1', 2);
    const reply = responseText(second?.message ?? request, 200, 'OK');
    await peer.send(reply, stack.ports().udp ?? 0);
    await peer.send(reply, stack.ports().udp ?? 0);
    await sleep(50);
    const count = peer.received.filter((r) => r.message?.callId === 'final-1').length;
    await sleep(4 * T2);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'final-1').length, count);
    assert.deepEqual(finals, [200]);
  });

  it('INVITE: Timer A stops on 1xx; a 486 is ACKed by the transaction, again for its retransmission', async () => {
    const request = outgoing(stack, peer, 'INVITE', 'invite-486');
    const provisional: number[] = [];
    const finals: number[] = [];
    const start = performance.now();
    stack.transactions.sendRequest(request, peerEndpoint(peer), { onProvisional: (r) => provisional.push(r.status), onFinal: (r) => finals.push(r.status) });
    const invites = await peer.waitFor((r) => r.message?.callId === 'invite-486' && isRequest('INVITE')(r), 3);
    // Timer A: retransmissions due at T1 and 3*T1 after the INVITE, never sooner.
    assert.ok((invites[1]?.at ?? 0) - start >= T1 - 2 && (invites[2]?.at ?? 0) - start >= 3 * T1 - 2, 'Timer A fired early');
    const port = stack.ports().udp ?? 0;
    await peer.send(responseText(request, 180, 'Ringing'), port);
    await sleep(20);
    const sent = peer.received.filter((r) => r.message?.callId === 'invite-486' && isRequest('INVITE')(r)).length;
    await sleep(8 * T1);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'invite-486' && isRequest('INVITE')(r)).length, sent, 'no INVITE after the 180');
    await peer.send(responseText(request, 486, 'Busy Here', 'busy-tag'), port);
    const [ack] = await peer.waitFor((r) => r.message?.callId === 'invite-486' && isRequest('ACK')(r));
    const ackRequest = ack?.message as SipRequest;
    assert.equal(branchOf(ackRequest.via[0]), branchOf(request.via[0]), '§17.1.1.3: the ACK has the INVITE branch');
    assert.equal(tagOf(ackRequest.to), 'busy-tag');
    assert.equal(ackRequest.cseq.seq, request.cseq.seq);
    assert.equal(ackRequest.cseq.method, 'ACK');
    await peer.send(responseText(request, 486, 'Busy Here', 'busy-tag'), port);
    await peer.waitFor((r) => r.message?.callId === 'invite-486' && isRequest('ACK')(r), 2);
    assert.deepEqual(provisional, [180]);
    assert.deepEqual(finals, [486]);
  });

  it('INVITE: 2xx goes to onFinal, later 2xx to onAdditional2xx, and the layer sends no ACK', async () => {
    const request = outgoing(stack, peer, 'INVITE', 'invite-200');
    const finals: number[] = [];
    const additional: string[] = [];
    stack.transactions.sendRequest(request, peerEndpoint(peer), {
      onFinal: (r) => finals.push(r.status),
      onAdditional2xx: (r) => additional.push(tagOf(r.to) ?? ''),
    });
    await peer.waitFor((r) => r.message?.callId === 'invite-200');
    const port = stack.ports().udp ?? 0;
    await peer.send(responseText(request, 200, 'OK', 'fork-a'), port);
    await peer.send(responseText(request, 200, 'OK', 'fork-b'), port);
    for (let i = 0; i < 50 && additional.length === 0; i++) await sleep(10);
    assert.deepEqual(finals, [200]);
    assert.deepEqual(additional, ['fork-b']);
    await sleep(3 * T1);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'invite-200' && isRequest('ACK')(r)).length, 0);
  });

  it('INVITE: cancel() waits for a provisional, then sends CANCEL with the INVITE branch', async () => {
    const request = outgoing(stack, peer, 'INVITE', 'invite-cancel');
    const finals: number[] = [];
    const transaction = stack.transactions.sendRequest(request, peerEndpoint(peer), { onFinal: (r) => finals.push(r.status) });
    transaction.cancel();
    await peer.waitFor((r) => r.message?.callId === 'invite-cancel');
    await sleep(2 * T1);
    assert.equal(peer.received.filter((r) => r.message?.callId === 'invite-cancel' && isRequest('CANCEL')(r)).length, 0, '§9.1: no CANCEL before a provisional');
    const port = stack.ports().udp ?? 0;
    await peer.send(responseText(request, 180, 'Ringing'), port);
    const [cancel] = await peer.waitFor((r) => r.message?.callId === 'invite-cancel' && isRequest('CANCEL')(r));
    assert.equal(branchOf((cancel?.message as SipRequest).via[0]), branchOf(request.via[0]));
    await peer.send(responseText(cancel?.message ?? request, 200, 'OK'), port);
    await peer.send(responseText(request, 487, 'Request Terminated'), port);
    await peer.waitFor((r) => r.message?.callId === 'invite-cancel' && isRequest('ACK')(r));
    assert.deepEqual(finals, [487]);
  });

  it('INVITE: Timer B reports a timeout when nothing answers', async () => {
    const request = outgoing(stack, peer, 'INVITE', 'timer-b');
    const timeouts: string[] = [];
    stack.transactions.sendRequest(request, peerEndpoint(peer), { onFinal: () => assert.fail('no answer was sent'), onTimeout: (k) => timeouts.push(k) });
    for (let i = 0; i < 400 && timeouts.length === 0; i++) await sleep(10);
    assert.deepEqual(timeouts, ['timeout']);
    // Timer A doubles without a cap: 0, 40, 120, 280, 600, 1240 (, 2520) ms.
    const count = peer.received.filter((r) => r.message?.callId === 'timer-b').length;
    assert.ok(count >= 4 && count <= 7, `${count} INVITE transmissions`);
  });
});

describe('overload (503 + Retry-After, stateless)', () => {
  it('sheds a new REGISTER while the event loop lags, and serves it again once the lag has passed', async () => {
    const stack = await createSipStack(options({ overload: { maxEventLoopLagMs: 40, sampleIntervalMs: 20 } }));
    const peer = await UdpPeer.open();
    try {
      stack.transactions.onRequest((t) => t.respond(200));
      const port = stack.ports().udp ?? 0;
      // A stalled event loop, as a CPU-bound burst would cause. The requests are sent only once the
      // sampler has seen the stall (a timer due after the sampler's runs after it), so the test
      // does not depend on whether the datagrams are read before or after the next sample.
      const until = performance.now() + 600;
      while (performance.now() < until) {
        // busy
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.ok(stack.stats().lagMs >= 40, `lag ${stack.stats().lagMs} ms after a 600 ms stall`);
      await peer.send(requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'lag-1' }), port);
      await peer.send(requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'lag-2' }), port);
      const [shed] = await peer.waitFor((r) => r.message?.callId === 'lag-1');
      assert.equal((shed?.message as SipResponse).status, 503);
      const [options2] = await peer.waitFor((r) => r.message?.callId === 'lag-2');
      assert.equal((options2?.message as SipResponse).status, 200, 'OPTIONS is never shed');
      // The smoothed lag decays by a fifth per sample; wait for it (bounded) rather than a fixed time.
      for (let i = 0; i < 250 && stack.stats().lagMs >= 40; i++) await sleep(20);
      await peer.send(requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'lag-3' }), port);
      const [served] = await peer.waitFor((r) => r.message?.callId === 'lag-3');
      assert.equal((served?.message as SipResponse).status, 200);
    } finally {
      await stack.close();
      await peer.close();
    }
  });

  it('sheds new INVITEs past the pending limit while OPTIONS and retransmissions are still served', async () => {
    const stack = await createSipStack(options({ overload: { maxPendingTransactions: 1, retryAfterSeconds: 7 } }));
    const peer = await UdpPeer.open();
    try {
      const held: ServerTransaction[] = [];
      stack.transactions.onRequest((t) => {
        if (t.request.method === 'INVITE') held.push(t);
        else t.respond(200);
      });
      const port = stack.ports().udp ?? 0;
      const first = requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'ovl-1' });
      await peer.send(first, port);
      await peer.waitFor((r) => r.message?.callId === 'ovl-1' && isResponse(100)(r));
      await peer.send(requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'ovl-2' }), port);
      const [shed] = await peer.waitFor((r) => r.message?.callId === 'ovl-2' && isResponse(503)(r));
      assert.equal(getHeader(shed?.message as SipResponse, 'Retry-After'), '7');
      await peer.send(requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'ovl-3' }), port);
      await peer.waitFor((r) => r.message?.callId === 'ovl-3' && isResponse(200)(r));
      await peer.send(first, port); // a retransmission is absorbed by its transaction, never shed
      await peer.waitFor((r) => r.message?.callId === 'ovl-1' && isResponse(100)(r), 2);
      assert.equal(peer.received.filter((r) => r.message?.callId === 'ovl-1' && isResponse(503)(r)).length, 0);
      assert.equal(held.length, 1);
      held[0]?.respond(486);
      await peer.waitFor((r) => r.message?.callId === 'ovl-1' && isResponse(486)(r));
      assert.equal(stack.stats().shed, 1);
    } finally {
      await stack.close();
      await peer.close();
    }
  });
});
