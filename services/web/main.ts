/**
 * The `web` process (its own pm2 app): the admin and end-user portals and the REST API over HTTPS
 * on PBX_HTTP_PORT, with the box's certificate (<dataDir>/tls, the one SIP TLS uses). A crash or a
 * restart of this process drops no call: it holds none.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger, flushLogs } from '../log.js';
import { compactAfterStart } from '../memory/keeper.js';
import { countryCode } from '../pbx/routing/phone-numbers.js';
import { openStore } from '../store/index.js';
import { ensureCertificate } from '../tls/certificate.js';
import { ctlLiveState } from './live.js';
import { createWebApp } from './server.js';

process.title = 'pbx-web';

const SESSION_SECRET_SETTING = 'web.session_secret';

function packageVersion(): string {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`web: bad configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger('web', { level: config.log.level, dir: config.log.dir, stdout: config.log.stdout });
  const store = openStore(config.dataDir, { defaultLanguage: config.defaultLanguage });
  let secret = store.settings.get<string | null>(SESSION_SECRET_SETTING, null);
  if (typeof secret !== 'string' || secret.length < 32) {
    secret = crypto.randomBytes(32).toString('base64url');
    store.settings.set(SESSION_SECRET_SETTING, secret);
  }
  const certificate = await ensureCertificate(config.dataDir);
  const app = createWebApp({
    store,
    live: ctlLiveState(config.ctlSocket),
    log,
    country: countryCode(config.country),
    dataDir: config.dataDir,
    version: packageVersion(),
    sessionSecret: secret,
  });
  const server = https.createServer({ key: certificate.key, cert: certificate.cert }, app);
  server.on('error', (error) => {
    log.fatal({ err: error, port: config.httpPort }, 'web UI cannot listen');
    void flushLogs().then(() => process.exit(1));
  });
  server.listen(config.httpPort, config.bind, () => {
    const { port } = server.address() as AddressInfo;
    const host = config.bind.includes(':') ? `[${config.bind}]` : config.bind;
    log.info({ url: `https://${host}:${port}/` }, 'web UI listening');
    void compactAfterStart({ logger: log });
  });
  const purge = setInterval(() => store.webSessions.purgeExpired(Date.now()), 3600_000);
  purge.unref();
  const stop = (): void => {
    clearInterval(purge);
    server.close(() => {
      store.close();
      void flushLogs().then(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main().catch((error: unknown) => {
  process.stderr.write(`web: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
