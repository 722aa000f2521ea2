/**
 * Data isolation of the whole web API, route by route, with the routes read from the express
 * router itself (so a route added later is checked without anyone listing it here):
 * - without a session every API route answers 401;
 * - an end user gets 403 from every route outside /api/me and /api/session (the admin API);
 * - every /api/me route taking a parameter answers 404 to another user's ids (their user id,
 *   extension, call record, voicemail message, fax), and no /api/me answer carries another user's
 *   data; another user's records are unchanged afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { createLogger } from '../../services/log.js';
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import { ctlLiveState } from '../../services/web/live.js';
import { createWebApp } from '../../services/web/server.js';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

interface RouteLike {
  path: unknown;
  methods: Record<string, boolean>;
}
interface LayerLike {
  route?: RouteLike;
  rawPath?: unknown;
  handle?: { stack?: LayerLike[] };
}

export interface ApiRoute {
  method: string;
  path: string;
}

/** Every route of the app under /api, with its full path (express 5: layer.rawPath, route.path). */
export function apiRoutes(app: Express): ApiRoute[] {
  const out: ApiRoute[] = [];
  const walk = (stack: LayerLike[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const routePath = layer.route.path;
        if (typeof routePath !== 'string') {
          // Only the single-page app's catch-all may be a pattern, and it lies outside /api.
          assert.ok(!prefix.startsWith('/api'), `a route under ${prefix} has a pattern path (${String(routePath)}): this test cannot check it`);
          continue;
        }
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: `${prefix}${routePath}`.replace(/(.)\/$/, '$1') });
        continue;
      }
      const inner = layer.handle?.stack;
      if (inner === undefined) continue;
      const raw = layer.rawPath;
      assert.ok(typeof raw === 'string', `a router mounted at a pattern path under ${prefix}: this test cannot check it`);
      walk(inner, `${prefix}${raw === '/' ? '' : raw}`);
    }
  };
  walk((app as unknown as { router: { stack: LayerLike[] } }).router.stack, '');
  return out.filter((r) => r.path.startsWith('/api/'));
}

const params = (path: string): string[] => [...path.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
const fill = (path: string, value: (name: string) => string): string => path.replace(/[{}]/g, '').replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(value(name)));
const BOB_MARKERS = /BOBSECRET|c-bob|bob-secret/;

describe('web API: an end user reaches only their own data, on every route', () => {
  let web: WebUnderTest;
  let routes: ApiRoute[];
  let alice: WebClient;
  const bob = { userId: 0, voicemailId: 0, faxId: 0 };

  before(async () => {
    web = await startWebUi({ country: 'FR' });
    const { store } = web;
    seedAdmin(store);
    store.extensions.add({ number: '101', displayName: 'Alice', secret: 'alice-secret-1' });
    store.extensions.add({ number: '102', displayName: 'Bob BOBSECRET', secret: 'bob-secret-22' });
    store.users.add({ username: 'alice', displayName: 'Alice', role: 'user', extension: '101', password: 'alice-first-pw', mustChangePassword: false });
    bob.userId = store.users.add({ username: 'bob', displayName: 'Bob BOBSECRET', role: 'user', extension: '102', password: 'bob-first-pw-1', mustChangePassword: false, email: 'bobsecret@office.test' }).id;
    store.cdr.add({ callId: 'c-bob', caller: '102', callee: '+33612345678', startedAt: 3_000, legs: [], endedAt: 4_000, disposition: 'answered', status: 200, reason: 'BOBSECRET' });
    store.cdr.add({ callId: 'c-alice', caller: '101', callee: '103', startedAt: 1_000, legs: [], endedAt: 2_000, disposition: 'no-answer', status: 480, reason: 'x' });
    bob.voicemailId = store.voicemail.add({ box: '102', caller: '+33612345678', callerName: 'BOBSECRET caller', receivedAt: 5_000, durationMs: 4_000, file: 'msg-bob.wav', bytes: 64_000, reason: 'unavailable' }).id;
    bob.faxId = store.faxes.recordInbound({ extension: '102', status: 'received', remoteNumber: '+33612345678', remoteIdent: 'BOBSECRET fax', pages: 1, document: null, transport: 'audio', error: null, callId: 'fax-bob' }).id;

    // The same app as the server's, only to read its routes.
    const app = createWebApp({ store, live: ctlLiveState('/nonexistent.sock', 100), log: createLogger('web', 'silent'), country: countryCode('FR'), dataDir: web.dataDir, version: 'test', sessionSecret: 'test-secret-test-secret-test-secret' });
    routes = apiRoutes(app);
    alice = new WebClient(web);
    assert.equal((await alice.login('alice', 'alice-first-pw')).status, 200);
  });
  after(() => web.close());

  const isUserRoute = (r: ApiRoute): boolean => r.path === '/api/me' || r.path.startsWith('/api/me/');
  const isSessionRoute = (r: ApiRoute): boolean => r.path === '/api/session' || r.path.startsWith('/api/session/');
  const body = (r: ApiRoute): unknown => (r.method === 'GET' || r.method === 'DELETE' ? undefined : {});

  it('reads the routes from the router: the admin API, the end user API and the session API', () => {
    const has = (method: string, path: string) => routes.some((r) => r.method === method && r.path === path);
    for (const [method, path] of [['GET', '/api/extensions'], ['GET', '/api/me'], ['GET', '/api/me/features'], ['POST', '/api/session'], ['GET', '/api/porting/:id'], ['POST', '/api/moh/classes/:name'], ['PUT', '/api/ports/:port/extension'], ['GET', '/api/receptionists/:name/greetings/:menu']] as const) {
      assert.ok(has(method, path), `${method} ${path} found among ${routes.length} routes`);
    }
    const admin = routes.filter((r) => !isUserRoute(r) && !isSessionRoute(r));
    console.log(`${routes.length} API routes: ${admin.length} admin, ${routes.filter(isUserRoute).length} end user, ${routes.filter(isSessionRoute).length} session`);
    assert.ok(admin.length >= 40, 'the admin API is all there');
  });

  it('answers 401 on every route but login without a session', async () => {
    const anonymous = new WebClient(web);
    for (const r of routes.filter((x) => !(x.method === 'POST' && x.path === '/api/session') && !(x.method === 'GET' && x.path === '/api/session'))) {
      const res = await anonymous.request(r.method, fill(r.path, () => 'x'), body(r), { csrf: null });
      // A state change without a token is refused by CSRF (403) before it reaches the route: also no data.
      assert.ok(res.status === 401 || (r.method !== 'GET' && res.status === 403), `${r.method} ${r.path} → ${res.status}`);
      assert.doesNotMatch(res.text, BOB_MARKERS);
    }
  });

  it('answers 403 to an end user on every admin route, whatever the parameters', async () => {
    const admin = routes.filter((r) => !isUserRoute(r) && !isSessionRoute(r));
    for (const r of admin) {
      for (const value of [String(bob.userId), '102', 'x']) {
        const res = await alice.request<{ error: { code: string } }>(r.method, fill(r.path, () => value), body(r));
        assert.equal(res.status, 403, `${r.method} ${fill(r.path, () => value)} → ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body.error.code, 'forbidden');
        assert.doesNotMatch(res.text, BOB_MARKERS);
      }
    }
  });

  it("answers 404 to an end user asking their own routes for another user's ids, and never shows that data", async () => {
    const candidates = [String(bob.userId), '102', 'c-bob', String(bob.voicemailId), String(bob.faxId), 'fax-bob'];
    let checked = 0;
    for (const r of routes.filter(isUserRoute)) {
      if (params(r.path).length === 0) {
        // No id to give: the answer is about the user themself, and carries nothing of Bob's.
        if (r.method !== 'GET') continue;
        const res = await alice.request(r.method, r.path);
        assert.ok(res.status < 500, `${r.method} ${r.path} → ${res.status}`);
        assert.doesNotMatch(res.text, BOB_MARKERS, `${r.method} ${r.path} shows Bob's data`);
        continue;
      }
      for (const value of candidates) {
        const url = fill(r.path, () => value);
        const res = await alice.request(r.method, url, body(r));
        assert.equal(res.status, 404, `${r.method} ${url} → ${res.status} ${res.text.slice(0, 200)}`);
        assert.doesNotMatch(res.text, BOB_MARKERS);
        checked++;
      }
    }
    console.log(`${checked} requests for another user's ids on end-user routes with a parameter`);
    // Bob's things are all still there, unchanged.
    assert.equal(web.store.voicemail.get(bob.voicemailId)?.folder, 'new');
    assert.notEqual(web.store.faxes.get(bob.faxId), null);
    assert.equal(web.store.users.get(bob.userId)?.extension, '102');
    assert.deepEqual(web.store.cdr.list({ party: '102' }).map((c) => c.callId), ['c-bob']);
  });
});
