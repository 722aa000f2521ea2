/**
 * Registrar + authenticator + access policy over the real stack (UDP on loopback) and a real SQLite store
 * in a temp dir. The phone is raw SIP text on a UDP socket (hw-tests/support/sip-peer.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXTERNAL_CHECK_MS } from '../../store/extensions.js';
import { openStore } from '../../store/index.js';
import { getHeader, getHeaders, type SipResponse } from '../message.js';
import { formatNameAddr } from '../uri.js';
import type { Binding } from './location.js';
import { authorize, register, registerText, UdpPeer } from '../../../hw-tests/support/sip-peer.js';
import { startEnv, REALM } from '../../../hw-tests/support/registrar-env.js';

const PW = 's3cret-101';

function contactsOf(response: SipResponse): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (response.contact === '*') return out;
  for (const c of response.contact) out.set(c.uri.kind === 'sip' ? `${c.uri.user}@${c.uri.host}:${c.uri.port}` : c.uri.raw, c.params.get('expires') ?? null);
  return out;
}

test('good password: 200 with the contact, its expires and Date; lookup, snapshot and events', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const added: Binding[] = [];
    env.service.registrar.on('contact-added', (b) => added.push(b));
    const refreshed: Binding[] = [];
    env.service.registrar.on('contact-refreshed', (b) => refreshed.push(b));
    const contact = `<sip:101@127.0.0.1:${phone.port};transport=udp>`;
    const { challenge, final } = await register(phone, env, { user: '101', contacts: [contact], expires: 300 }, { password: PW });
    // Challenge: MD5 alone by default, qop=auth, realm of the box (the request named 127.0.0.1).
    const challenges = getHeaders(challenge, 'WWW-Authenticate');
    assert.equal(challenges.length, 1);
    assert.match(challenges[0] ?? '', /^Digest realm="pbx\.test", nonce="[A-Za-z0-9_-]{30}", opaque="[^"]+", algorithm=MD5, qop="auth"$/);
    assert.ok(final);
    assert.equal(final.message.status, 200);
    assert.deepEqual([...contactsOf(final.message)], [[`101@127.0.0.1:${phone.port}`, '300']]);
    assert.ok(!Number.isNaN(Date.parse(getHeader(final.message, 'Date') ?? '')));
    const bindings = env.service.registrar.lookup('101');
    assert.equal(bindings.length, 1);
    const b = bindings[0]!;
    assert.equal(b.contact.user, '101');
    assert.equal(b.contact.port, phone.port);
    assert.equal(b.contact.params.get('transport'), 'udp');
    assert.deepEqual(b.endpoint, { transport: 'UDP', address: '127.0.0.1', port: phone.port, connectionId: null });
    assert.equal(b.userAgent, 'test-phone');
    assert.equal(added.length, 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(env.store.registrations.byAor('101').length, 1, 'a new binding is persisted at once');
    const snap = env.service.registrar.snapshot();
    assert.equal(snap.length, 1);
    assert.equal(snap[0]?.aor, '101');
    assert.equal(snap[0]?.source, `127.0.0.1:${phone.port}`);
    assert.equal(snap[0]?.transport, 'UDP');
    assert.equal(snap[0]?.reachable, true);
    assert.ok((snap[0]?.expiresIn ?? 0) > 290 && (snap[0]?.expiresIn ?? 0) <= 300);
    // Refresh with MD5 this time.
    const again = await register(phone, env, { user: '101', contacts: [contact], expires: 600 }, { password: PW, algorithm: 'MD5' });
    assert.equal(again.final?.message.status, 200);
    assert.equal(refreshed.length, 1);
    assert.equal(env.service.registrar.lookup('101').length, 1);
    assert.equal(env.service.registrar.lookup('102').length, 0);
  } finally {
    phone.close();
    await env.close();
  }
});

/** The response with the parts that must differ (fresh nonce, fresh To tag) blanked. */
function shape(raw: Buffer): string {
  return raw
    .toString('utf8')
    .replace(/nonce="[^"]*"/g, 'nonce="N"')
    .replace(/(\r\nTo:[^\r]*;tag=)[^;\r]+/i, '$1T')
    .replace(/branch=[^;\r]+/, 'branch=B')
    .replace(/CSeq: \d+/, 'CSeq: C');
}

test('unknown user and wrong password get the same 401, byte for byte apart from nonce and tag', async () => {
  const env = await startEnv();
  const phoneA = await UdpPeer.open();
  const phoneB = await UdpPeer.open();
  try {
    // Same port-independent fields: both phones use the same Call-ID, tag and CSeq.
    const spec = (user: string) => ({ user: '101', toUser: '101', contacts: [`<sip:101@127.0.0.1:5999>`], expires: 300, callId: 'same-call@test', username: user });
    const wrong = await register(phoneA, env, { ...spec('101') }, { password: 'not-it' });
    const unknown = await register(phoneB, env, { ...spec('101') }, { password: PW, username: '999' });
    assert.ok(wrong.final && unknown.final);
    assert.equal(wrong.final.message.status, 401);
    assert.equal(unknown.final.message.status, 401);
    const a = shape(wrong.final.data).replaceAll(String(phoneA.port), 'P').replace(`tag=${phoneA.tag}`, 'tag=F');
    const b = shape(unknown.final.data).replaceAll(String(phoneB.port), 'P').replace(`tag=${phoneB.tag}`, 'tag=F');
    assert.equal(a, b);
    // And the same as the first challenge of a phone that sent no credentials at all.
    assert.equal(shape(wrong.final.data).includes('stale'), false);
    assert.equal(env.service.registrar.lookup('101').length, 0);
  } finally {
    phoneA.close();
    phoneB.close();
    await env.close();
  }
});

test('other realm fails, unknown scheme (RFC 4475 regaut01) is challenged, a no-qop answer is refused', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const contact = `<sip:101@127.0.0.1:${phone.port}>`;
    const otherRealm = await register(phone, env, { user: '101', contacts: [contact] }, { password: PW, realm: 'evil.example' });
    assert.equal(otherRealm.final?.message.status, 401);
    assert.equal(env.service.access.failuresOf('127.0.0.1', '101'), 0, 'another realm is not a guess at ours');

    const regaut = registerText(phone, env.port, { user: '101', contacts: [contact], authorization: 'NoOneKnowsThisScheme opaque-data=here' });
    phone.send(regaut.text, env.port);
    const r = await phone.response(regaut.cseq);
    assert.equal(r?.message.status, 401);
    assert.equal(getHeaders(r!.message, 'WWW-Authenticate').length, 1);
    assert.equal(env.service.access.failuresOf('127.0.0.1'), 0, 'an unknown scheme is not a failed guess');

    // RFC 2069 answer (no qop) although qop="auth" was offered: a downgrade, refused (RFC 7616 §3.4).
    const first = registerText(phone, env.port, { user: '101', contacts: [contact] });
    phone.send(first.text, env.port);
    const challenge = await phone.response(first.cseq);
    assert.ok(challenge);
    const authorization = authorize(challenge.message, 'REGISTER', env.port, '101', { password: PW, algorithm: 'MD5', qop: null });
    // The nonce is random base64url and may itself contain the letters "qop": look for the parameter.
    assert.doesNotMatch(authorization, /(^|[\s,])(qop|nc|cnonce)=/);
    const downgrade = registerText(phone, env.port, { user: '101', contacts: [contact], authorization });
    phone.send(downgrade.text, env.port);
    assert.equal((await phone.response(downgrade.cseq))?.message.status, 401);
    assert.equal(env.service.registrar.lookup('101').length, 0);
    assert.equal(env.service.access.failuresOf('127.0.0.1', '101'), 0, 'a refused form is not a guess');
  } finally {
    phone.close();
    await env.close();
  }
});

test('nc must grow: a reused nc is refused (stale challenge), a higher one accepted; expired nonce → stale=true', async () => {
  const env = await startEnv({ nonceLifetimeMs: 400 });
  const phone = await UdpPeer.open();
  try {
    const contact = `<sip:101@127.0.0.1:${phone.port}>`;
    const first = registerText(phone, env.port, { user: '101', contacts: [contact] });
    phone.send(first.text, env.port);
    const challenge = (await phone.response(first.cseq))!.message;
    const send = async (authorization: string): Promise<SipResponse | undefined> => {
      const m = registerText(phone, env.port, { user: '101', contacts: [contact], authorization });
      phone.send(m.text, env.port);
      return (await phone.response(m.cseq))?.message;
    };
    const nc1 = authorize(challenge, 'REGISTER', env.port, '101', { password: PW, nc: 1 });
    assert.equal((await send(nc1))?.status, 200);
    const again = await send(nc1);
    assert.equal(again?.status, 401);
    assert.match(getHeaders(again!, 'WWW-Authenticate')[0] ?? '', /stale=true/);
    assert.equal((await send(authorize(challenge, 'REGISTER', env.port, '101', { password: PW, nc: 2 })))?.status, 200);
    await new Promise((r) => setTimeout(r, 500));
    const stale = await send(authorize(challenge, 'REGISTER', env.port, '101', { password: PW, nc: 3 }));
    assert.equal(stale?.status, 401);
    assert.match(getHeaders(stale!, 'WWW-Authenticate')[0] ?? '', /stale=true/);
    // A wrong password on an expired nonce is a plain failure, not "stale".
    const wrong = await send(authorize(challenge, 'REGISTER', env.port, '101', { password: 'nope', nc: 4 }));
    assert.equal(wrong?.status, 401);
    assert.doesNotMatch(getHeaders(wrong!, 'WWW-Authenticate')[0] ?? '', /(^|[\s,])stale=/);
    // Counted, but the phone is known at this address: never blocked there.
    assert.equal(env.service.access.failuresOf('127.0.0.1', '101'), 1);
    assert.equal(env.service.access.isKnown('127.0.0.1', '101'), true);
    assert.deepEqual(env.service.access.list(), []);
  } finally {
    phone.close();
    await env.close();
  }
});

test('Expires: 423 below min with Min-Expires, contact param beats header, capped at max, default when absent', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const c = (n: number, params = '') => `<sip:101@127.0.0.1:${n}>${params}`;
    const brief = await register(phone, env, { user: '101', contacts: [c(6001)], expires: 30 }, { password: PW });
    assert.equal(brief.final?.message.status, 423);
    assert.equal(getHeader(brief.final!.message, 'Min-Expires'), '60');
    assert.equal(env.service.registrar.lookup('101').length, 0);
    // One too-brief contact rejects the whole request (atomic).
    const mixed = await register(phone, env, { user: '101', contacts: [c(6001), c(6002, ';expires=10')], expires: 300 }, { password: PW });
    assert.equal(mixed.final?.message.status, 423);
    assert.equal(env.service.registrar.lookup('101').length, 0);
    const ok = await register(phone, env, { user: '101', contacts: [c(6001, ';expires=120'), c(6002), c(6003, ';expires=99999')], expires: 200 }, { password: PW });
    assert.equal(ok.final?.message.status, 200);
    const got = contactsOf(ok.final!.message);
    assert.equal(got.get('101@127.0.0.1:6001'), '120');
    assert.equal(got.get('101@127.0.0.1:6002'), '200');
    assert.equal(got.get('101@127.0.0.1:6003'), '3600');
    const dflt = await register(phone, env, { user: '101', contacts: [c(6004)] }, { password: PW });
    assert.equal(contactsOf(dflt.final!.message).get('101@127.0.0.1:6004'), '600');
    assert.equal(env.service.registrar.lookup('101').length, 4);
  } finally {
    phone.close();
    await env.close();
  }
});

test('several contacts; Expires 0 removes one; Contact * needs Expires 0 and removes all; query without Contact', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const removed: string[] = [];
    env.service.registrar.on('contact-removed', (b) => removed.push(b.contactText));
    const c = (n: number) => `<sip:101@127.0.0.1:${n}>`;
    await register(phone, env, { user: '101', contacts: [c(7001), c(7002)], expires: 300 }, { password: PW });
    // Another phone of the same extension (another Call-ID) adds a third contact.
    const other = await UdpPeer.open();
    try {
      const r = await register(other, env, { user: '101', contacts: [c(7003)], expires: 300 }, { password: PW });
      assert.equal(contactsOf(r.final!.message).size, 3);
    } finally {
      other.close();
    }
    const one = await register(phone, env, { user: '101', contacts: [c(7002)], expires: 0 }, { password: PW });
    assert.deepEqual([...contactsOf(one.final!.message).keys()].sort(), ['101@127.0.0.1:7001', '101@127.0.0.1:7003']);
    assert.deepEqual(removed, ['sip:101@127.0.0.1:7002']);
    const query = await register(phone, env, { user: '101', contacts: [] }, { password: PW });
    assert.equal(query.final?.message.status, 200);
    assert.equal(contactsOf(query.final!.message).size, 2);
    const badStar = await register(phone, env, { user: '101', contacts: '*', expires: 300 }, { password: PW });
    assert.equal(badStar.final?.message.status, 400);
    const noExpiresStar = await register(phone, env, { user: '101', contacts: '*' }, { password: PW });
    assert.equal(noExpiresStar.final?.message.status, 400);
    assert.equal(env.service.registrar.lookup('101').length, 2);
    const star = await register(phone, env, { user: '101', contacts: '*', expires: 0 }, { password: PW });
    assert.equal(star.final?.message.status, 200);
    assert.equal(contactsOf(star.final!.message).size, 0);
    assert.equal(env.service.registrar.lookup('101').length, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(env.store.registrations.byAor('101').length, 0);
  } finally {
    phone.close();
    await env.close();
  }
});

test('To must be the authenticated extension (403); same Call-ID with an old CSeq is refused and changes nothing', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const c = `<sip:101@127.0.0.1:${phone.port}>`;
    const other = await register(phone, env, { user: '101', toUser: '102', contacts: [c], expires: 300 }, { password: PW });
    assert.equal(other.final?.message.status, 403);
    assert.equal(env.service.registrar.lookup('102').length, 0);
    const ok = await register(phone, env, { user: '101', contacts: [c], expires: 300 }, { password: PW });
    assert.equal(ok.final?.message.status, 200);
    const stored = env.service.registrar.lookup('101')[0]!;
    // Same Call-ID, CSeq lower than the stored one (out-of-order delivery of an old REGISTER).
    const first = registerText(phone, env.port, { user: '101', contacts: [c], expires: 0, cseq: 1 });
    phone.send(first.text, env.port);
    const challenge = (await phone.response(1))!.message;
    const old = registerText(phone, env.port, { user: '101', contacts: [c], expires: 0, cseq: 1, authorization: authorize(challenge, 'REGISTER', env.port, '101', { password: PW }) });
    phone.send(old.text, env.port);
    const refused = await phone.response(1);
    assert.equal(refused?.message.status, 400);
    assert.deepEqual(env.service.registrar.lookup('101')[0], stored);
  } finally {
    phone.close();
    await env.close();
  }
});

test('contact parameters are kept and echoed (RFC 4475 cparam01/cparam02)', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    // cparam01: params outside <> without brackets are header params; cparam02: URI params in <>.
    const r = await register(
      phone,
      env,
      { user: '101', contacts: ['sip:+19725552222@gw1.example.net;unknownparam', '<sip:+19725552222@gw1.example.net;unknownparam>'], expires: 300 },
      { password: PW },
    );
    assert.equal(r.final?.message.status, 200);
    const contacts = r.final!.message.contact;
    assert.notEqual(contacts, '*');
    const texts = (contacts as Exclude<typeof contacts, '*'>).map((n) => formatNameAddr(n)).sort();
    assert.deepEqual(texts, ['<sip:+19725552222@gw1.example.net;unknownparam>;expires=300', '<sip:+19725552222@gw1.example.net>;unknownparam;expires=300']);
    const bindings = env.service.registrar.lookup('101');
    assert.equal(bindings.length, 2);
    assert.ok(bindings.some((b) => b.contact.params.has('unknownparam')));
    assert.ok(bindings.some((b) => b.params.has('unknownparam')));
    // Requests still go where the REGISTER came from, not to gw1.example.net.
    for (const b of bindings) assert.equal(b.endpoint.port, phone.port);
  } finally {
    phone.close();
    await env.close();
  }
});

test('registrations survive closing and reopening registrar, stack and store; expired ones are purged', async () => {
  const env = await startEnv({ registrar: { minExpires: 1, maxExpires: 3600, defaultExpires: 600 } });
  const phone = await UdpPeer.open();
  try {
    await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.1:${phone.port}>`], expires: 600 }, { password: PW });
    await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.1:1234>`], expires: 1 }, { password: PW });
    assert.equal(env.service.registrar.lookup('101').length, 2);
  } finally {
    phone.close();
    await env.close(false);
  }
  await new Promise((r) => setTimeout(r, 1100));
  const reopened = await startEnv({ dir: env.dir });
  try {
    const bindings = reopened.service.registrar.lookup('101');
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]?.contact.port, phone.port);
    assert.deepEqual(bindings[0]?.endpoint, { transport: 'UDP', address: '127.0.0.1', port: phone.port, connectionId: null });
    assert.equal(reopened.store.registrations.all().length, 1, 'the expired binding was purged from the store');
    // The expiry timer fires contact-expired for bindings that run out while running.
    const expired: string[] = [];
    reopened.service.registrar.on('contact-expired', (b) => expired.push(b.contactText));
    assert.equal(reopened.service.registrar.purgeExpired(), 0);
  } finally {
    await reopened.close();
  }
});

test('after maxFailures bad attempts the (source, extension) is dropped silently; other extensions there still work', async () => {
  const env = await startEnv({ auth: { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 } });
  const attacker = await UdpPeer.open('127.0.0.2');
  const office = await UdpPeer.open('127.0.0.3');
  try {
    for (let i = 0; i < 3; i++) {
      const r = await register(attacker, env, { user: '101', contacts: [`<sip:101@127.0.0.2:${attacker.port}>`], expires: 300 }, { password: `guess-${i}` });
      assert.equal(r.final?.message.status, 401);
    }
    const blocked = registerText(attacker, env.port, { user: '101', contacts: [`<sip:101@127.0.0.2:${attacker.port}>`] });
    attacker.send(blocked.text, env.port);
    assert.equal(await attacker.response(blocked.cseq, 700), null, 'a blocked source gets no answer for that extension');
    assert.deepEqual(env.store.authBlocks.active(Date.now()).map((b) => `${b.source}/${b.extension}`), ['127.0.0.2/101']);
    // The same address may still speak for another extension.
    const other = registerText(attacker, env.port, { user: '102', contacts: [`<sip:102@127.0.0.2:${attacker.port}>`] });
    attacker.send(other.text, env.port);
    assert.equal((await attacker.response(other.cseq))?.message.status, 401);

    // The office phone of 102 registers; a colleague's phone for 101 at the same address keeps a stale secret.
    const ok = await register(office, env, { user: '102', contacts: [`<sip:102@127.0.0.3:${office.port}>`], expires: 300 }, { password: 's3cret-102' });
    assert.equal(ok.final?.message.status, 200);
    for (let i = 0; i < 3; i++) {
      const r = await register(office, env, { user: '101', contacts: [`<sip:101@127.0.0.3:${office.port}>`], expires: 300 }, { password: 'old-secret' });
      assert.equal(r.final?.message.status, 401);
    }
    const still = await register(office, env, { user: '102', contacts: [`<sip:102@127.0.0.3:${office.port}>`], expires: 300 }, { password: 's3cret-102' });
    assert.equal(still.final?.message.status, 200, 'a block of 101 at this address leaves 102 alone');
    // Lifting the block lets the attacker's address talk for 101 again.
    assert.equal(env.service.access.unblock('127.0.0.2', '101'), 1);
    const after = registerText(attacker, env.port, { user: '101', contacts: [`<sip:101@127.0.0.2:${attacker.port}>`] });
    attacker.send(after.text, env.port);
    assert.equal((await attacker.response(after.cseq))?.message.status, 401);
  } finally {
    attacker.close();
    office.close();
    await env.close();
  }
});

test('OPTIONS keepalive: a silent contact becomes unreachable (kept), an answer makes it reachable again', async () => {
  const env = await startEnv({ t1: 20, keepalive: { intervalSeconds: 3600, maxFailures: 2 } });
  const phone = await UdpPeer.open({ answerOptions: true });
  try {
    const changes: boolean[] = [];
    env.service.registrar.on('contact-reachability', (b) => changes.push(b.reachable));
    await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.1:${phone.port}>`], expires: 300 }, { password: PW });
    const keepalive = env.service.keepalive!;
    const waitIdle = async (): Promise<void> => {
      // Timer F = 64*T1 = 1.28 s; poll until the probe settled.
      const start = Date.now();
      const before = phone.optionsReceived;
      while (Date.now() - start < 5000) {
        await new Promise((r) => setTimeout(r, 50));
        if (phone.answerOptions && phone.optionsReceived > before) {
          await new Promise((r) => setTimeout(r, 50));
          return;
        }
        if (!phone.answerOptions && Date.now() - start > 1500) return;
      }
    };
    keepalive.probeAll();
    await waitIdle();
    assert.ok(phone.optionsReceived >= 1);
    assert.equal(env.service.registrar.lookup('101')[0]?.reachable, true);
    phone.answerOptions = false;
    keepalive.probeAll();
    await waitIdle();
    assert.equal(env.service.registrar.lookup('101')[0]?.reachable, true, 'one miss is not enough');
    keepalive.probeAll();
    await waitIdle();
    const binding = env.service.registrar.lookup('101')[0];
    assert.equal(binding?.reachable, false);
    assert.equal(env.service.registrar.snapshot()[0]?.reachable, false);
    phone.answerOptions = true;
    keepalive.probeAll();
    await waitIdle();
    assert.equal(env.service.registrar.lookup('101')[0]?.reachable, true);
    assert.deepEqual(changes, [false, true]);
    assert.equal(REALM, 'pbx.test');
  } finally {
    phone.close();
    await env.close();
  }
});

test('proxy-style authentication (407 / Proxy-Authorization) for the B2BUA; a changed secret applies to the next request (from pbxctl: within 100 ms)', async () => {
  const env = await startEnv();
  const phone = await UdpPeer.open();
  try {
    const message = (cseq: number, authorization?: string): string =>
      [
        `MESSAGE sip:102@127.0.0.1:${env.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bKm${cseq}x${Date.now()};rport`,
        'Max-Forwards: 70',
        `From: <sip:101@127.0.0.1>;tag=${phone.tag}`,
        'To: <sip:102@127.0.0.1>',
        `Call-ID: msg-${phone.callId}`,
        `CSeq: ${cseq} MESSAGE`,
        ...(authorization === undefined ? [] : [`Proxy-Authorization: ${authorization}`]),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    phone.send(message(1), env.port);
    const challenge = (await phone.response(1))?.message;
    assert.equal(challenge?.status, 407);
    assert.equal(getHeaders(challenge!, 'Proxy-Authenticate').length, 1);
    assert.equal(getHeaders(challenge!, 'WWW-Authenticate').length, 0);
    const uri = `sip:102@127.0.0.1:${env.port}`;
    phone.send(message(2, authorize(challenge!, 'MESSAGE', env.port, '101', { password: PW, uri })), env.port);
    assert.equal((await phone.response(2))?.message.status, 200);
    // The digest binds the method: the same answer computed for REGISTER fails on MESSAGE.
    phone.send(message(3, authorize(challenge!, 'REGISTER', env.port, '101', { password: PW, uri, nc: 2 })), env.port);
    assert.equal((await phone.response(3))?.message.status, 407);

    // The authenticator caches the extension (and its HA1): a change must still apply at once.
    env.store.extensions.update('101', { secret: 'brand-new-secret' });
    phone.send(message(4, authorize(challenge!, 'MESSAGE', env.port, '101', { password: PW, uri, nc: 4 })), env.port);
    assert.equal((await phone.response(4))?.message.status, 407);
    phone.send(message(5), env.port);
    const fresh = (await phone.response(5))!.message;
    phone.send(message(6, authorize(fresh, 'MESSAGE', env.port, '101', { password: 'brand-new-secret', uri })), env.port);
    assert.equal((await phone.response(6))?.message.status, 200);
    // Another process (pbxctl) changes it through its own connection to the same file.
    const other = openStore(env.dir);
    try {
      other.extensions.update('101', { secret: 'changed-by-pbxctl' });
    } finally {
      other.close();
    }
    await new Promise((resolve) => setTimeout(resolve, EXTERNAL_CHECK_MS + 10));
    phone.send(message(7, authorize(fresh, 'MESSAGE', env.port, '101', { password: 'brand-new-secret', uri, nc: 2 })), env.port);
    assert.equal((await phone.response(7))?.message.status, 407);
    phone.send(message(8), env.port);
    const third = (await phone.response(8))!.message;
    phone.send(message(9, authorize(third, 'MESSAGE', env.port, '101', { password: 'changed-by-pbxctl', uri })), env.port);
    assert.equal((await phone.response(9))?.message.status, 200);
    // And a removed extension stops authenticating at once.
    env.store.extensions.remove('101');
    phone.send(message(10), env.port);
    const fourth = (await phone.response(10))!.message;
    phone.send(message(11, authorize(fourth, 'MESSAGE', env.port, '101', { password: 'changed-by-pbxctl', uri })), env.port);
    assert.equal((await phone.response(11))?.message.status, 407);
  } finally {
    phone.close();
    await env.close();
  }
});

test('OPTIONS keepalive runs by itself every interval', async () => {
  const env = await startEnv({ keepalive: { intervalSeconds: 1 } });
  const phone = await UdpPeer.open();
  try {
    await register(phone, env, { user: '101', contacts: [`<sip:101@127.0.0.1:${phone.port}>`], expires: 300 }, { password: PW });
    const start = Date.now();
    while (phone.optionsReceived < 2 && Date.now() - start < 4000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(phone.optionsReceived >= 2, `OPTIONS received: ${phone.optionsReceived}`);
    assert.equal(env.service.registrar.lookup('101')[0]?.reachable, true);
  } finally {
    phone.close();
    await env.close();
  }
});
