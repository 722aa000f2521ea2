/**
 * Transactions always end (issue 15 item 4): a request handler that throws gets its request
 * answered 500 and its transaction freed; one that never answers is answered 500 by the layer's
 * watchdog. Overload control reads only live load, so thousands of such failures leave the box
 * serving. Real UDP sockets on loopback; a short T1 makes the watchdog's limits short.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { silentLogger } from '../../log.js';
import { createSipStack, type SipStack, type SipStackOptions } from '../stack.js';
import { requestText, sleep } from '../../../hw-tests/support/sip-peer.js';
import type { ServerTransaction } from '../types.js';
import { watchdogLimits, resolveTimers } from './timers.js';

const T1 = 40;

function options(extra: Partial<SipStackOptions> = {}): SipStackOptions {
  return {
    bind: '127.0.0.1',
    udpPort: 0,
    logger: silentLogger(),
    timers: { T1, T2: 160, T4: 200, D: 300, trying100: 100 },
    validate: { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
    ...extra,
  };
}

/** A UDP socket that records the statuses each Call-ID received (each status once per Call-ID). */
async function openCounter(): Promise<{ socket: dgram.Socket; port: number; statuses: Map<string, number>; byCall: Map<string, number[]>; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const statuses = new Map<string, number>();
  const byCall = new Map<string, number[]>();
  socket.on('message', (raw) => {
    const text = raw.toString('latin1');
    const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
    const callId = /\r\nCall-ID: ([^\r]+)/i.exec(text)?.[1];
    if (status === undefined || callId === undefined) return;
    if (!(byCall.get(callId) ?? []).includes(Number(status))) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const list = byCall.get(callId) ?? [];
    if (!list.includes(Number(status))) list.push(Number(status)); // retransmissions (Timer G) once
    byCall.set(callId, list);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    socket,
    port: socket.address().port,
    statuses,
    byCall,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function send(socket: dgram.Socket, text: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(text, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

describe('transactions always end', () => {
  it('5,000 throwing handlers: each request gets 500, every transaction is freed, and the box still serves REGISTER and INVITE', async () => {
    // A pending limit far below 5,000: a leak of even a few hundred would trip it for good. The
    // loop signals are off here: this process is both the box and its 5,000-request client.
    const stack: SipStack = await createSipStack(options({ overload: { maxPendingTransactions: 200, maxEventLoopUtilization: 2, maxEventLoopLagMs: 60_000 } }));
    const peer = await openCounter();
    try {
      stack.transactions.onRequest((t: ServerTransaction) => {
        if (t.request.callId.startsWith('throw-')) throw new Error('handler bug');
        t.respond(t.request.method === 'INVITE' ? 486 : 200);
      });
      const port = stack.ports().udp ?? 0;
      const total = 5000;
      const batch = 100;
      const text = (i: number): string =>
        requestText({ method: i % 2 === 0 ? 'REGISTER' : 'INVITE', to: port, viaPort: peer.port, callId: `throw-${i}`, branch: `z9hG4bK-w${i}` });
      // As a UAC does: the 500 to an INVITE is ACKed (§17.1.1.3), which ends its Timer G retransmissions.
      peer.socket.on('message', (raw) => {
        const reply = raw.toString('latin1');
        const m = /^SIP\/2\.0 500[\s\S]*\r\nCall-ID: throw-(\d+)[\s\S]*?/.exec(reply);
        const toTag = /\r\nTo: [^\r]*;tag=([^;\r]+)/i.exec(reply)?.[1];
        if (m?.[1] === undefined || !/CSeq: \d+ INVITE/.test(reply) || toTag === undefined) return;
        const i = Number(m[1]);
        void send(peer.socket, requestText({ method: 'ACK', to: port, viaPort: peer.port, callId: `throw-${i}`, branch: `z9hG4bK-w${i}`, toTag }), port);
      });
      for (let first = 0; first < total; first += batch) {
        // Bounded: each batch is sent, then what is unanswered is sent again (Timer E's job) at
        // most 5 times, before the next batch.
        for (let round = 0; round < 6; round++) {
          const missing: number[] = [];
          for (let i = first; i < first + batch; i++) if (!(peer.byCall.get(`throw-${i}`) ?? []).includes(500)) missing.push(i);
          if (missing.length === 0) break;
          for (const i of missing) await send(peer.socket, text(i), port);
          const goal = first + batch;
          await until(() => (peer.statuses.get('500') ?? 0) >= goal, 1_000, 'batch').catch(() => undefined);
        }
      }
      const answered = [...peer.byCall.entries()].filter(([id, list]) => id.startsWith('throw-') && list.includes(500)).length;
      assert.equal(answered, total, `${answered} of ${total} throwing requests answered 500`);
      // Every transaction is freed: nothing unanswered is left for overload control to count.
      await until(() => stack.stats().unanswered === 0, 5_000, 'unanswered back to 0');
      assert.equal(stack.stats().unanswered, 0);
      assert.equal(stack.stats().shed, 0, 'nothing was shed: the failures were never counted as load');
      // Still serving: a new REGISTER and a new INVITE are answered by the handler, not shed.
      await send(peer.socket, requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'after-reg' }), port);
      await send(peer.socket, requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'after-inv' }), port);
      await until(() => peer.byCall.get('after-reg')?.includes(200) === true && peer.byCall.get('after-inv')?.includes(486) === true, 5_000, 'served after');
      // INVITE transactions answered 500 end once ACKed (Timer I), the others at once.
      await until(() => stack.stats().serverTransactions === 0, 64 * T1 + 3_000, `server transactions end: ${JSON.stringify(stack.stats())}`);
    } finally {
      await stack.close();
      await peer.close();
    }
  });

  it('a handler that never answers: the watchdog answers 500 (non-INVITE at 32*T1, INVITE at 64*T1) and frees the transaction', async () => {
    const stack = await createSipStack(options({ overload: { maxPendingTransactions: 3 } }));
    const peer = await openCounter();
    const limits = watchdogLimits(resolveTimers({ T1 }));
    try {
      const started = new Map<string, number>();
      stack.transactions.onRequest((t) => {
        started.set(t.request.callId, performance.now());
        if (t.request.callId.startsWith('mute-')) return; // never answers
        t.respond(200);
      });
      const port = stack.ports().udp ?? 0;
      for (const [method, id] of [['OPTIONS', 'mute-options'], ['REGISTER', 'mute-register'], ['INVITE', 'mute-invite']] as const) {
        await send(peer.socket, requestText({ method, to: port, viaPort: peer.port, callId: id }), port);
      }
      await until(() => stack.stats().unanswered === 3, 2_000, 'three unanswered');
      // The pending limit (3) is reached by mute handlers: a new REGISTER is shed meanwhile.
      await send(peer.socket, requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'while-stuck' }), port);
      await until(() => peer.byCall.get('while-stuck')?.includes(503) === true, 2_000, '503 while stuck');
      await until(() => ['mute-options', 'mute-register'].every((id) => peer.byCall.get(id)?.includes(500)), limits.nonInviteMs + 2_000, 'non-INVITE 500');
      const inviteStatuses = peer.byCall.get('mute-invite') ?? [];
      assert.ok(!inviteStatuses.includes(500), 'the INVITE is not answered at the non-INVITE limit');
      assert.ok(inviteStatuses.includes(100), 'the INVITE got its 100 Trying');
      await until(() => peer.byCall.get('mute-invite')?.includes(500) === true, limits.inviteNoAnswerMs + 2_000, 'INVITE 500');
      const now = performance.now();
      assert.ok(now - (started.get('mute-invite') ?? now) >= limits.inviteNoAnswerMs, 'never early');
      // Freed: nothing unanswered, and the load signal lets go at once.
      assert.equal(stack.stats().unanswered, 0);
      assert.ok(stack.stats().watchdog >= 3);
      await send(peer.socket, requestText({ method: 'REGISTER', to: port, viaPort: peer.port, callId: 'after-stuck' }), port);
      await until(() => peer.byCall.get('after-stuck')?.includes(200) === true, 2_000, 'served after');
    } finally {
      await stack.close();
      await peer.close();
    }
  });

  it('an INVITE the TU rings keeps ringing past the no-answer limit (the 3-minute Timer C counts from its last provisional)', async () => {
    const stack = await createSipStack(options());
    const peer = await openCounter();
    const limits = watchdogLimits(resolveTimers({ T1 }));
    try {
      let held: ServerTransaction | undefined;
      stack.transactions.onRequest((t) => {
        held = t;
        t.respond(180, { toTag: 'ring' });
      });
      const port = stack.ports().udp ?? 0;
      await send(peer.socket, requestText({ method: 'INVITE', to: port, viaPort: peer.port, callId: 'ringing' }), port);
      await until(() => peer.byCall.get('ringing')?.includes(180) === true, 2_000, '180');
      await sleep(limits.inviteNoAnswerMs + 4 * limits.sweepMs);
      assert.ok(!(peer.byCall.get('ringing') ?? []).includes(500), 'not cut while ringing');
      held?.respond(200, { toTag: 'ring' });
      await until(() => peer.byCall.get('ringing')?.includes(200) === true, 2_000, '200');
    } finally {
      await stack.close();
      await peer.close();
    }
  });
});
