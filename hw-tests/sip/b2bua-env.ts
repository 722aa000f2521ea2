/**
 * The B2BUA tests' PBX: a real store and SIP service in a temp dir (media passed through, no
 * keepalive), the given extensions, SIP on a free UDP port of 127.0.0.1, and a SIPp CSV of the caller.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../services/config.js';
import { silentLogger } from '../../services/log.js';
import { startSipService, type SipService } from '../../services/pbx/sip-service.js';
import { passthroughMedia } from '../../services/sip/b2bua/passthrough-media.js';
import { openStore } from '../../services/store/index.js';
import type { Store } from '../../services/store/types.js';
import { writeUserCsv } from '../support/sipp.js';

export interface SipUser {
  readonly user: string;
  readonly password: string;
}

export interface B2buaEnv {
  readonly dir: string;
  readonly store: Store;
  readonly sip: SipService;
  /** The UDP port of the SIP service. */
  readonly port: number;
  /** `127.0.0.1:port`, for SIPp. */
  readonly target: string;
  /** SIPp's injection file with the caller's credentials. */
  readonly callerCsv: string;
  close(): Promise<void>;
}

export async function startB2buaEnv(opts: {
  /** The temp dir's prefix. */
  name: string;
  caller: SipUser;
  users: readonly SipUser[];
  /** config.json of the data dir, when the test needs one. */
  config?: Record<string, unknown>;
}): Promise<B2buaEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.name}-`));
  if (opts.config !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(opts.config));
  const config = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  const store = openStore(dir);
  for (const user of [opts.caller, ...opts.users]) store.extensions.add({ number: user.user, displayName: `User ${user.user}`, secret: user.password });
  const sip = await startSipService({ config, store, logger: silentLogger(), media: passthroughMedia, keepaliveSeconds: false });
  const port = sip.ports().udp ?? 0;
  return {
    dir,
    store,
    sip,
    port,
    target: `127.0.0.1:${port}`,
    callerCsv: writeUserCsv(path.join(dir, 'caller.csv'), [opts.caller]),
    async close() {
      await sip.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
