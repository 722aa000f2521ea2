/**
 * The memory of completed transactions is bounded by design (issue 21 item 1): compact records
 * (response bytes under a flat key) within a byte budget, oldest dropped first, and gone once
 * Timer J has run. The layer is fed parsed requests as the transport would and records what it
 * sends; cheap enough for the default suite (3,000 requests, well under a second).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../log.js';
import type { SipRequest } from '../message.js';
import { parseMessage } from '../parser.js';
import { requestText, sleep } from '../../../hw-tests/support/sip-peer.js';
import { SipTransactionLayer, flatCopy } from './layer.js';

function parse(text: string): SipRequest {
  const parsed = parseMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.message.kind === 'request');
  return parsed.message as SipRequest;
}

const T1 = 40;

describe('completed transactions within a byte budget', () => {
  it('keeps at most the budget, the newest records answer retransmissions, and Timer J empties it', async () => {
    const budget = 64 * 1024;
    const sent: Array<{ data: Buffer }> = [];
    const layer = new SipTransactionLayer({
      transport: { send: (data) => void sent.push({ data }) },
      logger: silentLogger(),
      timers: { T1 },
      lingeringBudgetBytes: budget,
    });
    try {
      layer.onRequest((t) => t.respond(200));
      const source = { transport: 'UDP' as const, address: '127.0.0.1', port: 5099, connectionId: null };
      const texts: string[] = [];
      for (let i = 0; i < 3000; i++) {
        const text = requestText({ method: 'REGISTER', to: 5060, viaPort: 5099, callId: `bound-${i}`, branch: `z9hG4bK-bound-${i}` });
        texts.push(text);
        layer.receive(parse(text), source);
        assert.ok(layer.counts().completedBytes <= budget, `over budget at ${i}: ${layer.counts().completedBytes}`);
      }
      const counts = layer.counts();
      assert.equal(sent.length, 3000);
      assert.ok(counts.completed > 10 && counts.completed < 3000, `${counts.completed} records kept`);
      // The newest record still answers a retransmission with the same bytes; the oldest is gone
      // (its retransmission would be served as a new request, as by a stateless server).
      const newest = parse(texts[2999] ?? '');
      assert.equal(layer.hasServerTransaction(newest), true);
      layer.receive(newest, source);
      assert.equal(sent.length, 3001);
      assert.deepEqual(sent[3000]?.data, sent[2999]?.data);
      assert.equal(layer.hasServerTransaction(parse(texts[0] ?? '')), false);
      // Timer J (64*T1) and one sweep later, nothing is left.
      await sleep(64 * T1 + 4 * Math.max(20, 2 * T1) + 100);
      assert.equal(layer.counts().completed, 0);
      assert.equal(layer.counts().completedBytes, 0);
    } finally {
      layer.close();
    }
  });

  it('a flat copy equals its source and is a distinct string', () => {
    const message = 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-' + 'x'.repeat(2000);
    const slice = message.slice(5, 60);
    const copy = flatCopy(`b|${slice}|10.0.0.1:|REGISTER`);
    assert.equal(copy, `b|${slice}|10.0.0.1:|REGISTER`);
  });
});
