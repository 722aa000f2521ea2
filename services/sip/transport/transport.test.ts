/**
 * The transport layer with real sockets on loopback: UDP (RFC 3581 rport/received, garbage, 400
 * for a malformed request, response Via check), TCP framing, keepalives and connection reuse,
 * TLS with the generated certificate, and SIP over WebSocket (RFC 7118).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { silentLogger } from '../../log.js';
import { ensureCertificate } from '../../tls/certificate.js';
import type { SipMessage, SipRequest, SipResponse } from '../message.js';
import { parseMessage } from '../parser.js';
import { createSipStack, type SipStack, type SipStackOptions } from '../stack.js';
import type { Endpoint, ServerTransaction } from '../types.js';
import { createTransportLayer, responseDestination } from './index.js';
import { requestText, responseText, sleep, StreamPeer, UdpPeer } from '../../../hw-tests/support/sip-peer.js';
import { skipOrFail } from '../../../hw-tests/support/environment.js';
import { listenUdp, UDP_SOCKET_BUFFER } from './udp.js';

const validate = { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true };

function stackOptions(extra: Partial<SipStackOptions> = {}): SipStackOptions {
  return { bind: '127.0.0.1', logger: silentLogger(), timers: { T1: 40, T2: 160, T4: 100, D: 200 }, validate, ...extra };
}

/** The TU of these tests: records every transaction, answers OPTIONS/REGISTER with 200. */
function recorder(stack: SipStack): ServerTransaction[] {
  const seen: ServerTransaction[] = [];
  stack.transactions.onRequest((t) => {
    seen.push(t);
    if (t.request.method !== 'INVITE') t.respond(200);
  });
  return seen;
}

describe('UDP', () => {
  let stack: SipStack;
  let peer: UdpPeer;
  let seen: ServerTransaction[];
  let port = 0;
  before(async () => {
    stack = await createSipStack(stackOptions({ udpPort: 0 }));
    seen = recorder(stack);
    peer = await UdpPeer.open();
    port = stack.ports().udp ?? 0;
  });
  after(async () => {
    await stack.close();
    await peer.close();
  });

  it('binds port 0 and reports the bound port; sockets get large buffers', async () => {
    assert.ok(port > 0);
    assert.equal(stack.ports().tcp, null);
    const listener = await listenUdp('127.0.0.1', 0, () => undefined, () => undefined);
    try {
      const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
      // Linux doubles the request and caps it at 2*rmem_max.
      assert.ok(listener.bufferSizes().receive >= Math.min(UDP_SOCKET_BUFFER, 2 * rmemMax));
    } finally {
      await listener.close();
    }
  });

  it('RFC 3581: fills rport and received, and answers to the source port even if the Via names another host', async () => {
    await peer.send(requestText({ method: 'OPTIONS', to: port, viaHost: '192.0.2.7', viaPort: 9, viaParams: ';rport', callId: 'rport-1' }), port);
    const [response] = await peer.waitFor((r) => r.message?.callId === 'rport-1');
    const via = (response?.message as SipResponse).via[0];
    assert.equal(via?.params.get('received'), '127.0.0.1');
    assert.equal(via?.params.get('rport'), String(peer.port));
    const request = seen.find((t) => t.request.callId === 'rport-1');
    assert.equal(request?.source.port, peer.port);
    assert.equal(request?.source.transport, 'UDP');
  });

  it('§18.2.1: adds received when the Via host differs; without rport the response goes to received:sent-by port', async () => {
    await peer.send(requestText({ method: 'OPTIONS', to: port, viaHost: 'phone.example.com', viaPort: peer.port, callId: 'received-1' }), port);
    const [response] = await peer.waitFor((r) => r.message?.callId === 'received-1');
    const via = (response?.message as SipResponse).via[0];
    assert.equal(via?.params.get('received'), '127.0.0.1');
    assert.equal(via?.params.has('rport'), false);
    // Same host: no received parameter.
    await peer.send(requestText({ method: 'OPTIONS', to: port, viaHost: '127.0.0.1', viaPort: peer.port, callId: 'received-2' }), port);
    const [plain] = await peer.waitFor((r) => r.message?.callId === 'received-2');
    assert.equal((plain?.message as SipResponse).via[0]?.params.has('received'), false);
  });

  it('survives garbage, answers a malformed but answerable request with 400, and keeps serving', async () => {
    const before = seen.length;
    await peer.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42]), port);
    await peer.send('\r\n\r\n', port); // a keepalive: nothing to answer
    await peer.send('INVITE sip:x SIP/2.0\r\nthis is not a header\r\n', port);
    const bad = requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'bad-cseq' }).replace('CSeq: 1 OPTIONS', 'CSeq: abc OPTIONS');
    await peer.send(bad, port);
    const [answer] = await peer.waitFor((r) => r.data.toString().includes('bad-cseq'));
    assert.match(answer?.data.toString() ?? '', /^SIP\/2\.0 400 /);
    assert.equal(answer?.from.port, port);
    await peer.send(requestText({ method: 'OPTIONS', to: port, viaPort: peer.port, callId: 'after-garbage' }), port);
    await peer.waitFor((r) => r.message?.callId === 'after-garbage');
    assert.equal(seen.length, before + 1, 'only the good request reached the TU');
  });

  it('§18.2.2: never answers to a broadcast or multicast address; a Via received never redirects', () => {
    const source: Endpoint = { transport: 'UDP', address: '127.0.0.1', port: 5062, connectionId: null };
    const via = (received: string | null) => ({ transport: 'UDP', host: '255.255.255.255', port: null, params: new Map<string, string | null>(received ? [['branch', 'z9hG4bKa'], ['received', received]] : [['branch', 'z9hG4bKa']]) });
    const toSource = { transport: 'UDP', address: '127.0.0.1', port: 5060, connectionId: null };
    assert.deepEqual(responseDestination(via('255.255.255.255'), source), toSource);
    assert.deepEqual(responseDestination(via('239.1.2.3'), source), toSource);
    assert.deepEqual(responseDestination(via('ff02::1'), source), toSource);
    assert.deepEqual(responseDestination(via('127.0.0.77'), source), toSource);
    assert.deepEqual(responseDestination(via(null), { ...source, address: '224.0.0.1' }), null);
    assert.deepEqual(responseDestination(via(null), { ...source, address: '255.255.255.255' }), null);
  });

  it('no reflection: received, rport and maddr written by the sender never aim the response elsewhere (issue 15)', async () => {
    const dgram = await import('node:dgram');
    // The victim: listeners at the addresses and port the forged Via names.
    const victims = await Promise.all(
      ['127.0.0.77', '127.0.0.78'].map(
        (address) =>
          new Promise<import('node:dgram').Socket>((resolve) => {
            const socket = dgram.createSocket('udp4');
            socket.bind(0, address, () => resolve(socket));
          }),
      ),
    );
    const hits: string[] = [];
    for (const victim of victims) victim.on('message', (data) => hits.push(data.toString().split('\r\n')[0] ?? ''));
    const victimPort = victims[0]!.address().port;
    // Second victim at the same port number, for maddr.
    await new Promise<void>((resolve) => victims[1]!.close(() => resolve()));
    const maddrVictim = await new Promise<import('node:dgram').Socket>((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(victimPort, '127.0.0.78', () => resolve(socket));
    }).catch(() => null);
    maddrVictim?.on('message', (data) => hits.push(data.toString().split('\r\n')[0] ?? ''));
    try {
      const forged = [
        { viaHost: '127.0.0.77', viaPort: victimPort, viaParams: `;received=127.0.0.77;rport=${victimPort}`, callId: 'reflect-1' },
        { viaHost: '127.0.0.77', viaPort: victimPort, viaParams: `;received=127.0.0.77;rport=9;maddr=127.0.0.78;ttl=1`, callId: 'reflect-2' },
        { viaHost: '127.0.0.77', viaPort: victimPort, viaParams: `;maddr=127.0.0.78;received=127.0.0.77`, callId: 'reflect-3' },
        { viaHost: '127.0.0.1', viaPort: peer.port, viaParams: `;received=127.0.0.77;rport=${victimPort}`, callId: 'reflect-4' },
      ];
      for (const request of forged) {
        await peer.send(requestText({ method: 'OPTIONS', to: port, ...request }), port);
      }
      // reflect-3 has no rport: §18.2.2 sends it to the source address at the sent-by port, so it
      // reaches the peer's host (127.0.0.1) at victimPort, never 127.0.0.77 or the maddr.
      const answered = await peer.waitFor((r) => ['reflect-1', 'reflect-2', 'reflect-4'].includes(r.message?.callId ?? ''), 3);
      for (const response of answered) {
        assert.match(response.data.toString(), /^SIP\/2\.0 200 /);
        const via = (response.message as SipResponse).via[0];
        assert.equal(via?.params.get('received'), '127.0.0.1');
        assert.equal(via?.params.get('rport'), String(peer.port));
      }
      const third = seen.find((t) => t.request.callId === 'reflect-3');
      assert.ok(third, 'reflect-3 reached the TU');
      assert.equal(third.request.via[0]?.params.get('received'), '127.0.0.1');
      await sleep(300);
      assert.deepEqual(hits, [], 'nothing arrived at the victim addresses');
    } finally {
      for (const socket of [victims[0]!, maddrVictim]) if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  });
});

describe('IPv6', () => {
  it('serves UDP on ::1 with rport and received', async (t) => {
    let stack: SipStack;
    try {
      stack = await createSipStack(stackOptions({ bind: '::1', udpPort: 0 }));
    } catch {
      return skipOrFail(t, 'no IPv6 loopback here');
    }
    const dgram = await import('node:dgram');
    const socket = dgram.createSocket('udp6');
    try {
      const seen = recorder(stack);
      await new Promise<void>((resolve) => socket.bind(0, '::1', resolve));
      const answer = new Promise<Buffer>((resolve) => socket.once('message', (data) => resolve(data)));
      const port = stack.ports().udp ?? 0;
      const text = requestText({ method: 'OPTIONS', to: port, viaHost: '[::1]', viaPort: 9, viaParams: ';rport', callId: 'v6-1' });
      socket.send(text, port, '::1');
      const parsed = parseMessage(await answer);
      assert.ok(parsed.ok && parsed.message.kind === 'response');
      assert.equal(parsed.message.via[0]?.params.get('rport'), String(socket.address().port));
      assert.equal(seen[0]?.source.address, '::1');
      assert.equal(stack.localEndpoint('UDP').address, '::1');
    } finally {
      socket.close();
      await stack.close();
    }
  });
});

describe('response Via check (§18.1.2)', () => {
  it('passes responses whose top Via is ours and drops the others', async () => {
    const layer = await createTransportLayer({ bind: '127.0.0.1', udpPort: 0, logger: silentLogger() });
    const peer = await UdpPeer.open();
    try {
      const got: SipMessage[] = [];
      layer.onMessage((m) => got.push(m));
      const port = layer.ports().udp ?? 0;
      const ours = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: peer.port, viaHost: '127.0.0.1', viaPort: port, callId: 'ours' })));
      const foreign = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: peer.port, viaHost: '192.0.2.198', viaPort: port, callId: 'foreign' })));
      assert.ok(ours.ok && foreign.ok);
      await peer.send(responseText(foreign.message, 200, 'OK'), port);
      await peer.send(responseText(ours.message, 200, 'OK'), port);
      for (let i = 0; i < 50 && got.length === 0; i++) await sleep(10);
      await sleep(30);
      assert.deepEqual(got.map((m) => m.callId), ['ours']);
    } finally {
      await layer.close();
      await peer.close();
    }
  });
});

describe('TCP', () => {
  let stack: SipStack;
  let seen: ServerTransaction[];
  let port = 0;
  before(async () => {
    stack = await createSipStack(stackOptions({ tcpPort: 0 }));
    seen = recorder(stack);
    port = stack.ports().tcp ?? 0;
  });
  after(async () => stack.close());

  async function connect(): Promise<StreamPeer> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return new StreamPeer(socket);
  }

  it('frames a message split over several writes and two messages in one write', async () => {
    const client = await connect();
    try {
      const text = requestText({ method: 'OPTIONS', to: port, transport: 'TCP', viaPort: client.socket.localPort ?? 0, callId: 'split-1', body: 'v=0\r\n', extra: ['Content-Type: application/sdp'] });
      for (const piece of [text.slice(0, 10), text.slice(10, 100), text.slice(100, text.length - 3), text.slice(text.length - 3)]) {
        await client.write(piece);
        await sleep(15);
      }
      await client.until(() => client.messages.length === 1, 5000, 'response to the split message');
      const request = seen.find((t) => t.request.callId === 'split-1')?.request;
      assert.equal(request?.body.toString(), 'v=0\r\n');
      const two = requestText({ method: 'OPTIONS', to: port, transport: 'TCP', callId: 'two-a' }) + requestText({ method: 'OPTIONS', to: port, transport: 'TCP', callId: 'two-b' });
      await client.write(two);
      await client.until(() => client.messages.length === 3, 5000, 'two responses');
      assert.deepEqual(client.messages.map((m) => m.callId), ['split-1', 'two-a', 'two-b']);
      assert.ok(seen.every((t) => t.source.transport !== 'TCP' || t.source.connectionId !== null));
    } finally {
      client.close();
    }
  });

  it('answers a CRLFCRLF keepalive with CRLF (RFC 5626 §4.4.1)', async () => {
    const client = await connect();
    try {
      await client.write('\r\n\r\n');
      await client.until(() => client.raw.length >= 2, 5000, 'pong');
      assert.equal(client.raw.toString(), '\r\n');
    } finally {
      client.close();
    }
  });

  it('resets a malformed stream without disturbing other connections', async () => {
    const bad = await connect();
    const good = await connect();
    try {
      await bad.write('OPTIONS sip:x SIP/2.0\r\nContent-Length: many\r\n\r\n');
      await bad.until(() => bad.closed, 5000, 'reset of the malformed stream');
      await good.write(requestText({ method: 'OPTIONS', to: port, transport: 'TCP', callId: 'still-good' }));
      await good.until(() => good.messages.length === 1, 5000, 'response on the good connection');
    } finally {
      bad.close();
      good.close();
    }
  });

  it('sends a request back on the connection a phone registered from (Endpoint.connectionId)', async () => {
    const client = await connect();
    try {
      await client.write(requestText({ method: 'REGISTER', to: port, transport: 'TCP', callId: 'reg-tcp' }));
      await client.until(() => client.messages.length === 1, 5000, 'REGISTER response');
      const registered = seen.find((t) => t.request.callId === 'reg-tcp');
      assert.ok(registered?.source.connectionId);
      const local = stack.localEndpoint('TCP');
      const parsed = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: 1, transport: 'TCP', viaHost: local.address, viaPort: local.port, callId: 'to-phone', branch: 'z9hG4bKtophone' })));
      assert.ok(parsed.ok);
      const finals: number[] = [];
      stack.transactions.sendRequest(parsed.message as SipRequest, registered.source, { onFinal: (r) => finals.push(r.status) });
      await client.until(() => client.messages.some((m) => m.callId === 'to-phone'), 5000, 'request on the same connection');
      const options = client.messages.find((m) => m.callId === 'to-phone');
      assert.ok(options);
      await client.write(responseText(options, 200, 'OK'));
      for (let i = 0; i < 100 && finals.length === 0; i++) await sleep(10);
      assert.deepEqual(finals, [200]);
    } finally {
      client.close();
    }
  });

  it('opens a new connection when none is open, and reports a refused connection as a transport error', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const serverPort = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<StreamPeer>((resolve) => server.once('connection', (socket) => resolve(new StreamPeer(socket))));
    try {
      const local = stack.localEndpoint('TCP');
      const make = (callId: string) => {
        const parsed = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: serverPort, transport: 'TCP', viaHost: local.address, viaPort: local.port, callId, branch: 'z9hG4bK' + callId })));
        assert.ok(parsed.ok);
        return parsed.message as SipRequest;
      };
      stack.transactions.sendRequest(make('outbound-1'), { transport: 'TCP', address: '127.0.0.1', port: serverPort, connectionId: 999_999 }, { onFinal: () => undefined });
      const peer = await accepted;
      await peer.until(() => peer.messages.length === 1, 5000, 'request on a new connection');
      peer.close();
      server.close();
      await sleep(20);
      const failures: string[] = [];
      stack.transactions.sendRequest(make('refused-1'), { transport: 'TCP', address: '127.0.0.1', port: serverPort, connectionId: null }, { onFinal: () => undefined, onTimeout: (kind) => failures.push(kind) });
      for (let i = 0; i < 200 && failures.length === 0; i++) await sleep(10);
      assert.deepEqual(failures, ['transport-error']);
    } finally {
      server.close();
    }
  });
});

describe('idle connections', () => {
  it('closes a stream connection that stays silent past idleTimeoutMs', async () => {
    const stack = await createSipStack(stackOptions({ tcpPort: 0, idleTimeoutMs: 150 }));
    recorder(stack);
    try {
      const socket = net.connect(stack.ports().tcp ?? 0, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const client = new StreamPeer(socket);
      await client.write(requestText({ method: 'OPTIONS', to: 1, transport: 'TCP', callId: 'idle-1' }));
      await client.until(() => client.messages.length === 1, 5000, 'response');
      assert.equal(stack.stats().connections, 1);
      await client.until(() => client.closed, 5000, 'idle close');
      for (let i = 0; i < 100 && stack.stats().connections > 0; i++) await sleep(10);
      assert.equal(stack.stats().connections, 0);
    } finally {
      await stack.close();
    }
  });
});

describe('TLS and WSS with the generated certificate', () => {
  let dir: string;
  let stack: SipStack;
  let cert: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-tls-'));
    const files = await ensureCertificate(dir);
    cert = files.cert;
    stack = await createSipStack(stackOptions({ tlsPort: 0, wssPort: 0, tls: files }));
    recorder(stack);
  });
  after(async () => {
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the certificate across restarts and refuses a broken replacement', async () => {
    assert.ok(fs.existsSync(path.join(dir, 'tls', 'sip.key')));
    assert.equal((fs.statSync(path.join(dir, 'tls', 'sip.key')).mode & 0o777).toString(8), '600');
    const again = await ensureCertificate(dir);
    assert.equal(again.cert, cert);
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-tls-bad-'));
    try {
      fs.mkdirSync(path.join(broken, 'tls'));
      fs.writeFileSync(path.join(broken, 'tls', 'sip.crt'), cert);
      fs.writeFileSync(path.join(broken, 'tls', 'sip.key'), 'not a key');
      await assert.rejects(ensureCertificate(broken), /sip\.key/);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });

  it('serves SIP over TLS; the client verifies the certificate for 127.0.0.1', async () => {
    const port = stack.ports().tls ?? 0;
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, rejectUnauthorized: true });
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const client = new StreamPeer(socket);
    try {
      await client.write(requestText({ method: 'OPTIONS', to: port, transport: 'TLS', callId: 'tls-1' }));
      await client.until(() => client.messages.length === 1, 5000, 'TLS response');
      assert.equal((client.messages[0] as SipResponse).status, 200);
    } finally {
      client.close();
    }
  });

  it('connects out over TLS: verifies by default, and accepts a self-signed peer when told to', async () => {
    const files = await ensureCertificate(dir);
    const server = tls.createServer({ key: files.key, cert: files.cert });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const serverPort = (server.address() as net.AddressInfo).port;
    const peers: StreamPeer[] = [];
    server.on('secureConnection', (socket) => peers.push(new StreamPeer(socket)));
    const lenient = await createSipStack(stackOptions({ tlsPort: 0, tls: files, tlsRejectUnauthorized: false }));
    try {
      const make = (from: SipStack, callId: string): SipRequest => {
        const local = from.localEndpoint('TLS');
        const parsed = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: serverPort, transport: 'TLS', viaHost: local.address, viaPort: local.port, callId, branch: 'z9hG4bK' + callId })));
        assert.ok(parsed.ok);
        return parsed.message as SipRequest;
      };
      const destination: Endpoint = { transport: 'TLS', address: '127.0.0.1', port: serverPort, connectionId: null };
      const failures: string[] = [];
      stack.transactions.sendRequest(make(stack, 'tls-strict'), destination, { onFinal: () => undefined, onTimeout: (kind) => failures.push(kind) });
      for (let i = 0; i < 300 && failures.length === 0; i++) await sleep(10);
      assert.deepEqual(failures, ['transport-error'], 'an untrusted self-signed peer is refused by default');
      const finals: number[] = [];
      lenient.transactions.sendRequest(make(lenient, 'tls-lenient'), destination, { onFinal: (r) => finals.push(r.status) });
      for (let i = 0; i < 300 && !peers.some((p) => p.messages.length > 0); i++) await sleep(10);
      const peer = peers.find((p) => p.messages.length > 0);
      const request = peer?.messages[0];
      assert.ok(peer && request && request.callId === 'tls-lenient');
      await peer.write(responseText(request, 200, 'OK'));
      for (let i = 0; i < 300 && finals.length === 0; i++) await sleep(10);
      assert.deepEqual(finals, [200]);
    } finally {
      for (const peer of peers) peer.close();
      server.close();
      await lenient.close();
    }
  });

  it('serves SIP over secure WebSocket', async () => {
    const port = stack.ports().wss ?? 0;
    const socket = new WebSocket(`wss://127.0.0.1:${port}`, 'sip', { ca: cert });
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const answer = new Promise<Buffer>((resolve) => socket.once('message', (data) => resolve(data as Buffer)));
      socket.send(requestText({ method: 'OPTIONS', to: port, transport: 'WSS', viaHost: 'df7jal23ls0d.invalid', callId: 'wss-1' }));
      const parsed = parseMessage(await answer);
      assert.ok(parsed.ok && parsed.message.kind === 'response' && parsed.message.status === 200);
    } finally {
      socket.terminate();
    }
  });
});

describe('WebSocket (RFC 7118)', () => {
  let stack: SipStack;
  let seen: ServerTransaction[];
  before(async () => {
    stack = await createSipStack(stackOptions({ wsPort: 0 }));
    seen = recorder(stack);
  });
  after(async () => stack.close());

  it('exchanges one SIP message per WebSocket message with subprotocol sip', async () => {
    const port = stack.ports().ws ?? 0;
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      assert.equal(socket.protocol, 'sip');
      const answers: Array<{ data: Buffer; binary: boolean }> = [];
      socket.on('message', (data, binary) => answers.push({ data: data as Buffer, binary }));
      socket.send(requestText({ method: 'REGISTER', to: port, transport: 'WS', viaHost: 'df7jal23ls0d.invalid', callId: 'ws-1' }));
      socket.send(requestText({ method: 'OPTIONS', to: port, transport: 'WS', viaHost: 'df7jal23ls0d.invalid', callId: 'ws-2' }));
      for (let i = 0; i < 200 && answers.length < 2; i++) await sleep(10);
      const responses = answers.map((a) => parseMessage(a.data)).map((r) => (r.ok ? r.message.callId : 'unparsed'));
      assert.deepEqual(responses.sort(), ['ws-1', 'ws-2']);
      assert.ok(answers.every((a) => !a.binary), 'text frames');
      const register = seen.find((t) => t.request.callId === 'ws-1');
      assert.equal(register?.source.transport, 'WS');
      assert.equal(register?.request.via[0]?.params.get('received'), '127.0.0.1');
      // A request to the browser goes down its WebSocket (we never dial one).
      const local = stack.localEndpoint('WS');
      const parsed = parseMessage(Buffer.from(requestText({ method: 'OPTIONS', to: 1, transport: 'WS', viaHost: local.address, viaPort: local.port, callId: 'to-browser', branch: 'z9hG4bKtobrowser' })));
      assert.ok(parsed.ok && register);
      const finals: number[] = [];
      stack.transactions.sendRequest(parsed.message as SipRequest, register.source, { onFinal: (r) => finals.push(r.status) });
      for (let i = 0; i < 200 && answers.length < 3; i++) await sleep(10);
      const toBrowser = parseMessage(answers[2]?.data ?? Buffer.alloc(0));
      assert.ok(toBrowser.ok && toBrowser.message.kind === 'request' && toBrowser.message.callId === 'to-browser');
      socket.send(responseText(toBrowser.message, 200, 'OK'));
      for (let i = 0; i < 200 && finals.length === 0; i++) await sleep(10);
      assert.deepEqual(finals, [200]);
    } finally {
      socket.terminate();
    }
  });

  it('refuses a handshake without the sip subprotocol', async () => {
    const port = stack.ports().ws ?? 0;
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);
    const code = await new Promise<number>((resolve) => {
      socket.once('close', (closeCode) => resolve(closeCode));
      socket.once('error', () => resolve(-1));
    });
    assert.equal(code, 1002);
  });
});
