/**
 * The music-on-hold and analog-ports pages in a real browser (Debian's chromium, playwright-core)
 * against the real web server and store: a WAV uploaded and a text file refused with the reason in
 * the user's language, an MP3 added to the class's playlist, the new music given to an extension and to the whole office, its preview
 * actually playing in the page's audio element (its currentTime advances), transfer music turned
 * on; the ports page showing what the analog process reports, an FXS port assigned with a country,
 * the FXO line's number refused then set; every visible string of both pages changing with the
 * language; screenshots in the four languages (docs/screenshots/).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { failIfMissing } from '../support/environment.js';
import { chromiumMissing, launchChromium, logIn, openPage, screenshot, startWebUi, type WebUnderTest } from '../support/web.js';
import { checkLanguages } from '../support/web-languages.js';



describe('music on hold and analog ports pages in chromium', { timeout: 180_000 }, () => {
  let web: WebUnderTest;
  let browser: Browser;
  let page: Page;
  let work: string;

  before(async () => {
    failIfMissing(chromiumMissing());
    web = await startWebUi({ country: 'FR' });
    work = path.join(web.dataDir, 'work');
    fs.mkdirSync(work);
    const { store } = web;
    store.users.add({ username: 'admin', displayName: 'Administrator', role: 'admin', password: 'admin-own-password', mustChangePassword: false });
    store.extensions.add({ number: '101', displayName: 'Alice Martin', secret: 'alice-secret-1' });
    store.extensions.add({ number: '102', displayName: 'Bruno Petit', secret: 'bruno-secret-2' });
    browser = await launchChromium();
    ({ page } = await openPage(browser));
    await logIn(page, web.url, 'admin', 'admin-own-password');
    await page.locator('h1', { hasText: 'Dashboard' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  const shot = (name: string) => screenshot(page, name);

  it('uploads music, refuses a text file, assigns it, and plays the preview in the page', async () => {
    const wav = path.join(work, 'lobby.wav');
    execFileSync('sox', ['-n', '-r', '44100', '-c', '2', '-b', '16', wav, 'synth', '4', 'sine', '700', 'gain', '-8']);
    const text = path.join(work, 'notes.txt');
    fs.writeFileSync(text, 'not music\n'.repeat(50));
    await page.goto(`${web.url}/admin/moh`);
    await page.locator('h1', { hasText: 'Music on hold' }).waitFor();

    await page.fill('#moh-upload-form #f-name', 'junk');
    await page.setInputFiles('#moh-file', text);
    await page.click('#moh-upload-form button[type=submit]');
    await page.locator('#moh-upload-form [data-field="file"] .field-error', { hasText: 'This file is not a sound file the box can play' }).waitFor();
    assert.equal(web.store.moh.get('junk'), null);

    await page.fill('#moh-upload-form #f-name', 'lobby');
    await page.setInputFiles('#moh-file', wav);
    await page.click('#moh-upload-form button[type=submit]');
    await page.locator('audio[data-moh-preview="lobby"]').waitFor();
    assert.ok(Math.abs((web.store.moh.get('lobby')?.seconds ?? 0) - 4) < 0.05);

    // A second file added to the playlist (the box plays them one after the other).
    const second = path.join(work, 'chime.mp3');
    execFileSync('sox', ['-n', '-r', '44100', '-c', '2', second, 'synth', '2', 'sine', '1300']);
    await page.fill('#moh-upload-form #f-name', 'lobby');
    await page.setInputFiles('#moh-file', second);
    await page.check('#moh-upload-form #f-addToPlaylist');
    await page.click('#moh-upload-form button[type=submit]');
    await page.locator('tr', { hasText: 'chime.mp3' }).locator('[data-moh-file]').nth(1).waitFor();
    assert.deepEqual(web.store.moh.get('lobby')?.files.map((f) => f.sourceName), ['lobby.wav', 'chime.mp3']);

    await page.selectOption('#moh-choice-form #f-target', 'extension:101');
    await page.selectOption('#moh-choice-form #f-className', 'lobby');
    await page.click('#moh-choice-form button[type=submit]');
    await page.locator('[data-moh-owner="extension:101"]').waitFor();
    assert.equal(web.store.moh.choiceOf('extension:101'), 'lobby');
    await page.selectOption('#moh-default-form #f-className', 'lobby');
    await page.click('#moh-default-form button[type=submit]');
    await page.locator('td', { hasText: 'the whole office, Extension 101 (Alice Martin)' }).waitFor();
    assert.equal(web.store.moh.choiceOf('default'), 'lobby');

    // The preview plays: the audio element's clock advances.
    const played = await page.$eval('audio[data-moh-preview="lobby"]', async (el) => {
      // The media element as the page sees it (this file is compiled without the DOM library).
      const audio = el as unknown as { muted: boolean; currentTime: number; duration: number; error: { code: number } | null; play(): Promise<void>; pause(): void };
      audio.muted = true;
      await audio.play();
      await new Promise((r) => setTimeout(r, 1500));
      const at = audio.currentTime;
      audio.pause();
      return { at, duration: audio.duration, error: audio.error?.code ?? null };
    });
    console.log(`preview: currentTime ${played.at.toFixed(2)} s of ${played.duration.toFixed(2)} s`);
    assert.equal(played.error, null);
    assert.ok(played.at > 0.5, `the preview played (${played.at} s)`);
    assert.ok(Math.abs(played.duration - 6) < 0.1, `the preview is the stored playlist, 4 s + 2 s (${played.duration} s)`);

    await page.check('#moh-transfer-form #f-music');
    await page.fill('#moh-transfer-form #f-recallSeconds', '2');
    await page.click('#moh-transfer-form button[type=submit]');
    await page.locator('#moh-transfer-form [data-field="recallSeconds"] .field-error', { hasText: 'From 5 to 300 seconds.' }).waitFor();
    assert.equal(web.store.moh.transfer().music, false, 'a refused form changes nothing');
    await page.fill('#moh-transfer-form #f-recallSeconds', '30');
    await page.click('#moh-transfer-form button[type=submit]');
    await page.locator('#moh-transfer-form .form-notice.ok').waitFor();
    assert.deepEqual(web.store.moh.transfer(), { music: true, recallSeconds: 30 });
    await shot('en-moh');
  });

  it('shows the ports with their live state, assigns an FXS port, sets the landline number', async () => {
    web.store.analog.report([
      { name: 'board', state: 'up', detail: 'firmware 1.0, fxs1 fxs2 fxo1' },
      { name: 'fxs1', state: 'unassigned', detail: 'idle' },
      { name: 'fxs2', state: 'unassigned', detail: 'idle' },
      { name: 'fxo1', state: 'idle', detail: 'line idle' },
    ]);
    await page.goto(`${web.url}/admin/ports`);
    await page.locator('#board-state', { hasText: 'Analog board: connected' }).waitFor();
    assert.equal(await page.locator('[data-port-state="fxs1"]').textContent(), 'Not in service');
    await page.selectOption('#port-form-fxs1 #f-extension', '101');
    await page.selectOption('#port-form-fxs1 #f-country', 'SE');
    await page.click('#port-form-fxs1 button[type=submit]');
    await page.locator('td', { hasText: '101 — Alice Martin' }).waitFor();
    assert.deepEqual([web.store.analog.get('fxs1')?.extension, web.store.analog.get('fxs1')?.country], ['101', 'SE']);
    assert.match(await page.locator('tr', { hasText: 'FXS1' }).first().innerText(), /Sweden[\s\S]*V\.23/);

    await page.fill('#port-form-fxo1 #f-number', '12');
    await page.click('#port-form-fxo1 button[type=submit]');
    await page.locator('#port-form-fxo1 [data-field="number"] .field-error', { hasText: 'Not a valid phone number.' }).waitFor();
    assert.equal(web.store.analog.get('fxo1')?.number ?? null, null);
    await page.fill('#port-form-fxo1 #f-number', '01 42 68 53 10');
    await page.click('#port-form-fxo1 button[type=submit]');
    await page.locator('td', { hasText: '01 42 68 53 10' }).waitFor();
    assert.equal(web.store.analog.get('fxo1')?.number, '+33142685310');

    // The phone registers and is picked up: the page shows it.
    web.store.analog.report([
      { name: 'board', state: 'up', detail: 'firmware 1.0, fxs1 fxs2 fxo1' },
      { name: 'fxs1', state: 'registered', detail: 'dial tone, off-hook' },
    ]);
    await page.goto(`${web.url}/admin/ports`);
    await page.locator('[data-port-state="fxs1"]', { hasText: 'Registered' }).waitFor();
    assert.match(await page.locator('tr', { hasText: 'FXS1' }).first().innerText(), /Off the hook/);
    await shot('en-ports');
  });

  it('switches language: every visible string of both pages changes; screenshots in four languages', async () => {
    const pages = new Map([[`${web.url}/admin/moh`, 'moh'], [`${web.url}/admin/ports`, 'ports']]);
    await checkLanguages(page, [...pages.keys()], {
      minShown: 10,
      after: async (lang, url) => {
        await page.waitForTimeout(100);
        await shot(`${lang}-${pages.get(url)}`);
      },
    });
    // On a phone screen.
    await page.selectOption('#language', 'fr');
    await page.locator('html[lang="fr"]').waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${web.url}/admin/moh`);
    await page.locator('h1', { hasText: 'Musique d\'attente' }).waitFor();
    await shot('fr-moh-phone');
    await page.selectOption('#language', 'en');
  });
});
