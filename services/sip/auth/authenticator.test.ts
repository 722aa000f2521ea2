/**
 * Digest done strictly (issue 15 item 3; RFC 7616 §3.4, RFC 3261 §22.4) over the real stack and a
 * real SQLite store: the digest uri must be the Request-URI, qop=auth is required, a forged or
 * foreign nonce (or an opaque issued to another address) is refused before any store access or
 * hashing, and the challenges a phone is offered (MD5 by default, SHA-256 to a SHA-256 phone).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { openStore, type Store } from '../../store/index.js';
import { getHeaders, type SipResponse } from '../message.js';
import { admissionOf, createAccessPolicy, createRegistrationService, type RegistrationService } from '../registrar/index.js';
import { createSipStack, type SipStack } from '../stack.js';
import type { CredentialStore, SipStores } from '../stores.js';
import { NonceManager } from './nonce.js';
import { authorize, registerText, UdpPeer } from '../../../hw-tests/support/sip-peer.js';
import { REALM } from '../../../hw-tests/support/registrar-env.js';
import type { DigestAlgorithm } from './digest.js';

const PW = 's3cret-101';

interface Wired {
  store: Store;
  stack: SipStack;
  service: RegistrationService;
  port: number;
  /** Credential reads by the authenticator (the store access a forged nonce must not cost). */
  reads: () => number;
  close(): Promise<void>;
}

/** Stack + registration service over a real store whose credential reads are counted. */
async function wire(digestAlgorithms?: readonly DigestAlgorithm[]): Promise<Wired> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authenticator-'));
  const store = openStore(dir);
  store.extensions.add({ number: '101', displayName: 'Ana', secret: PW });
  let reads = 0;
  const extensions: CredentialStore = {
    get: (user) => {
      reads++;
      return store.extensions.get(user);
    },
    version: () => store.extensions.version(),
  };
  const stores: SipStores = {
    extensions,
    registrations: store.registrations,
    transaction: (fn) => store.transaction(fn),
    authBlocks: store.authBlocks,
    knownDevices: store.knownDevices,
  };
  const logger = silentLogger();
  const access = createAccessPolicy({ store: stores, auth: { maxFailures: 5, windowSeconds: 60, blockSeconds: 600 }, logger });
  const stack = await createSipStack({
    admit: admissionOf(access),
    bind: '127.0.0.1',
    udpPort: 0,
    logger,
    validate: { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
  });
  const service = createRegistrationService({
    store: stores,
    realm: REALM,
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 600 },
    access,
    transactions: stack.transactions,
    localEndpoint: (t) => stack.localEndpoint(t),
    keepalive: false,
    ...(digestAlgorithms !== undefined && { digestAlgorithms }),
    logger,
  });
  stack.transactions.onRequest((txn) => {
    if (txn.request.method === 'REGISTER') service.registrar.handleRegister(txn);
    else if (service.authenticator.authenticate(txn, 'proxy').ok) txn.respond(200);
  });
  return {
    store,
    stack,
    service,
    port: stack.ports().udp ?? 0,
    reads: () => reads,
    async close() {
      service.close();
      await stack.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function challengeOf(phone: UdpPeer, w: Wired, extra: string[] = []): Promise<SipResponse> {
  const first = registerText(phone, w.port, { user: '101', contacts: [`<sip:101@${phone.address}:${phone.port}>`], extra });
  phone.send(first.text, w.port);
  const challenge = await phone.response(first.cseq);
  assert.equal(challenge?.message.status, 401);
  return challenge!.message;
}

async function answer(phone: UdpPeer, w: Wired, authorization: string): Promise<SipResponse | undefined> {
  const m = registerText(phone, w.port, { user: '101', contacts: [`<sip:101@${phone.address}:${phone.port}>`], authorization });
  phone.send(m.text, w.port);
  return (await phone.response(m.cseq))?.message;
}

test('the digest uri must be the Request-URI: a right answer for another URI is refused, not counted', async () => {
  const w = await wire();
  const phone = await UdpPeer.open();
  try {
    const challenge = await challengeOf(phone, w);
    // Same password, same nonce; only the uri names another target (an INVITE moved to a premium number).
    const moved = await answer(phone, w, authorize(challenge, 'REGISTER', w.port, '101', { password: PW, uri: 'sip:900@127.0.0.1' }));
    assert.equal(moved?.status, 401);
    assert.equal(w.service.registrar.lookup('101').length, 0);
    assert.equal(w.service.access.failuresOf('127.0.0.1', '101'), 0);
    // The Request-URI itself (with the same nonce, the next nc) is accepted.
    const same = await answer(phone, w, authorize(challenge, 'REGISTER', w.port, '101', { password: PW, uri: `sip:127.0.0.1:${w.port}`, nc: 2 }));
    assert.equal(same?.status, 200);
  } finally {
    phone.close();
    await w.close();
  }
});

test('qop=auth is required when offered: an RFC 2069 answer (no qop) with the right password is refused', async () => {
  const w = await wire();
  const phone = await UdpPeer.open();
  try {
    const challenge = await challengeOf(phone, w);
    assert.match(getHeaders(challenge, 'WWW-Authenticate')[0] ?? '', /qop="auth"/);
    const downgraded = await answer(phone, w, authorize(challenge, 'REGISTER', w.port, '101', { password: PW, qop: null }));
    assert.equal(downgraded?.status, 401);
    assert.equal(w.service.registrar.lookup('101').length, 0);
    const proper = await answer(phone, w, authorize(challenge, 'REGISTER', w.port, '101', { password: PW }));
    assert.equal(proper?.status, 200);
  } finally {
    phone.close();
    await w.close();
  }
});

test('a forged or foreign nonce, or an opaque issued to another address, is refused before any store access or hashing', async () => {
  const w = await wire();
  const phone = await UdpPeer.open();
  const elsewhere = await UdpPeer.open('127.0.0.9');
  try {
    const challenge = await challengeOf(phone, w);
    const readsBefore = w.reads();
    const replaceNonce = (authorization: string, nonce: string): string => authorization.replace(/nonce="[^"]*"/, `nonce="${nonce}"`);
    const good = authorize(challenge, 'REGISTER', w.port, '101', { password: PW });
    // Random bytes in the right shape, and a real nonce of another box (another key).
    const forged = randomBytes(22).toString('base64url');
    const foreign = new NonceManager().issue();
    for (const nonce of [forged, foreign, 'x', '']) {
      const refused = await answer(phone, w, replaceNonce(good, nonce));
      assert.equal(refused?.status, 401, `nonce ${JSON.stringify(nonce)}`);
      // A phone answering with a nonce from before our reboot just gets a new one: stale=true.
      if (nonce !== '') assert.match(getHeaders(refused!, 'WWW-Authenticate')[0] ?? '', /stale=true/);
    }
    // Our own nonce, but obtained at 127.0.0.1 and sent from 127.0.0.9 (a forged source would do the same).
    const moved = authorize(challenge, 'REGISTER', w.port, '101', { password: PW, nc: 2 });
    const m = registerText(elsewhere, w.port, { user: '101', contacts: [`<sip:101@127.0.0.9:${elsewhere.port}>`], authorization: moved });
    elsewhere.send(m.text, w.port);
    assert.equal((await elsewhere.response(m.cseq))?.message.status, 401);
    assert.equal(w.reads(), readsBefore, 'no credential was read for any of them');
    assert.equal(w.service.access.failuresOf('127.0.0.1'), 0);
    assert.equal(w.service.access.failuresOf('127.0.0.9'), 0);
    assert.equal(w.service.registrar.lookup('101').length, 0);
    // The genuine answer still works.
    assert.equal((await answer(phone, w, good))?.status, 200);
    assert.equal(w.reads(), readsBefore + 1);
  } finally {
    phone.close();
    elsewhere.close();
    await w.close();
  }
});

test('challenges: MD5 alone by default; SHA-256 alone to a request already using SHA-256; a configured list in order', async () => {
  const w = await wire();
  const phone = await UdpPeer.open();
  try {
    const challenge = await challengeOf(phone, w);
    const offered = getHeaders(challenge, 'WWW-Authenticate');
    assert.equal(offered.length, 1);
    assert.match(offered[0] ?? '', /algorithm=MD5/);
    // A SHA-256 phone refreshing with a nonce we no longer know (e.g. after a reboot).
    const old = `Digest username="101", realm="${REALM}", nonce="${randomBytes(22).toString('base64url')}", uri="sip:127.0.0.1:${w.port}", response="${'0'.repeat(64)}", algorithm=SHA-256, opaque="x", qop=auth, nc=00000001, cnonce="abc"`;
    const sha = await answer(phone, w, old);
    assert.equal(sha?.status, 401);
    const shaOffered = getHeaders(sha!, 'WWW-Authenticate');
    assert.equal(shaOffered.length, 1);
    assert.match(shaOffered[0] ?? '', /algorithm=SHA-256/);
    assert.equal((await answer(phone, w, authorize(sha!, 'REGISTER', w.port, '101', { password: PW, algorithm: 'SHA-256' })))?.status, 200);
  } finally {
    phone.close();
    await w.close();
  }
  const both = await wire(['SHA-256', 'MD5']);
  const phone2 = await UdpPeer.open();
  try {
    const challenge = await challengeOf(phone2, both);
    const offered = getHeaders(challenge, 'WWW-Authenticate');
    assert.deepEqual(offered.map((h) => /algorithm=([A-Z0-9-]+)/.exec(h)?.[1]), ['SHA-256', 'MD5']);
    assert.equal((await answer(phone2, both, authorize(challenge, 'REGISTER', both.port, '101', { password: PW, algorithm: 'MD5' })))?.status, 200);
  } finally {
    phone2.close();
    await both.close();
  }
});
