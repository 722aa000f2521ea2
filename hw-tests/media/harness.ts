/**
 * The PBX as the listening tests need it: a real store in a temp dir, the SIP service on free
 * loopback ports, the media engine (native relay) on a port range of its own per test file, calls
 * anchored through it, and the PBX's own applications (echo test, conference rooms). Plus helpers
 * to register sip.js phones and to listen to what they received.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../services/config.js';
import { silentLogger } from '../../services/log.js';
import { detectTones } from '../../services/media/dsp/goertzel.js';
import { powerToDbm0 } from '../../services/media/dsp/levels.js';
import { createMediaEngine, type MediaEngine } from '../../services/media/engine.js';
import { anchoredMedia } from '../../services/pbx/anchored-media.js';
import { createApplications, type PbxApplications } from '../../services/pbx/features/applications.js';
import { startSipService, type SipService } from '../../services/pbx/sip-service.js';
import { openStore } from '../../services/store/index.js';
import type { Language, Store } from '../../services/store/types.js';
import { SipPhone, type PhoneOptions } from '../phones/sip-phone.js';

export interface TestPbx {
  dir: string;
  store: Store;
  engine: MediaEngine;
  sip: SipService;
  applications: PbxApplications;
  address: { address: string; port: number };
  rtpRange: { min: number; max: number };
  phone(user: string, options?: Partial<PhoneOptions>): Promise<SipPhone>;
  close(): Promise<void>;
}

export interface TestExtension {
  number: string;
  secret: string;
  language?: Language;
}

export async function startTestPbx(extensions: TestExtension[]): Promise<TestPbx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'media-listen-'));
  const config = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  const store = openStore(dir);
  for (const e of extensions) {
    store.extensions.add({ number: e.number, displayName: `Phone ${e.number}`, secret: e.secret, ...(e.language && { language: e.language }) });
  }
  // A range of our own: parallel test files must not fight over RTP ports.
  const base = 20000 + 2 * Math.floor(Math.random() * 4900);
  const rtpRange = { min: base, max: base + 199 };
  const logger = silentLogger();
  const engine = await createMediaEngine({ bind: '127.0.0.1', portMin: rtpRange.min, portMax: rtpRange.max, logger });
  const applications = createApplications({ engine, extensions: store.extensions, logger });
  const sip = await startSipService({ config, store, logger, media: anchoredMedia(engine), applications, keepaliveSeconds: false });
  const address = { address: '127.0.0.1', port: sip.ports().udp ?? 0 };
  const phones: SipPhone[] = [];
  return {
    dir,
    store,
    engine,
    sip,
    applications,
    address,
    rtpRange,
    async phone(user, options = {}) {
      const ext = extensions.find((e) => e.number === user);
      if (!ext) throw new Error(`no extension ${user}`);
      const phone = await SipPhone.start({ user, password: ext.secret, pbx: address, ...options });
      phones.push(phone);
      await phone.register();
      return phone;
    },
    async close() {
      for (const p of phones) await p.stop();
      await sip.close();
      applications.close();
      engine.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Level in dBm0 of each frequency in `pcm` (Hann-windowed Goertzel). */
export function levels(pcm: Int16Array, freqs: readonly number[]): number[] {
  if (pcm.length === 0) return freqs.map(() => -Infinity);
  return [...detectTones(pcm, freqs)].map((p) => powerToDbm0(p));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** "f: level" list for assertion messages. */
export function describeLevels(freqs: readonly number[], dbm0: readonly number[]): string {
  return freqs.map((f, i) => `${f} Hz ${(dbm0[i] as number).toFixed(1)} dBm0`).join(', ');
}
