import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../log.js';
import { parseMessage } from '../../sip/parser.js';
import type { SipRequest } from '../../sip/message.js';
import { openStore } from '../../store/index.js';
import { createDestinationRouter, extensionRouter } from './destination-router.js';

function invite(): SipRequest {
  const text = ['INVITE sip:+12125550101@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.3:5060;branch=z9hG4bK1', 'From: <sip:+13125550100@127.0.0.3>;tag=a', 'To: <sip:+12125550101@127.0.0.1>', 'Call-ID: c1', 'CSeq: 1 INVITE', 'Contact: <sip:c@127.0.0.3>', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
  const parsed = parseMessage(Buffer.from(text));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad fixture');
  return parsed.message;
}

test('extension destinations ring the registered contacts; unknown or unregistered fail clearly; kinds without a router give 480 and a warning', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dest-router-'));
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: 'ana-secret-101' });
  store.extensions.add({ number: '102', displayName: 'Bo', secret: 'bo-secret-102' });
  const contact = { uri: { kind: 'sip' as const, secure: false, user: '101', password: null, host: '127.0.0.1', port: 5070, params: new Map(), headers: new Map() }, destination: { transport: 'UDP' as const, address: '127.0.0.1', port: 5070, connectionId: null } };
  const logger = createLogger('test', 'warn');
  const warnings: string[] = [];
  const spy = Object.assign(Object.create(logger) as typeof logger, { warn: (obj: object, msg: string) => warnings.push(`${msg} ${JSON.stringify(obj)}`) });
  const router = createDestinationRouter({ extension: extensionRouter({ extensions: store.extensions, contactsOf: (ext) => (ext === '101' ? [contact] : []) }) }, spy);
  const contactsOf = (ext: string) => (ext === '101' ? [contact] : []);
  const context = { request: invite(), caller: { extension: '+13125550100', displayName: '', trunk: 'carrier' }, calledNumber: '+12125550101', contactsOf };
  const ring = router.route({ kind: 'extension', number: '101' }, context);
  assert.equal(ring.kind, 'ring');
  assert.ok(ring.kind === 'ring' && ring.target === '101' && ring.displayName === 'Ana' && ring.contacts.length === 1 && ring.trunk === undefined);
  assert.deepEqual(router.route({ kind: 'extension', number: '102' }, context), { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' });
  assert.deepEqual(router.route({ kind: 'extension', number: '109' }, context), { kind: 'reject', status: 404, reason: 'Not Found' });
  assert.deepEqual(router.route({ kind: 'ring-group', name: 'sales' }, context), { kind: 'reject', status: 480, reason: 'Destination Not Available' });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /no router for this kind of destination yet .*ring-group:sales.*\+12125550101/);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
