/**
 * The SIP service as wired for the pbx process: a source that failed authentication too often is
 * dropped before any transaction exists (no answer, no memory), while another source is served.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { passthroughMedia } from '../sip/b2bua/passthrough-media.js';
import { authorize, registerText, UdpPeer } from '../../hw-tests/support/sip-peer.js';
import { openStore } from '../store/index.js';
import { startSipService } from './sip-service.js';

test('a blocked source gets no answer and creates no transaction; others are still served', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-service-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auth: { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 } }));
  const config = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  const store = openStore(dir);
  store.extensions.add({ number: '501', displayName: 'Target', secret: 'right-secret-501' });
  const sip = await startSipService({ config, store, logger: silentLogger(), media: passthroughMedia, keepaliveSeconds: false });
  const port = sip.ports().udp ?? 0;
  const attacker = await UdpPeer.open('127.0.0.7');
  const colleague = await UdpPeer.open('127.0.0.8');
  try {
    const contact = (phone: UdpPeer): string => `<sip:501@${phone.address}:${phone.port}>`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const first = registerText(attacker, port, { user: '501', contacts: [contact(attacker)], expires: 60 });
      attacker.send(first.text, port);
      const challenge = await attacker.response(first.cseq);
      assert.equal(challenge?.message.status, 401, 'challenged before the block');
      const authorization = authorize(challenge!.message, 'REGISTER', port, '501', { password: 'wrong-guess', algorithm: 'MD5' });
      const second = registerText(attacker, port, { user: '501', contacts: [contact(attacker)], expires: 60, authorization });
      attacker.send(second.text, port);
      assert.equal((await attacker.response(second.cseq))?.message.status, 401, 'a wrong password is challenged again');
    }
    assert.equal(sip.registration.access.admit('127.0.0.7', '501'), false);
    assert.equal(sip.registration.access.admit('127.0.0.7', '502'), true, 'only the guessed extension is blocked');

    const before = sip.stack.stats().serverTransactions;
    const sent: number[] = [];
    for (let i = 0; i < 50; i++) {
      const flood = registerText(attacker, port, { user: '501', contacts: [contact(attacker)], expires: 60 });
      attacker.send(flood.text, port);
      sent.push(flood.cseq);
    }
    assert.equal(await attacker.response(sent[sent.length - 1]!, 1000), null, 'nothing is sent back to a blocked source');
    assert.equal(sip.stack.stats().serverTransactions, before, 'no transaction was created for the flood');

    const served = registerText(colleague, port, { user: '501', contacts: [contact(colleague)], expires: 60 });
    colleague.send(served.text, port);
    assert.equal((await colleague.response(served.cseq))?.message.status, 401, 'another source is still answered');
  } finally {
    attacker.close();
    colleague.close();
    await sip.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
