/**
 * Overload keeps the office registered (issue 15 item 5), end to end against the real pbx process:
 * 1. 20 phones register (our raw UDP phone, digest MD5, Expires 20 s);
 * 2. the box's capacity is measured here, on this machine now: SIPp registers (REGISTER, 401,
 *    REGISTER with credentials, 200) as fast as the box answers them, at most 1,000 at a time, for
 *    a bounded count;
 * 3. SIPp then offers new registrations at twice that rate for 15 s, while every phone refreshes
 *    (same Call-ID, RFC 3261 §10.2.4) every 6 s, retransmitting as Timer E does.
 * Verdict: every phone got a 200 for its binding before the previous one expired, from the first
 * registration to the end of the flood, and the flood was really overload (SIPp's registrations
 * were refused or failed). Loopback only; everything bounded in count and time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../../services/store/index.js';
import { spawnPbx } from '../../services/pbx/spawn-pbx.js';
import { pbxListenEnv } from '../support/pbx-env.js';
import { authorize, registerText, UdpPeer } from '../support/sip-peer.js';
import { freePortBoth, killAllSipp, runSipp, scenarioPath, writeUserCsv } from '../support/sipp.js';

after(killAllSipp);

const PHONES = 20;
const EXPIRES_S = 20;
const REFRESH_EVERY_MS = 6_000;
const FLOOD_S = 15;
const FLOOD_USERS = 2000;
/** Bounds of the capacity measurement: registrations, and at most this many in flight. */
const CAPACITY_COUNT = 5000;
const CAPACITY_LIMIT = 1000;

interface PhoneState {
  readonly number: string;
  readonly phone: UdpPeer;
  /** Date.now() of every 200 to a REGISTER of this phone. */
  readonly registeredAt: number[];
  readonly outcomes: string[];
}

/** One registration of a phone, retransmitted as Timer E does (T1 = 500 ms doubling to T2 = 4 s, 32 s in all). */
async function registerOnce(state: PhoneState, port: number, password: string): Promise<void> {
  const spec = { user: state.number, contacts: [`<sip:${state.number}@127.0.0.1:${state.phone.port}>`], expires: EXPIRES_S };
  const exchange = async (text: string, cseq: number): Promise<number | null> => {
    let wait = 500;
    const deadline = Date.now() + 32_000;
    while (Date.now() < deadline) {
      state.phone.send(text, port);
      const reply = await state.phone.response(cseq, wait);
      if (reply !== null) {
        if (reply.message.status === 401) lastChallenge = reply.message;
        return reply.message.status;
      }
      wait = Math.min(wait * 2, 4000);
    }
    return null;
  };
  let lastChallenge: Parameters<typeof authorize>[0] | null = null;
  const first = registerText(state.phone, port, spec);
  const status = await exchange(first.text, first.cseq);
  if (status !== 401 || lastChallenge === null) {
    state.outcomes.push(`first ${status ?? 'timeout'}`);
    return;
  }
  const authorization = authorize(lastChallenge, 'REGISTER', port, state.number, { password, algorithm: 'MD5' });
  const second = registerText(state.phone, port, { ...spec, authorization });
  const final = await exchange(second.text, second.cseq);
  state.outcomes.push(String(final ?? 'timeout'));
  if (final === 200) state.registeredAt.push(Date.now());
}

test('at twice the measured capacity, every registered phone stays registered while new registrations are shed', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overload-'));
  const phones = Array.from({ length: PHONES }, (_, i) => ({ user: String(3001 + i), password: `phone-pw-${3001 + i}` }));
  const flooders = Array.from({ length: FLOOD_USERS }, (_, i) => ({ user: String(5001 + i), password: `flood-pw-${5001 + i}` }));
  const store = openStore(dir);
  store.transaction(() => {
    for (const u of [...phones, ...flooders]) store.extensions.add({ number: u.user, displayName: `U${u.user}`, secret: u.password });
  });
  store.close();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ registrar: { minExpires: 10, defaultExpires: 60, maxExpires: 3600 } }));
  const port = await freePortBoth();
  const pbx = spawnPbx({
    ...pbxListenEnv(dir, port),
    PBX_BIND: '127.0.0.1',
    PBX_LOG_LEVEL: 'warn',
    // SIPp 3.6 answers only an MD5 challenge, and only the first one.
    PBX_SIP_DIGEST_ALGORITHMS: 'MD5',
  });
  const states: PhoneState[] = [];
  try {
    await pbx.waitFor(/listening on 127\.0\.0\.1|"level":40/, 20_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    for (const p of phones) states.push({ number: p.user, phone: await UdpPeer.open(), registeredAt: [], outcomes: [] });
    await Promise.all(states.map((s, i) => registerOnce(s, port, phones[i]!.password)));
    assert.deepEqual(states.filter((s) => s.registeredAt.length !== 1).map((s) => `${s.number}: ${s.outcomes.join(',')}`), [], 'every phone registers before the flood');

    // Capacity: closed loop, at most CAPACITY_LIMIT registrations in flight.
    const csvDir = fs.mkdtempSync(path.join(os.tmpdir(), 'overload-csv-'));
    const csv = writeUserCsv(path.join(csvDir, 'flood.csv'), flooders);
    const probe = await runSipp({
      scenario: scenarioPath('uac-register-auth'),
      target: `127.0.0.1:${port}`,
      injectCsv: csv,
      calls: CAPACITY_COUNT,
      rate: 50_000,
      limit: CAPACITY_LIMIT,
      timeoutSec: 60,
      traceErrors: false,
      extraArgs: ['-nd', '-recv_timeout', '8000'],
    });
    const capacity = Math.round(probe.successful / (probe.wallMs / 1000));
    assert.ok(probe.successful >= CAPACITY_COUNT / 4, `capacity probe: ${probe.successful} of ${CAPACITY_COUNT} registered`);
    const floodRate = 2 * capacity;

    // The flood, with the phones refreshing through it.
    const floodStart = Date.now();
    const flood = runSipp({
      scenario: scenarioPath('uac-register-auth'),
      target: `127.0.0.1:${port}`,
      injectCsv: csv,
      calls: floodRate * FLOOD_S,
      rate: floodRate,
      timeoutSec: FLOOD_S + 40,
      traceErrors: false,
      extraArgs: ['-nd', '-recv_timeout', '10000'],
    });
    let flooding = true;
    const refreshers = states.map(async (s, i) => {
      // Spread over the interval, as real phones are.
      await new Promise((r) => setTimeout(r, (i * REFRESH_EVERY_MS) / PHONES));
      while (flooding) {
        const started = Date.now();
        await registerOnce(s, port, phones[i]!.password);
        await new Promise((r) => setTimeout(r, Math.max(0, REFRESH_EVERY_MS - (Date.now() - started))));
      }
    });
    const floodResult = await flood;
    flooding = false;
    const floodEnd = Date.now();
    await Promise.all(refreshers);
    fs.rmSync(csvDir, { recursive: true, force: true });

    const attempted = Math.max(floodResult.created, floodResult.successful + floodResult.failed);
    const note = `capacity ${capacity}/s; flood ${floodRate}/s for ${((floodEnd - floodStart) / 1000).toFixed(1)} s: ${floodResult.successful} of ${attempted} new registrations succeeded`;
    // Really overload: the box could not take every new registration offered.
    assert.ok(floodResult.successful < attempted, `not overloaded: ${note}`);
    // Every phone stayed registered: no gap between two 200s (or from the last one to the end of the flood) reached the expiry.
    const lapses: string[] = [];
    for (const s of states) {
      const times = [...s.registeredAt, floodEnd];
      for (let k = 1; k < times.length; k++) {
        const gap = times[k]! - times[k - 1]!;
        if (gap >= EXPIRES_S * 1000) lapses.push(`${s.number}: ${(gap / 1000).toFixed(1)} s without a registration (${s.outcomes.join(',')})`);
      }
    }
    assert.deepEqual(lapses, [], note);
    // The registrar's own view: each phone's binding is still the one of its first registration
    // (a binding that had expired would have been removed and created anew, with a new date).
    const after = openStore(dir);
    try {
      const lost = states.filter((s) => {
        const binding = after.registrations.byAor(s.number)[0];
        return binding === undefined || binding.registeredAt > (s.registeredAt[0] ?? 0) || binding.expiresAt <= floodEnd;
      });
      assert.deepEqual(lost.map((s) => s.number), [], `bindings lost or re-created (${note})`);
    } finally {
      after.close();
    }
    const refreshes = states.reduce((n, s) => n + s.registeredAt.length - 1, 0);
    assert.ok(refreshes >= PHONES * 2, `${refreshes} refreshes succeeded during the flood (${note})`);
    process.stdout.write(`# ${note}; ${refreshes} phone refreshes, all answered 200\n`);
  } finally {
    for (const s of states) s.phone.close();
    await pbx.stop('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
