/**
 * Test support: a fax machine behind a carrier, the far end of the virtual fax line's tests. A
 * second spandsp instance (the same addon the product uses: a real fax modem, not a mock) on real
 * sockets: SIP over a raw UDP peer, G.711 RTP on its own socket, T.38 over UDPTL on another.
 *
 *  - `send(...)`: calls the PBX (as the carrier would: from the trunk's address) and sends a TIFF;
 *    answers the PBX's re-INVITE to T.38 with a T.38 answer (`t38: 'accept'`) or 488 (`'refuse'`).
 *  - `receive(...)`: waits for the PBX's INVITE (an outgoing fax through the trunk), answers G.711
 *    and receives the pages into a TIFF.
 *
 * The product imports none of this (image/no-test-code.test.ts).
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { FRAME_SAMPLES, muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { FaxModem, type FaxStatus } from '../../services/fax/native/modem.js';
import { buildT38Sdp, describeT38, OUR_T38, type T38Remote } from '../../services/fax/t38-sdp.js';
import { UdptlSession } from '../../services/fax/udptl.js';
import { parseSdp } from '../../services/media/sdp/parse.js';
import type { SipRequest, SipResponse } from '../../services/sip/message.js';
import { UdpPeer, type Received } from './sip-peer.js';

export interface FaxPeerResult {
  status: FaxStatus;
  /** how the pages travelled in the end */
  transport: 'audio' | 't38';
  /** the status the PBX's re-INVITE to T.38 got from us, if it sent one */
  t38Reinvite: number | null;
  /** the SDP of the PBX's re-INVITE, as received */
  t38Offer: string | null;
  /** who sent BYE */
  byeFrom: 'us' | 'pbx' | null;
}

export interface FaxSendOptions {
  pbx: { address: string; port: number };
  /** the number dialled (Request-URI user), as the carrier presents it */
  number: string;
  /** the caller's number (From user) */
  from: string;
  tiff: string;
  /** our TSI */
  ident: string;
  t38: 'accept' | 'refuse';
  timeoutMs?: number;
}

export interface FaxReceiveOptions {
  tiff: string;
  ident: string;
  /** 'initiate': once answered, we re-INVITE the PBX to T.38 ourselves (a gateway that heard CNG) */
  t38?: 'accept' | 'refuse' | 'initiate';
  timeoutMs?: number;
}

interface Media {
  rtp: dgram.Socket;
  udptl: dgram.Socket;
}

async function bind(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  return socket;
}

function audioSdp(address: string, port: number): string {
  return [
    'v=0',
    `o=faxpeer 1 1 IN IP4 ${address}`,
    's=fax',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

function audioRemote(sdp: string): { address: string; port: number } {
  const parsed = parseSdp(sdp);
  const m = parsed.media.find((x) => x.type === 'audio');
  const address = m?.connection?.address ?? parsed.connection?.address;
  if (m === undefined || address === undefined) throw new Error('no audio in SDP');
  return { address, port: m.port };
}

/** The fax machine: one call at a time. */
export class FaxPeer {
  readonly sip: UdpPeer;
  readonly address: string;
  #media: Media | null = null;
  #modem: FaxModem | null = null;
  #timer: NodeJS.Timeout | null = null;
  #udptl = new UdptlSession();
  #rtpRemote: { address: string; port: number } | null = null;
  #t38Remote: T38Remote | null = null;
  #rtpSeq = 0;
  #rtpTs = 0;
  readonly #ssrc = randomBytes(4).readUInt32BE(0);
  #handled = new WeakSet<Received>();

  private constructor(sip: UdpPeer) {
    this.sip = sip;
    this.address = sip.address;
  }

  static async open(address: string): Promise<FaxPeer> {
    return new FaxPeer(await UdpPeer.open({ address, answerOptions: true }));
  }

  get port(): number {
    return this.sip.port;
  }

  async #openMedia(): Promise<Media> {
    this.#media ??= { rtp: await bind(this.address), udptl: await bind(this.address) };
    const media = this.#media;
    media.rtp.removeAllListeners('message');
    media.udptl.removeAllListeners('message');
    media.rtp.on('message', (data) => {
      const modem = this.#modem;
      if (modem === null || modem.transport !== 'audio' || data.length < 12) return;
      const cc = (data[0] ?? 0) & 0x0f;
      const payload = data.subarray(12 + 4 * cc);
      if (((data[1] ?? 0) & 0x7f) !== 0) return;
      modem.receiveAudio(muLawDecode(payload));
    });
    media.udptl.on('message', (data) => {
      const modem = this.#modem;
      if (modem === null || modem.transport !== 't38') return;
      for (const { seq, ifp } of this.#udptl.decode(data)) modem.receiveIfp(ifp, seq);
      this.#sendIfp(modem.takeIfp());
    });
    return media;
  }

  #sendIfp(packets: ReturnType<FaxModem['takeIfp']>): void {
    const remote = this.#t38Remote;
    const media = this.#media;
    if (remote === null || media === null) return;
    for (const p of packets) media.udptl.send(this.#udptl.encode(p.data), remote.port, remote.address);
  }

  /** The 20 ms clock of the far end, catching up if the event loop was late (never faster on average). */
  #startClock(): void {
    this.#stopClock();
    const started = performance.now();
    let frames = 0;
    const frame = new Int16Array(FRAME_SAMPLES);
    this.#timer = setInterval(() => {
      const due = Math.floor((performance.now() - started) / 20);
      for (let n = 0; frames < due && n < 5; n++, frames++) {
        const modem = this.#modem;
        if (modem === null) return;
        if (modem.transport === 'audio') {
          modem.transmitAudio(frame);
          const remote = this.#rtpRemote;
          if (remote === null || this.#media === null) continue;
          const header = Buffer.alloc(12);
          header[0] = 0x80;
          header[1] = 0;
          header.writeUInt16BE(this.#rtpSeq++ & 0xffff, 2);
          header.writeUInt32BE(this.#rtpTs >>> 0, 4);
          header.writeUInt32BE(this.#ssrc, 8);
          this.#rtpTs += FRAME_SAMPLES;
          this.#media.rtp.send(Buffer.concat([header, muLawEncode(frame)]), remote.port, remote.address);
        } else {
          this.#sendIfp(modem.tick(FRAME_SAMPLES));
        }
      }
    }, 5);
  }

  #stopClock(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #switchToT38(remote: T38Remote, callingParty: boolean, direction: 'send' | 'receive', file: string, ident: string): void {
    this.#modem?.close();
    this.#t38Remote = remote;
    this.#udptl = new UdptlSession();
    this.#modem = new FaxModem({ transport: 't38', callingParty, direction, file, ident, localTcf: remote.params.rateManagement === 'localTCF', maxDatagram: remote.params.maxDatagram });
  }

  /** The next request of `method` not handled yet (in arrival order). */
  async #nextRequest(method: string, timeoutMs: number): Promise<(Received & { message: SipRequest }) | null> {
    try {
      const found = await this.sip.waitFor((r) => !this.#handled.has(r) && r.message?.kind === 'request' && r.message.method === method, 1, timeoutMs);
      const r = found[0] as Received & { message: SipRequest };
      this.#handled.add(r);
      return r;
    } catch {
      return null;
    }
  }

  #respond(request: Received & { message: SipRequest }, status: number, reason: string, toTag: string, body = ''): Promise<void> {
    const m = request.message;
    const via = m.via
      .map((v) => `Via: SIP/2.0/${v.transport} ${v.host}${v.port === null ? '' : `:${v.port}`}${[...v.params].map(([k, val]) => (val === null ? `;${k}` : `;${k}=${val}`)).join('')}`)
      .join('\r\n');
    const to = request.data.toString('utf8').match(/^(To|t):\s*(.*)$/im)?.[2]?.trim() ?? '';
    const from = request.data.toString('utf8').match(/^(From|f):\s*(.*)$/im)?.[2]?.trim() ?? '';
    const toHeader = /;tag=/.test(to) ? to : `${to};tag=${toTag}`;
    const text = [
      `SIP/2.0 ${status} ${reason}`,
      via,
      `From: ${from}`,
      `To: ${toHeader}`,
      `Call-ID: ${m.callId}`,
      `CSeq: ${m.cseq.seq} ${m.cseq.method}`,
      `Contact: <sip:fax@${this.address}:${this.port}>`,
      ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    return this.sip.send(text, request.from.port, request.from.address);
  }

  /** Answers in-dialog requests until `done`: re-INVITE (T.38 accept/refuse), ACK, BYE. */
  async #serveDialog(
    toTag: string,
    t38: 'accept' | 'refuse',
    onT38: (remote: T38Remote) => void,
    result: Pick<FaxPeerResult, 't38Reinvite' | 't38Offer' | 'byeFrom'>,
    until: () => boolean,
    deadline: number,
  ): Promise<void> {
    while (!until() && Date.now() < deadline) {
      const next = await this.sip
        .waitFor((r) => !this.#handled.has(r) && r.message?.kind === 'request' && (r.message.method === 'INVITE' || r.message.method === 'BYE') && r.message.to.params.has('tag'), 1, 200)
        .catch(() => null);
      const r = next?.[0] as (Received & { message: SipRequest }) | undefined;
      if (r === undefined) continue;
      this.#handled.add(r);
      if (r.message.method === 'BYE') {
        await this.#respond(r, 200, 'OK', toTag);
        result.byeFrom ??= 'pbx';
        return;
      }
      const offer = r.message.body.toString('utf8');
      const remote = describeT38(parseSdp(offer));
      result.t38Offer = offer;
      if (remote === null) {
        await this.#respond(r, 488, 'Not Acceptable Here', toTag);
        continue;
      }
      if (t38 === 'refuse') {
        result.t38Reinvite = 488;
        await this.#respond(r, 488, 'Not Acceptable Here', toTag);
        continue;
      }
      const media = await this.#openMedia();
      const answer = buildT38Sdp({ origin: { username: 'faxpeer', sessionId: '1', sessionVersion: '2' }, address: this.address, port: media.udptl.address().port, params: { ...OUR_T38, rateManagement: remote.params.rateManagement } });
      result.t38Reinvite = 200;
      onT38(remote);
      await this.#respond(r, 200, 'OK', toTag, answer);
    }
  }

  /** Calls the PBX and sends `tiff`. Resolves when the call is over. */
  async send(o: FaxSendOptions): Promise<FaxPeerResult> {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const media = await this.#openMedia();
    const callId = `${randomBytes(8).toString('hex')}@faxpeer`;
    const fromTag = randomBytes(4).toString('hex');
    const branch = `z9hG4bK-${randomBytes(6).toString('hex')}`;
    const sdp = audioSdp(this.address, media.rtp.address().port);
    const invite = [
      `INVITE sip:${o.number}@${o.pbx.address}:${o.pbx.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${o.from}@${this.address}>;tag=${fromTag}`,
      `To: <sip:${o.number}@${o.pbx.address}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:${o.from}@${this.address}:${this.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
    await this.sip.send(invite, o.pbx.port, o.pbx.address);
    const final = await this.sip.response(1, 10_000);
    if (final === null) throw new Error('no final response to the fax INVITE');
    const response: SipResponse = final.message;
    if (response.status !== 200) throw new Error(`fax INVITE got ${response.status}`);
    const toTag = response.to.params.get('tag') ?? '';
    const toHeader = final.data.toString('utf8').match(/^(To|t):\s*(.*)$/im)?.[2]?.trim() ?? '';
    const contact = response.contact === '*' ? undefined : response.contact[0];
    const target = contact?.uri.kind === 'sip' ? `sip:${contact.uri.user ?? ''}@${contact.uri.host}:${contact.uri.port ?? 5060}` : `sip:${o.number}@${o.pbx.address}:${o.pbx.port}`;
    const inDialog = (method: string, cseq: number): string =>
      [
        `${method} ${target} SIP/2.0`,
        `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: <sip:${o.from}@${this.address}>;tag=${fromTag}`,
        `To: ${toHeader}`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    await this.sip.send(inDialog('ACK', 1), o.pbx.port, o.pbx.address);

    this.#rtpRemote = audioRemote(response.body.toString('utf8'));
    this.#modem = new FaxModem({ transport: 'audio', callingParty: true, direction: 'send', file: o.tiff, ident: o.ident });
    this.#startClock();
    const result: FaxPeerResult = { status: this.#modem.status(), transport: 'audio', t38Reinvite: null, t38Offer: null, byeFrom: null };
    await this.#serveDialog(
      toTag,
      o.t38,
      (remote) => {
        this.#switchToT38(remote, true, 'send', o.tiff, o.ident);
        result.transport = 't38';
      },
      result,
      () => this.#modem?.status().done === true,
      deadline,
    );
    result.status = this.#modem.status();
    if (result.byeFrom === null) {
      // A fax machine hangs up after its DCN (T.30 phase E).
      await new Promise((r) => setTimeout(r, 300));
      await this.sip.send(inDialog('BYE', 2), o.pbx.port, o.pbx.address);
      result.byeFrom = 'us';
      await this.sip.response(2, 3000);
    }
    this.#end();
    return result;
  }

  /** Waits for the PBX's INVITE and receives the fax into `tiff`. */
  async receive(o: FaxReceiveOptions): Promise<FaxPeerResult & { caller: string; requestUser: string }> {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const invite = await this.#nextRequest('INVITE', o.timeoutMs ?? 120_000);
    if (invite === null) throw new Error('the PBX did not call');
    const media = await this.#openMedia();
    const toTag = randomBytes(4).toString('hex');
    this.#rtpRemote = audioRemote(invite.message.body.toString('utf8'));
    await this.#respond(invite, 200, 'OK', toTag, audioSdp(this.address, media.rtp.address().port));
    this.#modem = new FaxModem({ transport: 'audio', callingParty: false, direction: 'receive', file: o.tiff, ident: o.ident });
    this.#startClock();
    const uri = invite.message.uri;
    const from = invite.message.from.uri;
    const result = {
      status: this.#modem.status(),
      transport: 'audio' as 'audio' | 't38',
      t38Reinvite: null as number | null,
      t38Offer: null as string | null,
      byeFrom: null as 'us' | 'pbx' | null,
      caller: from.kind === 'sip' ? (from.user ?? '') : '',
      requestUser: uri.kind === 'sip' ? (uri.user ?? '') : '',
    };
    if (o.t38 === 'initiate') {
      // Our own re-INVITE inside the dialog the PBX began (we are its UAS: From and To swap).
      await new Promise((r) => setTimeout(r, 200));
      const text = invite.data.toString('utf8');
      const theirFrom = text.match(/^(From|f):\s*(.*)$/im)?.[2]?.trim() ?? '';
      const ourTo = `${text.match(/^(To|t):\s*(.*)$/im)?.[2]?.trim() ?? ''};tag=${toTag}`;
      const contact = invite.message.contact === '*' ? undefined : invite.message.contact[0]?.uri;
      const target = contact?.kind === 'sip' ? `sip:${contact.user ?? ''}@${contact.host}:${contact.port ?? 5060}` : `sip:pbx@${invite.from.address}:${invite.from.port}`;
      const offer = buildT38Sdp({ origin: { username: 'faxpeer', sessionId: '1', sessionVersion: '2' }, address: this.address, port: media.udptl.address().port, params: OUR_T38 });
      const request = (method: string, body: string): string =>
        [
          `${method} ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
          'Max-Forwards: 70',
          `From: ${ourTo}`,
          `To: ${theirFrom}`,
          `Call-ID: ${invite.message.callId}`,
          `CSeq: 1 ${method}`,
          `Contact: <sip:fax@${this.address}:${this.port}>`,
          ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n');
      await this.sip.send(request('INVITE', offer), invite.from.port, invite.from.address);
      const answer = await this.sip.response(1, 5000);
      if (answer === null) throw new Error('no answer to our T.38 re-INVITE');
      result.t38Reinvite = answer.message.status;
      await this.sip.send(request('ACK', ''), invite.from.port, invite.from.address);
      const remote = answer.message.status === 200 ? describeT38(parseSdp(answer.message.body.toString('utf8'))) : null;
      if (remote !== null) {
        this.#switchToT38(remote, false, 'receive', o.tiff, o.ident);
        result.transport = 't38';
      }
    }
    await this.#serveDialog(
      toTag,
      o.t38 === 'refuse' ? 'refuse' : 'accept',
      (remote) => {
        this.#switchToT38(remote, false, 'receive', o.tiff, o.ident);
        result.transport = 't38';
      },
      result,
      () => result.byeFrom !== null,
      deadline,
    );
    const modem = this.#modem;
    if (modem === null) throw new Error('fax modem gone');
    modem.terminate();
    result.status = modem.status();
    this.#end();
    return result;
  }

  #end(): void {
    this.#stopClock();
    this.#modem?.close();
    this.#modem = null;
    this.#t38Remote = null;
  }

  async close(): Promise<void> {
    this.#end();
    if (this.#media !== null) {
      this.#media.rtp.close();
      this.#media.udptl.close();
      this.#media = null;
    }
    await this.sip.close();
  }
}
