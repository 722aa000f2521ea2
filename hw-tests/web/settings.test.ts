/**
 * The web API of the call settings (forwarding, DND, call waiting, caller ID), the receptionist
 * editor and the conference rooms, against a real HTTPS server and SQLite store: the same checks as
 * `pbxctl extension set` (a refused forward changes nothing), an end user reaches only their own
 * extension (the API takes it from the session), CSRF, field codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeWav } from '../../services/media/wav/wav.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

type Features = { features: { forward: Record<string, string | null>; noAnswerSeconds: number; callWaiting: boolean; doNotDisturb: boolean; hideCallerId: boolean } };
type Err = { error: { code: string; fields?: Record<string, string> } };

async function loggedIn(web: WebUnderTest, username: string, first: string, next: string): Promise<WebClient> {
  const c = new WebClient(web);
  assert.equal((await c.login(username, first)).status, 200);
  assert.equal((await c.request('POST', '/api/session/password', { current: first, next })).status, 200);
  return c;
}

describe('web API: call settings, receptionist editor, conference rooms', () => {
  let web: WebUnderTest;
  let admin: WebClient;
  let alice: WebClient;

  before(async () => {
    web = await startWebUi({ country: 'FR' });
    seedAdmin(web.store);
    web.store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    web.store.extensions.add({ number: '102', displayName: 'Bob', secret: 'bob-secret-22' });
    web.store.users.add({ username: 'alice', displayName: 'Alice', role: 'user', extension: '101', password: 'alice-first-pw', mustChangePassword: true });
    web.store.users.add({ username: 'nobody', displayName: 'No Phone', role: 'user', extension: null, password: 'nobody-first-pw', mustChangePassword: true });
    admin = await loggedIn(web, 'admin', 'first-start-pw', 'admin-chosen-pw');
    alice = await loggedIn(web, 'alice', 'alice-first-pw', 'alice-own-pw');
  });
  after(() => web.close());

  it('lets a user set their own forwarding, DND, call waiting and caller ID, as pbxctl stores them', async () => {
    const initial = await alice.request<Features>('GET', '/api/me/features');
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.body.features.forward, { always: null, busy: null, 'no-answer': null, unreachable: null });
    assert.equal(initial.body.features.callWaiting, true);
    const saved = await alice.request<Features>('PUT', '/api/me/features', {
      forward: { always: '', busy: '102', 'no-answer': '01 42 68 53 00'.replace(/ /g, ''), unreachable: '102' },
      noAnswerSeconds: 15,
      callWaiting: false,
      doNotDisturb: true,
      hideCallerId: true,
    });
    assert.equal(saved.status, 200, saved.text);
    const stored = web.store.userFeatures.get('101');
    assert.deepEqual(stored?.forward, { always: null, busy: '102', 'no-answer': '0142685300', unreachable: '102' });
    assert.equal(stored?.noAnswerSeconds, 15);
    assert.equal(stored?.callWaiting, false);
    assert.equal(stored?.doNotDisturb, true);
    assert.equal(stored?.hideCallerId, true);
    // Bob's settings are untouched.
    assert.deepEqual(web.store.userFeatures.get('102')?.forward, { always: null, busy: null, 'no-answer': null, unreachable: null });
  });

  it('refuses the targets the feature codes refuse, with a field code, and changes nothing', async () => {
    const before = web.store.userFeatures.get('101');
    for (const [target, why] of [
      ['101', 'itself'],
      ['112', 'emergency'],
      ['+14155550100', 'international without the permission'],
      ['0899123456', 'premium without the permission'],
    ] as const) {
      const res = await alice.request<Err>('PUT', '/api/me/features', { forward: { always: target }, doNotDisturb: false });
      assert.equal(res.status, 400, `${target} (${why}): ${res.text}`);
      assert.equal(res.body.error.code, 'forward-target');
      assert.equal(res.body.error.fields?.['forward.always'], 'forward-target');
    }
    const format = await alice.request<Err>('PUT', '/api/me/features', { forward: { busy: 'bob' } });
    assert.equal(format.status, 400);
    assert.equal(format.body.error.fields?.['forward.busy'], 'format');
    const ring = await alice.request<Err>('PUT', '/api/me/features', { noAnswerSeconds: 500 });
    assert.equal(ring.body.error.fields?.['noAnswerSeconds'], 'ring-time');
    const extra = await alice.request<Err>('PUT', '/api/me/features', { extension: '102', doNotDisturb: false });
    assert.equal(extra.status, 400, 'the extension is never taken from the request');
    assert.deepEqual(web.store.userFeatures.get('101'), before, 'nothing changed, not even doNotDisturb');
    // With the permission, the same international number is accepted (the rule follows the extension).
    web.store.extensionRouting.set('101', { international: true });
    const ok = await alice.request('PUT', '/api/me/features', { forward: { always: '+14155550100' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(web.store.userFeatures.get('101')?.forward.always, '+14155550100');
  });

  it('keeps an end user to their own extension: 403/404 on anyone else\'s settings and on the admin editors', async () => {
    for (const [method, url, body] of [
      ['GET', '/api/extensions/102/features', undefined],
      ['PUT', '/api/extensions/102/features', { doNotDisturb: true }],
      ['GET', '/api/receptionists', undefined],
      ['PUT', '/api/receptionists/main', { extension: null }],
      ['GET', '/api/conference', undefined],
      ['PUT', '/api/conference/rooms/8001', { pin: '1234' }],
      ['PUT', '/api/conference/limits', { maxRooms: 50 }],
      ['GET', '/api/firmware', undefined],
      ['GET', '/api/restore', undefined],
      ['DELETE', '/api/restore', undefined],
    ] as const) {
      const res = await alice.request(method, url, body);
      assert.ok(res.status === 403 || res.status === 404, `${method} ${url} → ${res.status}`);
      assert.doesNotMatch(res.text, /Bob|bob-secret/);
    }
    assert.equal(web.store.userFeatures.get('102')?.doNotDisturb, false);
    assert.equal(web.store.routing.conferenceRooms.pin('8001'), null);
    // A user without an extension has no settings to see.
    const nobody = await loggedIn(web, 'nobody', 'nobody-first-pw', 'nobody-own-pw');
    assert.equal((await nobody.request('GET', '/api/me/features')).status, 404);
    assert.equal((await nobody.request('PUT', '/api/me/features', { doNotDisturb: true })).status, 404);
  });

  it('refuses a change without the CSRF token', async () => {
    const res = await alice.request<Err>('PUT', '/api/me/features', { doNotDisturb: false }, { csrf: null });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'csrf');
    const adm = await admin.request<Err>('PUT', '/api/extensions/102/features', { doNotDisturb: true }, { csrf: 'forged' });
    assert.equal(adm.status, 403);
    assert.equal(web.store.userFeatures.get('102')?.doNotDisturb, false);
  });

  it("lets an admin set any extension's call settings with the same checks", async () => {
    const res = await admin.request<Features>('PUT', '/api/extensions/102/features', { forward: { 'no-answer': '101' }, noAnswerSeconds: 30, doNotDisturb: true });
    assert.equal(res.status, 200, res.text);
    assert.equal(web.store.userFeatures.get('102')?.forward['no-answer'], '101');
    assert.equal(web.store.userFeatures.get('102')?.doNotDisturb, true);
    const self = await admin.request<Err>('PUT', '/api/extensions/102/features', { forward: { busy: '102' } });
    assert.equal(self.body.error.fields?.['forward.busy'], 'forward-target');
    assert.equal((await admin.request('GET', '/api/extensions/999/features')).status, 404);
    assert.equal((await admin.request('PUT', '/api/extensions/999/features', { doNotDisturb: true })).status, 404);
  });

  it('edits a receptionist: hours, holidays, menus with keys, settings; bad input gets field codes', async () => {
    const body = {
      extension: '700',
      timezone: 'Europe/Paris',
      language: 'fr',
      hours: [1, 2, 3, 4, 5].map((day) => ({ day, opens: '09:00', closes: '18:00' })),
      holidays: ['2026-12-25', '2027-01-01', '2026-12-25'],
      menus: {
        business: { options: [{ digit: '1', target: 'extension:101', label: 'sales' }, { digit: '0', target: 'operator' }, { digit: '9', target: 'dial-by-extension' }] },
        'after-hours': { options: [{ digit: '1', target: 'voicemail:101' }] },
      },
      operator: 'extension:102',
      timeoutSeconds: 5,
      maxAttempts: 3,
    };
    const saved = await admin.request<{ receptionist: { holidays: string[]; menuNow: string } }>('PUT', '/api/receptionists/main', body);
    assert.equal(saved.status, 200, saved.text);
    assert.deepEqual(saved.body.receptionist.holidays, ['2026-12-25', '2027-01-01']);
    const stored = web.store.routing.receptionists.get('main');
    assert.equal(stored?.extension, '700');
    assert.deepEqual(stored?.menus.business.options.map((o) => `${o.digit}:${o.target}`), ['1:extension:101', '0:operator', '9:dial-by-extension']);
    assert.equal(stored?.hours.length, 5);
    const bad = await admin.request<Err>('PUT', '/api/receptionists/main', {
      ...body,
      timezone: 'Mars/Olympus',
      hours: [{ day: 1, opens: '18:00', closes: '09:00' }],
      holidays: ['2026-02-30'],
      menus: { business: { options: [{ digit: '1', target: 'extension:101' }, { digit: '1', target: 'operator' }] }, 'after-hours': { options: [{ digit: 'x', target: 'nowhere' }] } },
    });
    assert.equal(bad.status, 400);
    const fields = bad.body.error.fields ?? {};
    for (const f of ['timezone', 'hours.0', 'holidays.0', 'menus.business.options', 'menus.after-hours.options.0.digit']) assert.ok(fields[f], `field ${f} flagged: ${JSON.stringify(fields)}`);
    assert.equal(web.store.routing.receptionists.get('main')?.timezone, 'Europe/Paris', 'nothing changed');
    const listed = await admin.request<{ receptionists: Array<{ name: string }> }>('GET', '/api/receptionists');
    assert.deepEqual(listed.body.receptionists.map((x) => x.name), ['main']);
  });

  it('uploads a receptionist greeting (any WAV, converted to 8 kHz mono), plays it back, refuses a non-WAV', async () => {
    const samples = new Int16Array(16000 * 2).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)));
    const wav = encodeWav(samples, 'pcm16', 16000);
    const res = await admin.upload<{ seconds: number }>('/api/receptionists/main/greetings/business', wav, { name: 'bienvenue.wav', type: 'audio/wav' });
    assert.ok(res.status !== 'reset');
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.seconds, 2);
    assert.equal(web.store.routing.receptionists.get('main')?.menus.business.greeting, 'main-business.wav');
    const played = await admin.request('GET', '/api/receptionists/main/greetings/business');
    assert.equal(played.status, 200);
    assert.match(String(played.headers['content-type']), /audio\/(wav|x-wav)/);
    const junk = await admin.upload<Err>('/api/receptionists/main/greetings/after-hours', Buffer.from('this is not audio at all'), { name: 'x.wav' });
    assert.ok(junk.status !== 'reset');
    assert.equal(junk.status, 400);
    assert.equal(junk.body.error.code, 'not-wav');
    assert.equal(web.store.routing.receptionists.get('main')?.menus['after-hours'].greeting, null);
    const cleared = await admin.request('DELETE', '/api/receptionists/main/greetings/business');
    assert.equal(cleared.status, 200);
    assert.equal(web.store.routing.receptionists.get('main')?.menus.business.greeting, null);
  });

  it('sets conference PINs and limits with the rules of pbxctl conference, never listing a PIN', async () => {
    assert.equal((await admin.request('PUT', '/api/conference/rooms/8012', { pin: '2468' })).status, 200);
    assert.equal(web.store.routing.conferenceRooms.pin('8012'), '2468');
    const list = await admin.request('GET', '/api/conference');
    assert.doesNotMatch(list.text, /2468/);
    assert.match(list.text, /"room":"8012","pinSet":true/);
    const out = await admin.request<Err>('PUT', '/api/conference/rooms/9000', { pin: '2468' });
    assert.equal(out.body.error.fields?.['room'], 'room-range');
    const shortPin = await admin.request<Err>('PUT', '/api/conference/rooms/8013', { pin: '12' });
    assert.equal(shortPin.body.error.fields?.['pin'], 'format');
    assert.equal((await admin.request('PUT', '/api/conference/rooms/8012', { pin: null })).status, 200);
    assert.equal(web.store.routing.conferenceRooms.pin('8012'), null);
    assert.equal((await admin.request('PUT', '/api/conference/limits', { maxRooms: 5, maxParticipants: 20 })).status, 200);
    assert.deepEqual(web.store.routing.conferenceRooms.limits(), { maxRooms: 5, maxParticipants: 20 });
    const bad = await admin.request<Err>('PUT', '/api/conference/limits', { maxRooms: 0 });
    assert.equal(bad.status, 400);
    assert.deepEqual(web.store.routing.conferenceRooms.limits(), { maxRooms: 5, maxParticipants: 20 });
  });
});
