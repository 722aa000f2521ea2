/**
 * Voicemail and fax pages in a real browser (Debian's chromium driven by playwright-core) against a
 * real pbx process and the web server on the same data dir:
 * - a message left in Alice's box (the voicemail storage module, a 1 kHz tone); her phone registers
 *   and its message lamp is on (NOTIFY "Messages-Waiting: yes"); she opens My voicemail, presses
 *   play: the <audio> element really plays it (its time advances to the end), the message becomes
 *   saved, and her phone gets NOTIFY "Messages-Waiting: no" from the pbx;
 * - she uploads a greeting and changes her PIN;
 * - she sends a fax from My faxes (a PDF made by ghostscript): `pbxctl fax list --json` shows it,
 *   and the page follows its status; a number abroad without the permission is refused in her
 *   language and nothing is queued;
 * - the admin's Voicemail page (counts, a box turned off, a PIN reset) and Faxes page;
 * - every visible string of the new pages changes with the language; screenshots in
 *   docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { encodeWav } from '../../services/media/wav/wav.js';
import { openStore } from '../../services/store/index.js';
import { makePdf } from '../fax/documents.js';
import { failIfMissing } from '../support/environment.js';
import { register, UdpPeer, type Received } from '../support/sip-peer.js';
import { startPbx, type SipServerUnderTest } from '../support/sip-servers.js';
import { leaveToneMessage } from '../support/voicemail-box.js';
import { chromiumMissing, launchChromium, logIn, openPage, screenshot, startWebUi, type WebUnderTest } from '../support/web.js';
import { checkLanguages, dictionaries, LANGS, type LanguageCheck } from '../support/web-languages.js';

/** The strings of the pages this file adds: the voicemail and fax keys shown in English. */
const NEW_PAGES: LanguageCheck = { selector: 'nav a, main *', keys: (k) => k.startsWith('voicemail.') || k.startsWith('fax.'), minShown: 5 };

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PBXCTL = path.join(REPO, 'dist', 'bin', 'pbxctl.js');

/** What the test reads of an <audio> element inside the page (this file is compiled without the DOM types). */
type AudioElement = { currentTime: number; duration: number; played: { length: number; end(i: number): number }; addEventListener(event: string, f: () => void): void; setAttribute(name: string, value: string): void };

function pbxctl(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dataDir, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The message-summary NOTIFYs a phone received (RFC 3842 body). */
function mwiNotifies(phone: UdpPeer): Array<{ waiting: string; counts: string }> {
  return phone.received
    .filter((r: Received) => r.message?.kind === 'request' && r.message.method === 'NOTIFY' && r.data.toString('latin1').includes('Messages-Waiting'))
    .map((r) => {
      const text = r.data.toString('latin1');
      return { waiting: /Messages-Waiting:\s*(\w+)/.exec(text)?.[1] ?? '', counts: /Voice-Message:\s*(\S+)/.exec(text)?.[1] ?? '' };
    });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('voicemail and fax pages in chromium', { timeout: 240_000 }, () => {
  let work: string;
  let dataDir: string;
  let pbx: SipServerUnderTest;
  let web: WebUnderTest;
  let browser: Browser;
  let alice: BrowserContext;
  let page: Page;
  let phone: UdpPeer | null = null;
  let messageId = 0;

  before(async () => {
    failIfMissing(chromiumMissing());
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-web-vm-'));
    dataDir = path.join(work, 'pbx-data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ country: 'FR' }));
    // An admin who already chose their password (the first-login change is browser.test.ts's).
    const seed = openStore(dataDir);
    seed.users.add({ username: 'admin', displayName: 'Administrator', role: 'admin', password: 'admin-own-password', mustChangePassword: false });
    seed.close();
    pbx = await startPbx({ users: [{ user: '101', password: 'alice-sip-secret' }, { user: '102', password: 'bob-sip-secret-2' }], workDir: work });
    web = await startWebUi({ dataDir, country: 'FR' });
    const store = web.store;
    store.users.add({ username: 'alice', displayName: 'Alice Martin', role: 'user', extension: '101', password: 'alice-own-password', mustChangePassword: false, language: 'en' });
    store.voicemail.setBox('101', { enabled: true });
    store.numbers.add('+33142685309', { kind: 'fax', extension: '101' });
    messageId = (await leaveToneMessage(dataDir, store, '101', { seconds: 3, freq: 1000, caller: '102', callerName: 'Bob Durand' })).id;
    browser = await launchChromium();
    ({ context: alice, page } = await openPage(browser));
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await pbx?.stop();
    phone?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const shot = (p: Page, name: string) => screenshot(p, name);

  async function screenshots(p: Page, pages: Array<[string, string]>): Promise<void> {
    for (const lang of LANGS) {
      await p.selectOption('#language', lang);
      await p.locator(`html[lang="${lang}"]`).waitFor();
      for (const [name, url] of pages) {
        await p.goto(`${web.url}${url}`);
        await p.locator('h1').waitFor();
        await p.waitForTimeout(150);
        await shot(p, `${lang}-${name}`);
      }
    }
  }

  it("plays a voicemail in the page: the audio really plays, the message becomes saved, the phone's lamp goes out", async () => {
    phone = await UdpPeer.open();
    const res = await register(phone, { port: pbx.port }, { user: '101', contacts: [`<sip:101@127.0.0.1:${phone.port}>`], expires: 300 }, { password: 'alice-sip-secret' });
    assert.equal(res.final?.message.status, 200);
    const p = phone;
    await until('NOTIFY Messages-Waiting: yes', () => mwiNotifies(p).some((n) => n.waiting === 'yes' && n.counts.startsWith('1/0')));

    await logIn(page, web.url, 'alice', 'alice-own-password');
    await page.locator('nav a[href="/me/voicemail"]').click();
    await page.locator('h1', { hasText: 'My voicemail' }).waitFor();
    const state = page.locator(`[data-message-folder="${messageId}"]`);
    assert.equal(await state.textContent(), 'New');
    assert.equal(await page.locator('#vm-counts').textContent(), '1 new, 0 saved');
    await page.locator('td', { hasText: 'Bob Durand (102)' }).waitFor();
    await shot(page, 'en-my-voicemail');

    const audio = page.locator(`audio[data-message-audio="${messageId}"]`);
    await audio.evaluate((el) => {
      const a = el as unknown as AudioElement;
      a.addEventListener('ended', () => a.setAttribute('data-ended', 'yes'));
    });
    // The play button of chromium's own controls, at the left of the bar: a real click, a user gesture.
    const box = await audio.boundingBox();
    assert.ok(box !== null);
    await audio.click({ position: { x: 20, y: box.height / 2 } });
    await page.locator(`audio[data-message-audio="${messageId}"][data-ended="yes"]`).waitFor({ timeout: 20_000 });
    const played = await audio.evaluate((el) => {
      const a = el as unknown as AudioElement;
      return { currentTime: a.currentTime, duration: a.duration, played: a.played.length > 0 ? a.played.end(a.played.length - 1) : 0 };
    });
    assert.ok(Math.abs(played.duration - 3) < 0.1, `the 3 s message (duration ${played.duration})`);
    assert.ok(played.played > 2.9, `played to the end (${played.played} s)`);
    await page.locator(`[data-message-folder="${messageId}"]`, { hasText: 'Saved' }).waitFor();
    assert.equal(await page.locator('#vm-counts').textContent(), '0 new, 1 saved');
    assert.equal(web.store.voicemail.get(messageId)?.folder, 'old');
    // The pbx heard about it from the web (control socket) and told the phone.
    await until('NOTIFY Messages-Waiting: no', () => mwiNotifies(p).some((n) => n.waiting === 'no' && n.counts.startsWith('0/1')));
    // Marked new again from the page: the lamp comes back.
    await page.locator(`[data-message-toggle="${messageId}"]`).click();
    await page.locator(`[data-message-folder="${messageId}"]`, { hasText: 'New' }).waitFor();
    assert.equal(web.store.voicemail.get(messageId)?.folder, 'new');
    const yesCount = mwiNotifies(p).filter((n) => n.waiting === 'yes').length;
    await until('NOTIFY Messages-Waiting: yes again', () => mwiNotifies(p).filter((n) => n.waiting === 'yes').length > yesCount);
  });

  it('uploads a greeting and changes the PIN; a bad PIN is explained next to the field', async () => {
    const wav = path.join(work, 'greeting.wav');
    fs.writeFileSync(wav, encodeWav(new Int16Array(44100).map((_, i) => Math.round(5000 * Math.sin(i / 7))), 'pcm16', 22050));
    await page.setInputFiles('#vm-greeting-form-unavailable-file', wav);
    await page.click('#vm-greeting-form-unavailable button[type=submit]');
    await page.locator('#vm-greeting-form-unavailable audio').waitFor();
    assert.ok(fs.existsSync(path.join(dataDir, 'voicemail', '101', 'greeting-unavailable.wav')));
    const bad = path.join(work, 'notes.wav');
    fs.writeFileSync(bad, 'these are my notes, not a recording');
    await page.setInputFiles('#vm-greeting-form-busy-file', bad);
    await page.click('#vm-greeting-form-busy button[type=submit]');
    await page.locator('#vm-greeting-form-busy .form-notice.error', { hasText: dictionaries.en['errors.not-wav'] as string }).waitFor();
    assert.ok(!fs.existsSync(path.join(dataDir, 'voicemail', '101', 'greeting-busy.wav')));

    await page.fill('#vm-settings-form #f-pin', '12');
    await page.click('#vm-settings-form button[type=submit]');
    await page.locator('#vm-settings-form [data-field="pin"] .field-error', { hasText: /\S/ }).waitFor();
    assert.equal(web.store.extensions.get('101')?.voicemailPin, null);
    await page.fill('#vm-settings-form #f-pin', '4826');
    await page.uncheck('#vm-settings-form #f-emailEnabled');
    await page.click('#vm-settings-form button[type=submit]');
    await page.locator('#vm-settings-form .form-notice.ok').waitFor();
    assert.equal(web.store.extensions.get('101')?.voicemailPin, '4826');
    assert.equal(web.store.voicemail.box('101')?.emailEnabled, false);
  });

  it('sends a fax from My faxes: pbxctl lists it, the page follows its status; abroad is refused', async () => {
    await page.locator('nav a[href="/me/faxes"]').click();
    await page.locator('#fax-line', { hasText: '+33142685309' }).waitFor();
    const pdf = makePdf(work, 1, 'letter');
    await page.fill('#fax-send-form #f-number', '+1 415 555 0100');
    await page.setInputFiles('#fax-file', pdf);
    await page.click('#fax-send-form button[type=submit]');
    await page.locator('#fax-send-form .form-notice.error', { hasText: dictionaries.en['errors.fax-international'] as string }).waitFor();
    await page.locator('#fax-send-form [data-field="number"] .field-error', { hasText: /\S/ }).waitFor();
    assert.equal(web.store.faxes.list().length, 0, 'nothing queued');

    await page.fill('#fax-send-form #f-number', '01 55 55 01 99');
    await page.setInputFiles('#fax-file', pdf);
    await page.click('#fax-send-form button[type=submit]');
    await page.locator('#fax-send-form .form-notice.ok').waitFor();
    const listed = await pbxctl(dataDir, ['fax', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const faxes = (JSON.parse(listed.stdout) as { faxes: Array<{ id: number; direction: string; extension: string; number: string; pages: number; status: string }> }).faxes;
    assert.equal(faxes.length, 1);
    const fax = faxes[0];
    assert.ok(fax !== undefined);
    assert.deepEqual([fax.direction, fax.extension, fax.number, fax.pages], ['out', '101', '0155550199', 1]);
    assert.ok(['queued', 'sending', 'sent', 'failed'].includes(fax.status), fax.status);
    await page.locator(`[data-fax-status="${fax.id}"]`).waitFor();
    // This office has no trunk: the pbx's attempt fails, and the page shows what the store says, without a reload.
    await until('the pbx tried the fax', () => web.store.faxes.get(fax.id)?.attempts !== 0, 20_000);
    await until('the page shows the stored status', async () => {
      const stored = web.store.faxes.get(fax.id)?.status ?? '';
      return (await page.locator(`[data-fax-status="${fax.id}"]`).textContent()) === dictionaries.en[`fax.statusName.${stored}`];
    }, 20_000);
    await shot(page, 'en-my-faxes');
  });

  it('gives the admin every box (counts, off, PIN reset, quotas, the settings of every box) and every fax', async () => {
    const { context: ctx, page: p } = await openPage(browser);
    try {
      await logIn(p, web.url, 'admin', 'admin-own-password');
      await p.locator('nav a[href="/admin/voicemail"]').click();
      await p.locator('[data-box-state="102"]', { hasText: 'Off' }).waitFor();
      await p.locator('tr', { hasText: 'U102' }).locator('button', { hasText: 'Turn on' }).click();
      await p.locator('[data-box-state="102"]', { hasText: 'On' }).waitFor();
      assert.equal(web.store.voicemail.box('102')?.enabled, true);
      await p.selectOption('#vm-pin-form #f-extension', '101');
      await p.fill('#vm-pin-form #f-pin', '135790');
      await p.click('#vm-pin-form button[type=submit]');
      await p.locator('#vm-boxes').waitFor();
      await until('the PIN reset', () => web.store.extensions.get('101')?.voicemailPin === '135790');
      await p.fill('#vm-appliance-form #f-retentionDays', '99999');
      await p.click('#vm-appliance-form button[type=submit]');
      await p.locator('#vm-appliance-form [data-field="retentionDays"] .field-error', { hasText: /\S/ }).waitFor();
      await p.fill('#vm-appliance-form #f-retentionDays', '90');
      await p.selectOption('#vm-appliance-form #f-operator', 'extension:102');
      await p.click('#vm-appliance-form button[type=submit]');
      await p.locator('#vm-appliance-form .form-notice.ok').waitFor();
      assert.deepEqual([web.store.voicemail.settings().retentionDays, web.store.voicemail.settings().operator], [90, 'extension:102']);
      await shot(p, 'en-voicemail-boxes');
      await p.locator('tr', { hasText: 'U101' }).locator('button', { hasText: 'Open' }).click();
      await p.locator(`audio[data-message-audio="${messageId}"]`).waitFor();
      await p.fill('#vm-settings-form #f-maxMessages', '50');
      await p.click('#vm-settings-form button[type=submit]');
      await p.locator('#vm-settings-form .form-notice.ok').waitFor();
      assert.equal(web.store.voicemail.box('101')?.maxMessages, 50);
      assert.equal(web.store.extensions.get('101')?.voicemailPin, '135790', 'an empty PIN field keeps the PIN');
      await p.locator('nav a[href="/admin/faxes"]').click();
      await p.locator('[data-fax-status]').first().waitFor();
      await shot(p, 'en-faxes');

      await checkLanguages(p, [`${web.url}/admin/voicemail`, `${web.url}/admin/voicemail?box=101`, `${web.url}/admin/faxes`], NEW_PAGES);
      await screenshots(p, [['voicemail-boxes', '/admin/voicemail'], ['faxes', '/admin/faxes']]);
    } finally {
      await ctx.close();
    }
  });

  it("shows the user's pages in every language, and on a phone screen", async () => {
    await checkLanguages(page, [`${web.url}/me/voicemail`, `${web.url}/me/faxes`], NEW_PAGES);
    await screenshots(page, [['my-voicemail', '/me/voicemail'], ['my-faxes', '/me/faxes']]);
    await page.selectOption('#language', 'fr');
    await page.locator('html[lang="fr"]').waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${web.url}/me/voicemail`);
    await page.locator('#vm-counts').waitFor();
    await shot(page, 'fr-my-voicemail-phone');
  });
});
