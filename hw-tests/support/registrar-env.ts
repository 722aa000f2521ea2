/**
 * Test support: a real store + SIP stack + registration service in a temp dir, on free loopback
 * ports, for the registrar and authenticator tests (their phones are `UdpPeer`s of sip-peer.ts).
 * REGISTER goes to the registrar; MESSAGE stands for the B2BUA's INVITE path (proxy-style 407).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '../../services/log.js';
import { openStore } from '../../services/store/index.js';
import type { Store } from '../../services/store/types.js';
import { createSipStack, type SipStack } from '../../services/sip/stack.js';
import { admissionOf, createAccessPolicy, createRegistrationService, type RegistrationService, type RegistrationServiceOptions } from '../../services/sip/registrar/index.js';

export const REALM = 'pbx.test';

export interface Env {
  dir: string;
  store: Store;
  stack: SipStack;
  service: RegistrationService;
  port: number;
  /** Closes service, stack and store; keeps the data dir (for restart tests) unless `wipe`. */
  close(wipe?: boolean): Promise<void>;
}

export interface EnvOptions {
  dir?: string;
  nonceLifetimeMs?: number;
  auth?: RegistrationServiceOptions['auth'];
  registrar?: RegistrationServiceOptions['registrar'];
  keepalive?: RegistrationServiceOptions['keepalive'];
  /** Transaction timer T1 (ms); short values make keepalive timeouts quick. */
  t1?: number;
  logger?: Logger;
  extensions?: Array<{ number: string; secret: string }>;
  digestAlgorithms?: RegistrationServiceOptions['digestAlgorithms'];
}

export async function startEnv(options: EnvOptions = {}): Promise<Env> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-'));
  const store = openStore(dir);
  for (const ext of options.extensions ?? [
    { number: '101', secret: 's3cret-101' },
    { number: '102', secret: 's3cret-102' },
  ]) {
    if (store.extensions.get(ext.number) === null) store.extensions.add({ number: ext.number, displayName: `Ext ${ext.number}`, secret: ext.secret });
  }
  const logger = options.logger ?? silentLogger();
  // As the pbx process does: one access policy before the stack, shared with the authenticator.
  const access = createAccessPolicy({ store, auth: options.auth ?? { maxFailures: 5, windowSeconds: 60, blockSeconds: 300 }, logger });
  const stack = await createSipStack({
    admit: admissionOf(access),
    bind: '127.0.0.1',
    udpPort: 0,
    tcpPort: 0,
    logger,
    validate: { supportedExtensions: [], acceptedContentTypes: ['application/sdp'], isProxyOrB2bua: true },
    // The floods here come from this same process on a shared 2-core box: its event-loop lag is the
    // test's own, not an overload to shed (shedding has its own test, hw-tests/sip/overload.test.ts).
    overload: { maxEventLoopLagMs: 5000, maxEventLoopUtilization: 2 },
    ...(options.t1 !== undefined && { timers: { T1: options.t1 } }),
  });
  const service = createRegistrationService({
    store,
    realm: REALM,
    registrar: options.registrar ?? { minExpires: 60, maxExpires: 3600, defaultExpires: 600 },
    access,
    transactions: stack.transactions,
    localEndpoint: (t) => stack.localEndpoint(t),
    keepalive: options.keepalive ?? false,
    ...(options.nonceLifetimeMs !== undefined && { nonceLifetimeMs: options.nonceLifetimeMs }),
    ...(options.digestAlgorithms !== undefined && { digestAlgorithms: options.digestAlgorithms }),
    logger,
  });
  stack.transactions.onRequest((txn) => {
    if (txn.request.method === 'REGISTER') service.registrar.handleRegister(txn);
    else if (txn.request.method === 'MESSAGE') {
      // Stands for the B2BUA's INVITE path: proxy-style authentication (407).
      if (service.authenticator.authenticate(txn, 'proxy').ok) txn.respond(200);
    } else txn.respond(405, { headers: [{ name: 'Allow', value: 'REGISTER, MESSAGE' }] });
  });
  const port = stack.ports().udp ?? 0;
  return {
    dir,
    store,
    stack,
    service,
    port,
    async close(wipe = true) {
      service.close();
      await stack.close();
      store.close();
      if (wipe) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
