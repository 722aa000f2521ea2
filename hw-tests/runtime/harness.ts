/**
 * The pbx as a real process for the runtime tests (crash recovery, call records): a data dir with
 * extensions, a SIP port fixed across restarts (a restarted pbx must be where the phones are
 * registered), free WS/TLS ports, an RTP range of its own, and sip.js phones pointed at it.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnPbx, type PbxChild } from '../../services/pbx/spawn-pbx.js';
import { openStore } from '../../services/store/index.js';
import { pbxListenEnv } from '../support/pbx-env.js';
import { SipPhone } from '../support/sip-phone.js';

export interface PhoneSpec {
  number: string;
  secret: string;
}

/**
 * A port free for both UDP and TCP on 127.0.0.1 right now, below the kernel's ephemeral range: the
 * SIP port stays fixed across restarts, and while the pbx is down a port in the ephemeral range can
 * be taken by any other test's outgoing connection or port-0 bind (seen: EADDRINUSE on restart).
 * Above 30200, clear of the tests' RTP ranges (20000–29999) and the pbx's default (10000–20000).
 */
export async function freeSipPort(): Promise<number> {
  const ephemeralMin = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const low = 30200;
  const high = ephemeralMin > low + 100 ? ephemeralMin - 1 : 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    const wanted = high > 0 ? low + Math.floor(Math.random() * (high - low)) : 0;
    const server = net.createServer();
    const port = await new Promise<number | null>((resolve) => {
      server.once('error', () => resolve(null));
      server.listen(wanted, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    if (port === null) continue;
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (ok) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (ok) return port;
  }
  throw new Error('no free port');
}

export interface RuntimePbx {
  dir: string;
  port: number;
  env: Record<string, string>;
  child: PbxChild;
  start(): Promise<PbxChild>;
  phone(spec: PhoneSpec): Promise<SipPhone>;
  close(): Promise<void>;
}

/** `prepare` runs on the data dir before the first start (e.g. copy a TLS certificate in: generating one is slow under load). */
export async function createRuntimePbx(phones: PhoneSpec[], config: Record<string, unknown> = {}, options: { prepare?(dir: string): void } = {}): Promise<RuntimePbx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-runtime-'));
  const store = openStore(dir);
  for (const p of phones) store.extensions.add({ number: p.number, displayName: `Phone ${p.number}`, secret: p.secret });
  store.close();
  options.prepare?.(dir);
  if (Object.keys(config).length > 0) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const port = await freeSipPort();
  const base = 20000 + 2 * Math.floor(Math.random() * 4900);
  const env: Record<string, string> = {
    ...pbxListenEnv(dir, port),
    PBX_RTP_PORT_MIN: String(base),
    PBX_RTP_PORT_MAX: String(base + 99),
    // sip.js answers only the first challenge, and only MD5 (hw-tests/support/README.md).
    PBX_SIP_DIGEST_ALGORITHMS: 'MD5',
  };
  const started: SipPhone[] = [];
  const pbx: RuntimePbx = {
    dir,
    port,
    env,
    child: spawnPbx(env),
    async start() {
      pbx.child = spawnPbx(env);
      await pbx.child.waitFor(/"msg":"pbx started"/, 20_000);
      return pbx.child;
    },
    async phone(spec) {
      const phone = await SipPhone.start({ user: spec.number, password: spec.secret, pbx: { address: '127.0.0.1', port } });
      started.push(phone);
      await phone.register();
      return phone;
    },
    async close() {
      for (const phone of started) await phone.stop().catch(() => undefined);
      await pbx.child.stop('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await pbx.child.waitFor(/"msg":"pbx started"/, 20_000);
  return pbx;
}
