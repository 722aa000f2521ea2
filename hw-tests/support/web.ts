/**
 * The web UI under test and the two clients that drive it: `WebClient`, a cookie-keeping HTTPS
 * client of the REST API (roles, CSRF, validation tests), and `launchChromium`, Debian's chromium
 * driven by playwright-core (end-to-end tests and screenshots). The server is the real express app
 * over HTTPS with the box's generated certificate, on a port the kernel picks.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../services/log.js';
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import { openStore, type Store } from '../../services/store/index.js';
import { ensureCertificate } from '../../services/tls/certificate.js';
import { ctlLiveState, type LiveState } from '../../services/web/live.js';
import { createWebApp, SESSION_COOKIE } from '../../services/web/server.js';

export interface WebUnderTest {
  url: string;
  port: number;
  store: Store;
  dataDir: string;
  /** The certificate's PEM, to trust it in WebClient. */
  ca: string;
  close(): Promise<void>;
}

export interface WebOptions {
  dataDir?: string;
  /** The pbx's control socket; default `<dataDir>/pbx.sock` (absent: the pbx is "down"). */
  ctlSocket?: string;
  live?: LiveState;
  country?: string;
  loginAttempts?: number;
  uploadLimits?: { firmwareBytes?: number; restoreBytes?: number };
}

export async function startWebUi(options: WebOptions = {}): Promise<WebUnderTest> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-web-'));
  const store = openStore(dataDir);
  const certificate = await ensureCertificate(dataDir);
  const app = createWebApp({
    store,
    live: options.live ?? ctlLiveState(options.ctlSocket ?? path.join(dataDir, 'pbx.sock'), 1000),
    log: createLogger('web', process.env.WEB_TEST_LOG === '1' ? 'info' : 'silent'),
    country: countryCode(options.country ?? 'FR'),
    dataDir,
    version: 'test',
    sessionSecret: 'test-secret-test-secret-test-secret',
    ...(options.loginAttempts !== undefined && { loginAttempts: options.loginAttempts }),
    ...(options.uploadLimits !== undefined && { uploadLimits: options.uploadLimits }),
  });
  const server = https.createServer({ key: certificate.key, cert: certificate.cert }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    store,
    dataDir,
    ca: certificate.cert,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      store.close();
    },
  };
}

export interface WebResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

/** A browser-like API client: keeps the session cookie, sends the CSRF token it was given. */
export class WebClient {
  #cookie: string | null = null;
  csrfToken: string | null = null;

  constructor(readonly web: Pick<WebUnderTest, 'port' | 'ca'>) {}

  get cookie(): string | null {
    return this.#cookie;
  }

  request<T = Record<string, unknown>>(method: string, urlPath: string, body?: unknown, opts: { csrf?: string | null; rawBody?: string } = {}): Promise<WebResponse<T>> {
    const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.#cookie !== null) headers['cookie'] = this.#cookie;
    const csrf = opts.csrf === undefined ? this.csrfToken : opts.csrf;
    if (csrf !== null && method !== 'GET') headers['x-csrf-token'] = csrf;
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: this.web.port, method, path: urlPath, headers, ca: this.web.ca, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of res.headers['set-cookie'] ?? []) {
            const [pair] = c.split(';');
            if (pair?.startsWith(`${SESSION_COOKIE}=`)) this.#cookie = pair;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            parsed = null;
          }
          const token = (parsed as { csrfToken?: unknown } | null)?.csrfToken;
          if (typeof token === 'string') this.csrfToken = token;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
        });
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10 s`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Sends `bytes` as the request body (an upload as the browser's fetch sends a File). `declare`
   * announces another Content-Length; `cut` sends only that many bytes and then closes the
   * connection (a truncated upload); `chunked` sends no length at all.
   */
  upload<T = Record<string, unknown>>(urlPath: string, bytes: Uint8Array, opts: { name?: string; type?: string; declare?: number; cut?: number; chunked?: boolean; sha256?: string; headersOnly?: boolean } = {}): Promise<WebResponse<T> | { status: 'reset'; error: string }> {
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': opts.type ?? 'application/octet-stream' };
    if (!opts.chunked) headers['content-length'] = String(opts.declare ?? bytes.length);
    if (opts.name !== undefined) headers['x-file-name'] = encodeURIComponent(opts.name);
    if (opts.sha256 !== undefined) headers['x-content-sha256'] = opts.sha256;
    if (this.#cookie !== null) headers['cookie'] = this.#cookie;
    if (this.csrfToken !== null) headers['x-csrf-token'] = this.csrfToken;
    return new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: this.web.port, method: 'POST', path: urlPath, headers, ca: this.web.ca, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
          req.destroy();
        });
      });
      req.on('error', (error) => resolve({ status: 'reset', error: error.message }));
      req.setTimeout(20_000, () => req.destroy(new Error(`upload ${urlPath}: no answer in 20 s`)));
      if (opts.headersOnly) {
        req.flushHeaders();
        return;
      }
      if (opts.cut !== undefined) {
        req.write(bytes.subarray(0, opts.cut), () => setTimeout(() => req.destroy(), 100));
        return;
      }
      req.end(bytes);
    });
  }

  async login(username: string, password: string): Promise<WebResponse> {
    return this.request('POST', '/api/session', { username, password });
  }
}

/** Debian's chromium binary (the /usr/bin/chromium wrapper is a shell script). */
export const CHROMIUM = '/usr/lib/chromium/chromium';

export function chromiumMissing(): string | false {
  return fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
}

/** Where the browser tests save their screenshots for review (docs/screenshots/). */
export const SCREENSHOTS = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'), 'docs', 'screenshots');

/** A page in a context of its own (the box's self-signed certificate accepted), 15 s per step. */
export async function openPage(browser: Browser, o: { locale?: string; width?: number; height?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: o.locale ?? 'en-US', viewport: { width: o.width ?? 1100, height: o.height ?? 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/** The login form at `url`, filled and sent (what comes next, e.g. the forced password change, is the caller's). */
export async function logIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('#f-username', username);
  await page.fill('#f-password', password);
  await page.click('#login-form button[type=submit]');
}

/** docs/screenshots/NAME.png of the whole page. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** An office with an admin whose first password is `password` (to be changed at first login). */
export function seedAdmin(store: Store, password = 'first-start-pw'): void {
  if (store.users.byUsername('admin') === null) store.users.add({ username: 'admin', displayName: 'Administrator', role: 'admin', password, mustChangePassword: true });
}
