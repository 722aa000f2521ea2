/**
 * What every in-process pbx harness starts from (hw-tests/media/harness.ts, hw-tests/routing/office-pbx.ts,
 * hw-tests/trunk/harness.ts): a data dir of its own, the config with every SIP listener on a free
 * loopback port, the real store holding the extensions, a media engine on an RTP range of its own
 * (parallel test files must not fight over ports), and sip.js phones registered to it. Each harness
 * adds its own wiring between `startPbxBase` and `base.phones(...)`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type RuntimeConfig } from '../../services/config.js';
import { silentLogger, type Logger } from '../../services/log.js';
import { createMediaEngine, type MediaEngine } from '../../services/media/engine.js';
import { openStore } from '../../services/store/index.js';
import type { Language, Store } from '../../services/store/types.js';
import { SipPhone, type PhoneOptions } from './sip-phone.js';

export interface BaseExtension {
  number: string;
  secret: string;
  language?: Language;
}

export interface PbxBaseOptions {
  /** the temp dir's prefix, so a leftover dir names its test */
  prefix: string;
  extensions: BaseExtension[];
  /** more environment for loadConfig (the SIP ports are 0 already) */
  env?: Record<string, string>;
  /** written as <dir>/config.json before the config is loaded */
  configFile?: unknown;
  logger?: Logger;
}

export interface PbxBase {
  dir: string;
  config: RuntimeConfig;
  store: Store;
  engine: MediaEngine;
  logger: Logger;
  rtpRange: { min: number; max: number };
  /** `phone(user)` registers a sip.js phone of one of the extensions to `address`; `close()` stops them, runs `teardown`, then frees the engine, store and dir. */
  phones(address: { address: string; port: number }, teardown: () => Promise<void> | void): {
    phone(user: string, options?: Partial<PhoneOptions>): Promise<SipPhone>;
    close(): Promise<void>;
  };
}

export async function startPbxBase(o: PbxBaseOptions): Promise<PbxBase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
  if (o.configFile !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(o.configFile));
  const config = loadConfig({
    PBX_DATA_DIR: dir,
    PBX_SIP_PORT: '0',
    PBX_SIP_TLS_PORT: '0',
    PBX_SIP_WS_PORT: '0',
    PBX_SIP_WSS_PORT: '0',
    ...o.env,
  });
  const store = openStore(dir);
  for (const e of o.extensions) {
    store.extensions.add({ number: e.number, displayName: `Phone ${e.number}`, secret: e.secret, ...(e.language && { language: e.language }) });
  }
  const base = 20000 + 2 * Math.floor(Math.random() * 4900);
  const rtpRange = { min: base, max: base + 199 };
  const logger = o.logger ?? silentLogger();
  const engine = await createMediaEngine({ bind: '127.0.0.1', portMin: rtpRange.min, portMax: rtpRange.max, logger });
  return {
    dir,
    config,
    store,
    engine,
    logger,
    rtpRange,
    phones(address, teardown) {
      const started: SipPhone[] = [];
      return {
        async phone(user, options = {}) {
          const ext = o.extensions.find((e) => e.number === user);
          if (!ext) throw new Error(`no extension ${user}`);
          const phone = await SipPhone.start({ user, password: ext.secret, pbx: address, ...options });
          started.push(phone);
          await phone.register();
          return phone;
        },
        async close() {
          for (const p of started) await p.stop();
          await teardown();
          engine.close();
          store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}
