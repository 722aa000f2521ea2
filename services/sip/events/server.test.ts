// The SUBSCRIBE/NOTIFY server (RFC 6665) with the message-summary package (RFC 3842), through the
// real SIP service on loopback, driven byte by byte by a raw UDP peer: digest (401), one's own box
// only (403), unknown event (489), too short (423), a refresh and an unsubscribe in the dialog, a
// refresh of a dialog we do not know (481), a NOTIFY at every change.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { authorize, requestText, UdpPeer, type Received } from '../../../hw-tests/support/sip-peer.js';
import { loadConfig } from '../../config.js';
import { silentLogger } from '../../log.js';
import { passthroughMedia } from '../b2bua/passthrough-media.js';
import { startSipService, type SipService } from '../../pbx/sip-service.js';
import { openStore, type Store } from '../../store/index.js';
import { mwiPackage } from '../../voicemail/mwi.js';
import { getHeader, type SipRequest, type SipResponse } from '../message.js';
import { parseEvent } from './server.js';

const ANA = { user: '301', password: 'ana-secret-301' };
const BO = { user: '302', password: 'bo-secret-302' };
let dir: string;
let store: Store;
let sip: SipService;
let port: number;
let peer: UdpPeer;
let newCount = 2;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-'));
  const config = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_TLS_PORT: '0', PBX_SIP_WS_PORT: '0', PBX_SIP_WSS_PORT: '0' });
  store = openStore(dir);
  for (const u of [ANA, BO]) store.extensions.add({ number: u.user, displayName: `User ${u.user}`, secret: u.password });
  sip = await startSipService({ config, store, logger: silentLogger(), media: passthroughMedia, keepaliveSeconds: false });
  sip.events.register(mwiPackage({ counts: (e) => (store.extensions.get(e) === null ? null : { new: newCount, old: 1, urgentNew: 0, urgentOld: 0, totalMs: 0 }), realm: config.realm }));
  port = sip.ports().udp ?? 0;
  peer = await UdpPeer.open();
});

after(async () => {
  await peer.close();
  await sip.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function subscribe(options: { user: string; callId: string; event?: string; expires?: number; toTag?: string; authorization?: string; cseq?: number }): { text: string; cseq: number } {
  const cseq = options.cseq ?? ++seq + 100;
  const text = requestText({
    method: 'SUBSCRIBE',
    to: port,
    callId: options.callId,
    cseq,
    viaPort: peer.port,
    viaParams: ';rport',
    ...(options.toTag !== undefined && { toTag: options.toTag }),
    extra: [
      ...(options.event === undefined ? ['Event: message-summary'] : options.event === '' ? [] : [`Event: ${options.event}`]),
      ...(options.expires === undefined ? [] : [`Expires: ${options.expires}`]),
      'Accept: application/simple-message-summary',
      ...(options.authorization === undefined ? [] : [`Authorization: ${options.authorization}`]),
    ],
  })
    // The request names the box: Request-URI and To are the subscriber's own AOR.
    .replace(/^SUBSCRIBE sip:100@/, `SUBSCRIBE sip:${options.user}@`)
    .replace(/^To: <sip:100@/m, `To: <sip:${options.user}@`)
    .replace(/^From: <sip:alice@/m, `From: <sip:${options.user}@`);
  return { text, cseq };
}

async function subscribeWithAuth(user: { user: string; password: string }, box: string, callId: string, extra: { event?: string; expires?: number } = {}): Promise<SipResponse> {
  const first = subscribe({ user: box, callId, ...extra });
  await peer.send(first.text, port);
  const challenge = await peer.response(first.cseq);
  assert.equal(challenge?.message.status, 401, 'a new subscription is authenticated like a REGISTER');
  const authorization = authorize(challenge.message, 'SUBSCRIBE', port, user.user, { password: user.password, uri: `sip:${box}@127.0.0.1:${port}` });
  const second = subscribe({ user: box, callId, authorization, ...extra });
  await peer.send(second.text, port);
  const final = await peer.response(second.cseq);
  assert.ok(final !== null, 'an answer to the authenticated SUBSCRIBE');
  return final.message;
}

async function nextNotify(callId: string, after: number): Promise<SipRequest> {
  const [got] = await peer.waitFor((r: Received) => r.at > after && r.message?.kind === 'request' && r.message.method === 'NOTIFY' && r.message.callId === callId);
  const notify = got?.message as SipRequest;
  // Answer it, as a phone does.
  const via = getHeader(notify, 'via') ?? '';
  void via;
  await peer.send(
    [
      'SIP/2.0 200 OK',
      ...notify.via.map((v) => `Via: SIP/2.0/${v.transport} ${v.host}${v.port === null ? '' : `:${v.port}`}${[...v.params].map(([k, val]) => `;${k}${val === null ? '' : `=${val}`}`).join('')}`),
      `From: <sip:pbx@127.0.0.1>;tag=${notify.from.params.get('tag') ?? ''}`,
      `To: <sip:x@127.0.0.1>;tag=${notify.to.params.get('tag') ?? ''}`,
      `Call-ID: ${notify.callId}`,
      `CSeq: ${notify.cseq.seq} NOTIFY`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    port,
  );
  return notify;
}

test('a subscription: 401, 200 with Expires, NOTIFY active with the counts, a NOTIFY at each change, refresh, unsubscribe', async () => {
  const callId = 'mwi-sub-1';
  const t0 = performance.now();
  const ok = await subscribeWithAuth(ANA, ANA.user, callId, { expires: 600 });
  assert.equal(ok.status, 200);
  assert.equal(ok.expires, 600);
  const toTag = ok.to.params.get('tag');
  assert.ok(toTag);
  const first = await nextNotify(callId, t0);
  assert.equal(getHeader(first, 'event'), 'message-summary');
  assert.match(getHeader(first, 'subscription-state') ?? '', /^active;expires=600$/);
  assert.equal(first.contentType, 'application/simple-message-summary');
  assert.equal(first.body.toString(), `Messages-Waiting: yes\r\nMessage-Account: sip:${ANA.user}@pbx.local\r\nVoice-Message: 2/1 (0/0)\r\n`);
  assert.ok(first.contact !== '*' && first.contact.length === 1, 'NOTIFY carries our Contact');

  newCount = 0;
  const t1 = performance.now();
  assert.equal(sip.events.notify('message-summary', ANA.user), 1);
  const change = await nextNotify(callId, t1);
  assert.match(change.body.toString(), /Messages-Waiting: no\r\n[^]*Voice-Message: 0\/1 \(0\/0\)/);
  assert.ok(change.cseq.seq > first.cseq.seq);

  // Refresh inside the dialog: 200, and a NOTIFY again (RFC 6665 §4.2.1.1).
  const t2 = performance.now();
  const refresh = subscribe({ user: ANA.user, callId, toTag, expires: 300 });
  await peer.send(refresh.text, port);
  assert.equal((await peer.response(refresh.cseq))?.message.status, 200);
  assert.match(getHeader(await nextNotify(callId, t2), 'subscription-state') ?? '', /^active;expires=300$/);

  // Unsubscribe: 200 and a last NOTIFY, terminated; then the dialog is gone (481).
  const t3 = performance.now();
  const bye = subscribe({ user: ANA.user, callId, toTag, expires: 0 });
  await peer.send(bye.text, port);
  assert.equal((await peer.response(bye.cseq))?.message.status, 200);
  assert.match(getHeader(await nextNotify(callId, t3), 'subscription-state') ?? '', /^terminated/);
  assert.equal(sip.events.subscriptions('message-summary', ANA.user).length, 0);
  const late = subscribe({ user: ANA.user, callId, toTag, expires: 300 });
  await peer.send(late.text, port);
  assert.equal((await peer.response(late.cseq))?.message.status, 481);
});

test('another user\'s box is 403; an unknown event 489 with Allow-Events; a too short Expires 423; an unknown dialog 481', async () => {
  assert.equal((await subscribeWithAuth(BO, ANA.user, 'mwi-foreign')).status, 403);
  assert.equal(sip.events.subscriptions().length, 0);

  const presence = subscribe({ user: ANA.user, callId: 'mwi-presence', event: 'presence' });
  await peer.send(presence.text, port);
  const bad = await peer.response(presence.cseq);
  assert.equal(bad?.message.status, 489);
  assert.equal(getHeader(bad.message, 'allow-events'), 'message-summary');
  const none = subscribe({ user: ANA.user, callId: 'mwi-none', event: '' });
  await peer.send(none.text, port);
  assert.equal((await peer.response(none.cseq))?.message.status, 489);

  const brief = subscribe({ user: ANA.user, callId: 'mwi-brief', expires: 5 });
  await peer.send(brief.text, port);
  const tooBrief = await peer.response(brief.cseq);
  assert.equal(tooBrief?.message.status, 423);
  assert.equal(getHeader(tooBrief.message, 'min-expires'), '60');

  const stranger = subscribe({ user: ANA.user, callId: 'mwi-stranger', toTag: 'not-ours', expires: 600 });
  await peer.send(stranger.text, port);
  assert.equal((await peer.response(stranger.cseq))?.message.status, 481);
});

test('Event header parsing', () => {
  assert.deepEqual(parseEvent('message-summary'), { name: 'message-summary', id: null });
  assert.deepEqual(parseEvent('Message-Summary ; id=7'), { name: 'message-summary', id: '7' });
  assert.equal(parseEvent(undefined), null);
  assert.equal(parseEvent('bad event'), null);
});
