/**
 * The trunk's registration client on our real SIP stack against a scripted registrar on a UDP socket:
 * failures back off (each retry later than the one before), a digest challenge is answered with
 * credentials the registrar verifies, the binding is refreshed before it expires, wrong credentials
 * end in "failing" with the reason, and stop() removes the binding (Expires: 0).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { silentLogger } from '../../log.js';
import { computeHa1, computeResponse, parseCredentials } from '../../sip/auth/digest.js';
import type { LocalAddressing } from '../../sip/b2bua/types.js';
import { getHeader, type SipRequest } from '../../sip/message.js';
import { parseMessage } from '../../sip/parser.js';
import { createSipStack, type SipStack } from '../../sip/stack.js';
import { RegistrationClient } from './register-client.js';

interface Seen {
  request: SipRequest;
  at: number;
}

/** Answers each REGISTER with the next scripted step; 'challenge' and 'verify' do digest. */
async function scriptedRegistrar(script: Array<'503' | 'challenge' | 'verify-200' | 'verify-403' | '200'>, password: string) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const seen: Seen[] = [];
  socket.on('message', (data, rinfo) => {
    const parsed = parseMessage(data);
    if (!parsed.ok || parsed.message.kind !== 'request') return;
    const request = parsed.message;
    seen.push({ request, at: performance.now() });
    const step = script.shift() ?? '200';
    const vias = data.toString('latin1').split('\r\n').filter((l) => /^via:/i.test(l));
    let status = '200 OK';
    const extra: string[] = [];
    if (step === '503') status = '503 Service Unavailable';
    if (step === 'challenge') {
      status = '401 Unauthorized';
      extra.push('WWW-Authenticate: Digest realm="carrier.test", nonce="nonce-1", qop="auth", algorithm=MD5');
    }
    if (step === 'verify-200' || step === 'verify-403') {
      const auth = getHeader(request, 'authorization');
      const creds = auth === undefined ? null : parseCredentials(auth);
      const c = creds?.kind === 'digest' ? creds.credentials : null;
      const good =
        c !== null &&
        c.response === computeResponse({ algorithm: 'MD5', ha1: computeHa1('MD5', c.username, 'carrier.test', password), method: 'REGISTER', uri: c.uri, nonce: c.nonce, qop: 'auth', nc: c.nc, cnonce: c.cnonce });
      if (!good || step === 'verify-403') {
        status = '401 Unauthorized';
        extra.push('WWW-Authenticate: Digest realm="carrier.test", nonce="nonce-2", qop="auth", algorithm=MD5');
      }
    }
    if (status.startsWith('200')) {
      const contact = request.contact === '*' ? undefined : request.contact[0];
      const uri = contact?.uri.kind === 'sip' ? `sip:${contact.uri.user}@${contact.uri.host}:${contact.uri.port}` : '';
      extra.push(`Contact: <${uri}>;expires=${request.expires === 0 ? 0 : 2}`);
    }
    const text = [`SIP/2.0 ${status}`, ...vias, `From: ${getRaw(data, 'from')}`, `To: ${getRaw(data, 'to')};tag=reg`, `Call-ID: ${request.callId}`, `CSeq: ${request.cseq.seq} REGISTER`, ...extra, 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(text, rinfo.port, rinfo.address);
  });
  return { socket, seen, port: (socket.address() as { port: number }).port };
}

function getRaw(data: Buffer, name: string): string {
  const line = data.toString('latin1').split('\r\n').find((l) => l.toLowerCase().startsWith(`${name}:`));
  return (line ?? '').slice(name.length + 1).trim();
}

function addressingOf(stack: SipStack): LocalAddressing {
  return {
    via: (transport) => ({ transport, host: '127.0.0.1', port: stack.localEndpoint(transport).port }),
    contact: (transport, user) => ({
      displayName: null,
      uri: { kind: 'sip', secure: false, user, password: null, host: '127.0.0.1', port: stack.localEndpoint(transport).port, params: new Map(), headers: new Map() },
      params: new Map(),
    }),
  };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('backoff after failures, digest answered, refresh before expiry, Expires: 0 on stop', async () => {
  const stack = await createSipStack({ bind: '127.0.0.1', udpPort: 0, logger: silentLogger(), validate: { supportedExtensions: [], acceptedContentTypes: [], isProxyOrB2bua: true } });
  const registrar = await scriptedRegistrar(['503', '503', 'challenge', 'verify-200', 'challenge', 'verify-200'], 'trunk-pass');
  const client = new RegistrationClient({
    trunk: 'carrier',
    host: 'carrier.test',
    port: registrar.port,
    destination: { transport: 'UDP', address: '127.0.0.1', port: registrar.port, connectionId: null },
    credentials: { username: 'office', password: 'trunk-pass' },
    transactions: stack.transactions,
    addressing: addressingOf(stack),
    logger: silentLogger(),
    expiresSeconds: 60,
    retryMinMs: 200,
    retryMaxMs: 5000,
  });
  try {
    client.start();
    await until(() => client.status().state === 'failing', 3000, 'first failure');
    assert.equal(client.status().lastError, '503 Service Unavailable');
    await until(() => client.status().state === 'registered', 5000, 'registered');
    const [first, second, third] = registrar.seen;
    assert.ok(first && second && third);
    // Timers never fire early: the gaps are at least the backoff, and the second is the doubled one.
    assert.ok(second.at - first.at >= 190, `first retry after ≥ 200 ms (${(second.at - first.at).toFixed(0)})`);
    assert.ok(third.at - second.at >= 390, `second retry after ≥ 400 ms (${(third.at - second.at).toFixed(0)})`);
    const answered = registrar.seen[3]?.request;
    assert.ok(answered && getHeader(answered, 'authorization')?.includes('username="office"'), 'the challenge was answered');
    assert.equal(answered.cseq.seq, 4, 'one CSeq per REGISTER of the same Call-ID');
    assert.equal(new Set(registrar.seen.map((s) => s.request.callId)).size, 1, 'one Call-ID for the registration (RFC 3261 §10.2.4)');
    const expiresAt = client.status().expiresAt ?? 0;
    assert.ok(expiresAt - Date.now() <= 2000, 'the registrar\'s 2 s binding is what counts');
    // Refresh at 80 % of 2 s, before the binding expires.
    await until(() => client.status().registrations >= 2, 4000, 'refreshed');
    assert.ok((registrar.seen[5]?.at ?? Infinity) - (registrar.seen[3]?.at ?? 0) < 2000, 'refreshed before expiry');
    client.stop();
    await until(() => registrar.seen.some((s) => s.request.expires === 0), 2000, 'unregister');
    assert.equal(client.status().state, 'stopped');
  } finally {
    client.stop();
    registrar.socket.close();
    await stack.close();
  }
});

test('wrong credentials: a second challenge after our answer is "credentials refused", and retried later', async () => {
  const stack = await createSipStack({ bind: '127.0.0.1', udpPort: 0, logger: silentLogger(), validate: { supportedExtensions: [], acceptedContentTypes: [], isProxyOrB2bua: true } });
  const registrar = await scriptedRegistrar(['challenge', 'verify-403', 'challenge', 'verify-403'], 'trunk-pass');
  const client = new RegistrationClient({
    trunk: 'carrier',
    host: 'carrier.test',
    port: registrar.port,
    destination: { transport: 'UDP', address: '127.0.0.1', port: registrar.port, connectionId: null },
    credentials: { username: 'office', password: 'wrong' },
    transactions: stack.transactions,
    addressing: addressingOf(stack),
    logger: silentLogger(),
    retryMinMs: 200,
  });
  try {
    client.start();
    await until(() => client.status().state === 'failing', 3000, 'failing');
    assert.equal(client.status().lastError, 'credentials refused (401 Unauthorized)');
    assert.equal(registrar.seen.length, 2, 'no loop of answers to the same challenge');
    await until(() => registrar.seen.length >= 3, 3000, 'retried after the backoff');
  } finally {
    client.stop();
    registrar.socket.close();
    await stack.close();
  }
});
