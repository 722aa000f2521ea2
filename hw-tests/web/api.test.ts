/**
 * The web UI's REST API against a real HTTPS server and a real SQLite store: first login and the
 * forced password change, roles (an end user gets 403/404, never another user's data), CSRF,
 * validation with field codes, the login rate limit, and security headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

describe('web API: sessions, roles, CSRF, validation', () => {
  let web: WebUnderTest;
  let admin: WebClient;

  before(async () => {
    web = await startWebUi({ loginAttempts: 5 });
    seedAdmin(web.store);
    web.store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    web.store.extensions.add({ number: '102', displayName: 'Bob', secret: 'bob-secret-22' });
    web.store.cdr.add({ callId: 'c-alice', caller: '101', callee: '103', startedAt: 1_000, legs: [], endedAt: 2_000, disposition: 'no-answer', status: 480, reason: 'x' });
    web.store.cdr.add({ callId: 'c-bob', caller: '102', callee: '104', startedAt: 3_000, legs: [], endedAt: 4_000, disposition: 'busy', status: 486, reason: 'y' });
    admin = new WebClient(web);
  });
  after(() => web.close());

  it('answers with security headers and a session cookie that is HttpOnly, Secure, SameSite=Strict', async () => {
    const client = new WebClient(web);
    const res = await client.login('admin', 'first-start-pw');
    assert.equal(res.status, 200);
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-pbx.sid='));
    assert.ok(cookie, 'session cookie set');
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /Secure/i);
    assert.match(cookie, /SameSite=Strict/i);
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.ok(res.headers['strict-transport-security']);
  });

  it('forces the printed first password to be changed before anything else', async () => {
    const login = await admin.login('admin', 'first-start-pw');
    assert.equal((login.body as { user: { mustChangePassword: boolean } }).user.mustChangePassword, true);
    const blocked = await admin.request('GET', '/api/extensions');
    assert.equal(blocked.status, 403);
    assert.equal((blocked.body as { error: { code: string } }).error.code, 'password-change-required');
    const same = await admin.request('POST', '/api/session/password', { current: 'first-start-pw', next: 'first-start-pw' });
    assert.equal(same.status, 400);
    const changed = await admin.request('POST', '/api/session/password', { current: 'first-start-pw', next: 'admin-chosen-pw' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((changed.body as { user: { mustChangePassword: boolean } }).user.mustChangePassword, false);
    assert.equal((await admin.request('GET', '/api/extensions')).status, 200);
    // The old password no longer opens anything.
    assert.equal((await new WebClient(web).login('admin', 'first-start-pw')).status, 401);
  });

  it('refuses a state change without the session CSRF token, and with a stale one', async () => {
    const none = await admin.request('POST', '/api/extensions', { number: '150', displayName: 'X', secret: 'secret-150x' }, { csrf: null });
    assert.equal(none.status, 403);
    assert.equal((none.body as { error: { code: string } }).error.code, 'csrf');
    const forged = await admin.request('POST', '/api/extensions', { number: '150', displayName: 'X', secret: 'secret-150x' }, { csrf: 'forged-token' });
    assert.equal(forged.status, 403);
    assert.equal(web.store.extensions.get('150'), null, 'nothing was written');
    const ok = await admin.request('POST', '/api/extensions', { number: '150', displayName: 'X', secret: 'secret-150x' });
    assert.equal(ok.status, 201, ok.text);
  });

  it('validates at the edge with a code per field, and writes nothing', async () => {
    const res = await admin.request('POST', '/api/extensions', { number: '1', displayName: '', secret: 'short' });
    assert.equal(res.status, 400);
    const fields = (res.body as { error: { fields: Record<string, string> } }).error.fields;
    assert.equal(fields['number'], 'format');
    assert.equal(fields['displayName'], 'required');
    assert.equal(fields['secret'], 'too-short');
    assert.equal(web.store.extensions.get('1'), null);
    const junk = await admin.request('POST', '/api/extensions', undefined, { rawBody: '{"number": ' });
    assert.equal(junk.status, 400);
    assert.equal((junk.body as { error: { code: string } }).error.code, 'bad-json');
    const number = await admin.request('POST', '/api/numbers', { number: '12', destination: 'extension:101' });
    assert.equal(number.status, 400);
    assert.match((number.body as { error: { message: string } }).error.message, /not a valid phone number/);
    const missing = await admin.request('POST', '/api/numbers', { number: '+33 1 42 68 53 00', destination: 'extension:999' });
    assert.equal(missing.status, 404);
  });

  it('maps a number to a ring group, with the same rules as pbxctl, and prices the numbers', async () => {
    const group = await admin.request('PUT', '/api/ring-groups/sales', { extension: '600', strategy: 'simultaneous', ringSeconds: 20, members: [{ extension: '101' }, { extension: '102' }], noAnswer: null });
    assert.equal(group.status, 200, group.text);
    assert.equal((await admin.request('POST', '/api/numbers', { number: '01 42 68 53 00', destination: 'ring-group:sales' })).status, 201);
    assert.equal((await admin.request('POST', '/api/numbers', { number: '01 42 68 53 01', destination: 'extension:101' })).status, 201);
    assert.equal((await admin.request('POST', '/api/numbers', { number: '01 42 68 53 02', destination: 'extension:101' })).status, 201);
    assert.deepEqual(web.store.numbers.get('+33142685300')?.destination, { kind: 'ring-group', name: 'sales' });
    const list = await admin.request<{ numbers: Array<{ number: string; monthlyCents: number }>; monthlyCents: number }>('GET', '/api/numbers');
    const price = new Map(list.body.numbers.map((n) => [n.number, n.monthlyCents]));
    assert.equal(price.get('+33142685301'), 0, "the user's first number is included");
    assert.equal(price.get('+33142685302'), 995, 'a second number of the same user costs 9.95');
    assert.equal(price.get('+33142685300'), 995, 'a ring group number is an additional number');
    assert.equal(list.body.monthlyCents, 1990);
  });

  it('gives an end user their own data only: 403 on admin APIs, no other user in their call log', async () => {
    assert.equal((await admin.request('POST', '/api/users', { username: 'alice', displayName: 'Alice', role: 'user', extension: '101', password: 'alice-first-pw' })).status, 201);
    const alice = new WebClient(web);
    assert.equal((await alice.login('alice', 'alice-first-pw')).status, 200);
    assert.equal((await alice.request('POST', '/api/session/password', { current: 'alice-first-pw', next: 'alice-own-pw' })).status, 200);
    for (const [method, url] of [['GET', '/api/extensions'], ['GET', '/api/users'], ['GET', '/api/calls'], ['GET', '/api/calls.csv'], ['GET', '/api/porting'], ['GET', '/api/porting/1'], ['GET', '/api/backup'], ['DELETE', '/api/extensions/102'], ['POST', '/api/users/1/password']] as const) {
      const res = await alice.request(method, url, method === 'POST' ? { password: 'takeover-pw' } : undefined);
      assert.ok(res.status === 403 || res.status === 404, `${method} ${url} → ${res.status}`);
      assert.doesNotMatch(res.text, /bob-secret|Bob|c-bob/);
    }
    assert.notEqual(web.store.extensions.get('102'), null);
    const mine = await alice.request<{ calls: Array<{ callId: string }> }>('GET', '/api/me/calls');
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.calls.map((c) => c.callId), ['c-alice']);
    const csv = await alice.request('GET', '/api/me/calls.csv');
    assert.match(csv.text, /c-alice/);
    assert.doesNotMatch(csv.text, /c-bob/);
    // The profile takes no role or extension from the user.
    const escalate = await alice.request('PATCH', '/api/me', { role: 'admin' });
    assert.equal(escalate.status, 400);
    assert.equal(web.store.users.byUsername('alice')?.role, 'user');
    const lang = await alice.request('PATCH', '/api/me', { language: 'sv' });
    assert.equal(lang.status, 200);
    assert.equal(web.store.users.byUsername('alice')?.language, 'sv');
  });

  it('limits failed logins per address: the sixth failure within 15 minutes is refused', async () => {
    const fresh = await startWebUi({ loginAttempts: 5 });
    after(() => fresh.close());
    seedAdmin(fresh.store);
    const client = new WebClient(fresh);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await client.login('nobody', `guess-${i}`)).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.equal(statuses[5], 429);
    assert.equal(statuses[6], 429);
    // Even the right password waits out the window: a guesser cannot tell it found it.
    assert.equal((await client.login('admin', 'first-start-pw')).status, 429);
  });

  it('answers 401 without a session and serves the app for any page path', async () => {
    const anonymous = new WebClient(web);
    assert.equal((await anonymous.request('GET', '/api/me')).status, 401);
    const page = await anonymous.request('GET', '/admin/porting');
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/app\/main.js">/);
  });
});
