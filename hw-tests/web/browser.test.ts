/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core) against a real pbx
 * process and the web server on the same data dir: first login and password change, a user
 * created, the extension's state changing when a test phone registers, a number mapped to a ring
 * group, the porting form with its DSL block and a pre-check rejection, then a request sent; and
 * every visible string changing with the language. Screenshots of the main pages in the four
 * languages go to docs/screenshots/ for review.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { failIfMissing } from '../support/environment.js';
import { register, UdpPeer } from '../support/sip-peer.js';
import { startPbx, type SipServerUnderTest } from '../support/sip-servers.js';
import { chromiumMissing, launchChromium, seedAdmin, startWebUi, type WebUnderTest } from '../support/web.js';
import { openStore } from '../../services/store/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SHOTS = path.join(REPO, 'docs', 'screenshots');
const LANGS = ['en', 'es', 'fr', 'sv'] as const;

type Dict = Record<string, string>;
function flatten(value: unknown, prefix = '', out: Dict = {}): Dict {
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') out[prefix + k] = v;
    else flatten(v, `${prefix}${k}.`, out);
  }
  return out;
}
const dictionaries = Object.fromEntries(LANGS.map((l) => [l, flatten(JSON.parse(fs.readFileSync(path.join(REPO, 'web-ui', 'locales', `${l}.json`), 'utf8')))])) as Record<(typeof LANGS)[number], Dict>;

describe('web UI in chromium', { timeout: 240_000 }, () => {
  let work: string;
  let pbx: SipServerUnderTest;
  let web: WebUnderTest;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let phone: UdpPeer | null = null;

  before(async () => {
    failIfMissing(chromiumMissing());
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-web-e2e-'));
    const dataDir = path.join(work, 'pbx-data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ country: 'FR' }));
    const seed = openStore(dataDir);
    seedAdmin(seed, 'printed-first-pw');
    seed.close();
    pbx = await startPbx({ users: [{ user: '102', password: 'secret-102-x' }], workDir: work });
    web = await startWebUi({ dataDir, country: 'FR' });
    browser = await launchChromium();
    context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await pbx?.stop();
    phone?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  it('logs in with the printed password and must change it first', async () => {
    await page.goto(`${web.url}/`);
    await page.locator('#login-form').waitFor();
    await shot('en-login');
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', 'wrong-password');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-form .form-notice.error', { hasText: 'Wrong user name or password.' }).waitFor();
    await page.fill('#f-password', 'printed-first-pw');
    await page.click('#login-form button[type=submit]');
    await page.locator('#password-form').waitFor();
    await page.fill('#f-current', 'printed-first-pw');
    await page.fill('#f-next', 'short');
    await page.click('#password-form button[type=submit]');
    await page.locator('[data-field="next"] .field-error', { hasText: 'Too short.' }).waitFor();
    await page.fill('#f-next', 'admin-own-password');
    await page.click('#password-form button[type=submit]');
    await page.locator('h1', { hasText: 'Dashboard' }).waitFor();
    assert.equal(web.store.users.byUsername('admin')?.mustChangePassword, false);
    await shot('en-dashboard');
  });

  it("creates a user and sees the extension's state change when a test phone registers", async () => {
    await page.goto(`${web.url}/admin/extensions`);
    await page.fill('#extension-form #f-number', '101');
    await page.fill('#extension-form #f-displayName', 'Alice Martin');
    await page.fill('#extension-form #f-secret', 'alice-sip-secret');
    await page.click('#extension-form button[type=submit]');
    const state = page.locator('[data-extension-state="101"]');
    await state.waitFor();
    assert.equal(await state.textContent(), 'Not registered');
    await page.goto(`${web.url}/admin/users`);
    await page.fill('#user-form #f-username', 'alice');
    await page.fill('#user-form #f-displayName', 'Alice Martin');
    await page.fill('#user-form #f-extension', '101');
    await page.fill('#user-form #f-password', 'alice-first-pw');
    await page.click('#user-form button[type=submit]');
    await page.locator('td', { hasText: 'alice' }).first().waitFor();
    assert.equal(web.store.users.byUsername('alice')?.extension, '101');

    phone = await UdpPeer.open();
    const res = await register(phone, { port: pbx.port }, { user: '101', contacts: [`<sip:101@127.0.0.1:${phone.port}>`], expires: 300 }, { password: 'alice-sip-secret' });
    assert.equal(res.final?.message.status, 200);
    await page.goto(`${web.url}/admin/extensions`);
    await page.locator('[data-extension-state="101"]', { hasText: /^Registered$/ }).waitFor();
    await shot('en-extensions');
  });

  it('maps a number to a ring group', async () => {
    await page.goto(`${web.url}/admin/ring-groups`);
    await page.fill('#ring-group-form #f-name', 'sales');
    await page.fill('#ring-group-form #f-extension', '600');
    await page.fill('#ring-group-form #f-members', '101, 102');
    await page.click('#ring-group-form button[type=submit]');
    await page.locator('td', { hasText: '101, 102' }).waitFor();
    await page.goto(`${web.url}/admin/numbers`);
    await page.fill('#number-form #f-number', '01 42 68 53 00');
    await page.selectOption('#number-form #f-destination', 'ring-group:sales');
    await page.click('#number-form button[type=submit]');
    await page.locator('[data-number-destination="+33142685300"]', { hasText: 'Ring group sales' }).waitFor();
    assert.deepEqual(web.store.numbers.get('+33142685300')?.destination, { kind: 'ring-group', name: 'sales' });
    await page.fill('#number-form #f-number', '09 70 00 00 01');
    await page.selectOption('#number-form #f-destination', 'extension:101');
    await page.click('#number-form button[type=submit]');
    await page.locator('[data-number-destination="+33970000001"]').waitFor();
    await shot('en-numbers');
  });

  it('fills the porting form: DSL blocks it, the pre-check rejects a wrong signature, then it is sent', async () => {
    await page.goto(`${web.url}/admin/porting`);
    await page.click('#start-porting');
    await page.selectOption('#f-numberType', 'landline');
    await page.fill('#f-provider', 'Orange');
    await page.fill('#f-accountNumber', 'FR-7788-1234');
    await page.selectOption('#f-connection', 'dsl-same-line');
    await page.locator('#dsl-note').waitFor({ state: 'visible' });
    await page.fill('#f-number-0', '01 44 55 66 77');
    await page.click('#add-number');
    await page.fill('#f-number-1', '01 44 55 66 78');
    await page.fill('#f-holderFirstName', 'Alice');
    await page.fill('#f-holderLastName', 'Martin');
    await page.fill('#f-street', '12 rue de Rivoli');
    await page.fill('#f-postalCode', '75004');
    await page.fill('#f-city', 'Paris');
    await page.selectOption('#f-primaryNumber', '+33970000001');
    await page.check('#f-termsAccepted');
    await page.fill('#f-signature', 'A. Martin');
    await page.click('#precheck');
    await page.locator('#precheck-findings li[data-code="dsl-same-line"]').waitFor();
    await page.locator('#precheck-findings li[data-code="signature-mismatch"]', { hasText: 'Alice Martin' }).waitFor();
    await shot('en-porting');
    await page.click('#submit-porting');
    await page.locator('.form-notice.error').waitFor();
    assert.equal(web.store.porting.list().length, 0, 'a blocked request is not sent');
    await page.selectOption('#f-connection', 'fiber');
    await page.fill('#f-signature', 'Alice Martin');
    await page.click('#precheck');
    await page.locator('#precheck-result h3', { hasText: 'No problem found' }).waitFor();
    await page.click('#submit-porting');
    await page.locator('ol.timeline li[data-step="submitted"].done').waitFor();
    assert.equal(web.store.porting.list()[0]?.status, 'submitted');
  });

  it('switches language: every visible string changes, numbers and money follow the locale', async () => {
    // The UI's own words, element by element: not the names and numbers it shows (a user called "Administrator").
    const leaves = async (url: string): Promise<Set<string>> => {
      await page.goto(url);
      await page.locator('h1').waitFor();
      if (url.endsWith('/porting')) await page.click('#start-porting');
      await page.waitForTimeout(100);
      const texts = await page.$$eval('header .brand, #logout, nav a, main *, #language option', (els) =>
        els.filter((e) => e.children.length === 0).map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()),
      );
      return new Set(texts.filter((x) => x !== ''));
    };
    for (const url of [`${web.url}/admin`, `${web.url}/admin/numbers`, `${web.url}/admin/porting`]) {
      await page.selectOption('#language', 'en');
      await page.locator('html[lang="en"]').waitFor();
      const english = await leaves(url);
      // English text → the keys that say it (several keys may share a word such as "Extension").
      const shown = new Map<string, string[]>();
      for (const [key, value] of Object.entries(dictionaries.en)) {
        if (!value.includes('{{') && english.has(value)) shown.set(value, [...(shown.get(value) ?? []), key]);
      }
      assert.ok(shown.size > 10, `${url}: ${shown.size} strings seen`);
      for (const lang of ['es', 'fr', 'sv'] as const) {
        await page.selectOption('#language', lang);
        await page.locator(`html[lang="${lang}"]`).waitFor();
        const text = await leaves(url);
        for (const [value, keys] of shown) {
          const translations = keys.map((k) => dictionaries[lang][k] ?? '');
          assert.ok(translations.some((x) => text.has(x)), `${url} in ${lang}: one of ${JSON.stringify(translations)} (${keys.join(', ')}) is shown`);
          if (translations.includes(value)) continue;
          assert.ok(!text.has(value), `${url} in ${lang}: English "${value}" (${keys.join(', ')}) is gone`);
        }
      }
    }
    await page.selectOption('#language', 'fr');
    await page.goto(`${web.url}/admin/numbers`);
    await page.locator('#numbers-total').waitFor();
    assert.match((await page.locator('#numbers-total').innerText()).replace(/\u00a0|\u202f/g, ' '), /9,95 €/);
    await page.selectOption('#language', 'sv');
    await page.locator('#numbers-total').waitFor();
    assert.match((await page.locator('#numbers-total').innerText()).replace(/\u00a0|\u202f/g, ' '), /9,95 €/);
  });

  it('saves screenshots of the main pages in the four languages', async () => {
    for (const lang of LANGS) {
      await page.goto(`${web.url}/admin`);
      await page.selectOption('#language', lang);
      await page.locator(`html[lang="${lang}"]`).waitFor();
      for (const [name, url] of [['dashboard', '/admin'], ['extensions', '/admin/extensions'], ['numbers', '/admin/numbers'], ['porting', '/admin/porting'], ['diagnostics', '/admin/diagnostics'], ['my-phone', '/me']] as const) {
        await page.goto(`${web.url}${url}`);
        await page.locator('h1').waitFor();
        await page.waitForTimeout(150);
        await shot(`${lang}-${name}`);
      }
    }
    // The same portal on a phone screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${web.url}/admin/numbers`);
    await page.locator('h1').waitFor();
    await shot('sv-numbers-phone');
    for (const lang of LANGS) assert.ok(fs.existsSync(path.join(SHOTS, `${lang}-porting.png`)));
  });
});
