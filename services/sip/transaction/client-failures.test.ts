/**
 * A request toward a phone that went away: the timeout is counted (pbxctl status shows it) and
 * logged at debug only, so a dead phone cannot bury the log at info (issue 21 item 4).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseMessage } from '../parser.js';
import { createSipStack } from '../stack.js';
import type { SipRequest } from '../message.js';
import { requestText, UdpPeer } from '../../../hw-tests/support/sip-peer.js';
import { clientFailures } from './client-base.js';

test('a timed-out client transaction is counted, and logged below info', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const stack = await createSipStack({
    bind: '127.0.0.1',
    udpPort: 0,
    logger: pino({ level: 'info' }, sink),
    timers: { T1: 10, T2: 40, T4: 50, D: 50, trying100: 100 },
    validate: { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
  });
  // A phone that says nothing: its socket is open, it never answers.
  const silent = await UdpPeer.open();
  try {
    const local = stack.localEndpoint('UDP');
    const before = clientFailures.timeouts;
    const done: Array<Promise<string>> = [];
    for (let i = 0; i < 3; i++) {
      const parsed = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: silent.port, viaHost: local.address, viaPort: local.port, callId: `gone-${i}`, branch: `z9hG4bKgone${i}` })));
      assert.ok(parsed.ok);
      done.push(
        new Promise<string>((resolve) => {
          stack.transactions.sendRequest(parsed.message as SipRequest, { transport: 'UDP', address: '127.0.0.1', port: silent.port, connectionId: null }, {
            onFinal: () => resolve('answered'),
            onTimeout: (kind) => resolve(kind),
          });
        }),
      );
    }
    assert.deepEqual(await Promise.all(done), ['timeout', 'timeout', 'timeout']);
    assert.equal(clientFailures.timeouts - before, 3);
    assert.ok(!lines.some((l) => l.includes('transaction-timeout')), 'nothing at info or above about it');
  } finally {
    await silent.close();
    await stack.close();
  }
});
