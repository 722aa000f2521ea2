/**
 * A phone on SIP over WebSocket (RFC 7118, as browser phones connect) registers and calls, and is
 * called back: the B2BUA's INVITE to it travels on the phone's own WebSocket connection (it has no
 * listening port). Audio is checked by listening, both ways, through the anchored media.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeLevels, levels, sleep, startTestPbx, type TestPbx } from './harness.js';
import type { PhoneCall, SipPhone } from '../support/sip-phone.js';

const WEB = { number: '2101', secret: 'websocket-secret-2101' };
const DESK = { number: '2102', secret: 'deskphone-secret-2102' };
const SECURE = { number: '2103', secret: 'securews-secret-2103' };

let pbx: TestPbx;
/** The WS phone of the first test, called by the WSS phone of the second. */
let webPhone: SipPhone | undefined;

before(async () => {
  pbx = await startTestPbx([WEB, DESK, SECURE]);
});

after(async () => {
  await pbx.close();
});

async function assertTwoWayAudio(web: PhoneCall, desk: PhoneCall): Promise<void> {
  web.media.setSignal({ kind: 'tones', freqs: [900] });
  desk.media.setSignal({ kind: 'tones', freqs: [1700] });
  await sleep(500);
  const from = performance.now();
  await sleep(1000);
  const to = performance.now();
  const freqs = [900, 1700];
  const [web900, web1700] = levels(web.media.pcmBetween(from, to), freqs) as [number, number];
  const [desk900, desk1700] = levels(desk.media.pcmBetween(from, to), freqs) as [number, number];
  const heard = `web heard ${describeLevels(freqs, [web900, web1700])}; desk heard ${describeLevels(freqs, [desk900, desk1700])}`;
  assert.ok(web1700 > -16 && web900 < web1700 - 35, heard);
  assert.ok(desk900 > -16 && desk1700 < desk900 - 35, heard);
}

test('a WebSocket phone registers over WS, calls a UDP phone and is called back on its connection', async () => {
  const wsPort = pbx.sip.ports().ws;
  assert.ok(wsPort, 'the WebSocket listener runs');
  const web = await pbx.phone(WEB.number, { websocket: `ws://127.0.0.1:${wsPort}` });
  const desk = await pbx.phone(DESK.number);

  const bindings = pbx.sip.registration.registrar.lookup(WEB.number);
  assert.equal(bindings.length, 1);
  assert.equal(bindings[0]?.endpoint.transport, 'WS', 'registered over WebSocket');
  assert.notEqual(bindings[0]?.endpoint.connectionId, null, 'bound to its connection');

  // Web phone calls the desk phone.
  const [out, atDesk] = await web.callAnswered(desk, DESK.number);
  await assertTwoWayAudio(out, atDesk);
  await web.hangUp(out);
  await atDesk.ended;

  // Desk phone calls the web phone: the INVITE must reach it over its WebSocket.
  const [back, atWeb] = await desk.callAnswered(web, WEB.number);
  await assertTwoWayAudio(atWeb, back);
  await desk.hangUp(back);
  await atWeb.ended;
  assert.deepEqual(pbx.sip.calls(), []);
  webPhone = web;
});

test('a phone on secure WebSocket (WSS, the self-signed certificate made at first start) registers and calls a WS phone', async () => {
  const wssPort = pbx.sip.ports().wss;
  assert.ok(wssPort, 'the secure WebSocket listener runs');
  // The box's certificate is self-signed until the admin replaces it; this test phone trusts it
  // the way a user accepts it once in the browser. Only this test process is affected.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const secure = await pbx.phone(SECURE.number, { websocket: `wss://127.0.0.1:${wssPort}` });
  assert.equal(pbx.sip.registration.registrar.lookup(SECURE.number)[0]?.endpoint.transport, 'WSS', 'registered over WSS');
  const web = webPhone ?? (await pbx.phone(WEB.number, { websocket: `ws://127.0.0.1:${pbx.sip.ports().ws}` }));
  const [out, atWeb] = await secure.callAnswered(web, WEB.number);
  await assertTwoWayAudio(out, atWeb);
  await secure.hangUp(out);
  await atWeb.ended;
});
