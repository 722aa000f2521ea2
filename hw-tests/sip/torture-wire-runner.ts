/**
 * Runs inside a loopback-only network namespace (see torture-wire.test.ts): starts the real SIP
 * service on 127.0.0.1, sends every RFC 4475 torture message as one UDP datagram, and prints, as
 * one JSON line, what came back for each. The messages name hosts such as example.com and
 * 192.0.2.x; in this namespace nothing can leave the machine whatever the server does with them.
 *
 * Responses to a datagram go to its source address and the Via's port (RFC 3261 §18.2.2), which is
 * 5060 for most of these messages (5050 for one), so the client listens on those ports too.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../services/config.js';
import { createLogger, silentLogger } from '../../services/log.js';
import { passthroughMedia } from '../../services/sip/b2bua/passthrough-media.js';
import { startSipService } from '../../services/pbx/sip-service.js';
import { openStore } from '../../services/store/index.js';

export interface WireResult {
  file: string;
  /** Status codes of the responses received, in order. */
  statuses: number[];
  /** Headers of the first response (name: value lines), for the 420/415/406 checks. */
  firstResponse: string | null;
}

const CORPUS = process.argv[2] ?? '';
const LISTEN_PORTS = [5060, 5050, 5070];
const MAX_WAIT_MS = 2000;
const GRACE_MS = 150;

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-torture-'));
  const config = loadConfig({ PBX_DATA_DIR: dataDir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  const store = openStore(dataDir);
  store.extensions.add({ number: '101', displayName: 'Torture', secret: 'torture-secret-101' });
  const logger = process.env.TORTURE_LOG ? createLogger('torture', 'debug') : silentLogger();
  // A fresh service per message: the corpus reuses branches (e.g. z9hG4bKkdjuw), so two files sent
  // back to back would rightly match one server transaction (§17.2.3) and get the first's answer.
  const start = () => startSipService({ config, store, logger, media: passthroughMedia, keepaliveSeconds: false });

  let inbox: Buffer[] = [];
  const sockets = await Promise.all(
    LISTEN_PORTS.map(
      (port) =>
        new Promise<dgram.Socket>((resolve, reject) => {
          const socket = dgram.createSocket('udp4');
          socket.on('message', (data) => inbox.push(data));
          socket.once('error', reject);
          socket.bind(port, '127.0.0.1', () => resolve(socket));
        }),
    ),
  );
  const sender = sockets[0]!;

  const results: WireResult[] = [];
  const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.dat')).sort();
  for (const file of files) {
    const sip = await start();
    const serverPort = sip.ports().udp ?? 0;
    inbox = [];
    const data = fs.readFileSync(path.join(CORPUS, file));
    await new Promise<void>((resolve) => sender.send(data, serverPort, '127.0.0.1', () => resolve()));
    // INVITE answers are retransmitted until ACKed (§17.2.1): keep only answers to this message.
    const callId = callIdOf(data.toString('latin1'));
    const answers = (): string[] => inbox.map((b) => b.toString('latin1')).filter((r) => callId === null || callIdOf(r) === callId);
    // Wait for a final answer (a loaded machine may be slow), then a little more for a duplicate.
    const deadline = Date.now() + MAX_WAIT_MS;
    while (Date.now() < deadline && !answers().some((r) => !r.startsWith('SIP/2.0 100'))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS));
    const responses = answers();
    results.push({
      file,
      statuses: responses.map((r) => Number(/^SIP\/2\.0 (\d{3})/.exec(r)?.[1] ?? 0)),
      firstResponse: responses[0]?.split('\r\n\r\n')[0] ?? null,
    });
    await sip.close();
  }

  const sip = await start();
  const serverPort = sip.ports().udp ?? 0;

  // Still alive and answering after the whole corpus.
  inbox = [];
  const ping = [
    `OPTIONS sip:127.0.0.1:${serverPort} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-alive-1;rport',
    'Max-Forwards: 70',
    'From: <sip:probe@127.0.0.1>;tag=alive',
    'To: <sip:127.0.0.1>',
    'Call-ID: alive-check@127.0.0.1',
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  sender.send(Buffer.from(ping), serverPort, '127.0.0.1');
  await new Promise((resolve) => setTimeout(resolve, MAX_WAIT_MS));
  const alive = inbox.some((b) => b.toString('latin1').startsWith('SIP/2.0 200'));

  process.stdout.write(JSON.stringify({ results, alive }) + '\n');
  for (const socket of sockets) socket.close();
  await sip.close();
  store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function callIdOf(message: string): string | null {
  const match = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(message);
  return match?.[1] ?? null;
}

main().catch((error: unknown) => {
  process.stderr.write(`torture runner failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
