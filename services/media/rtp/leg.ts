/**
 * One anchored call leg: a local RTP/RTCP port pair facing one phone. It owns what that phone said
 * in SDP, the codec negotiated with it, and where its packets go (state below).
 *
 * Route of the packets arriving on a leg (relay_core.h `enum rc_mode`):
 *   attached endpoint      -> 'js'    (to the feature; packets for this phone come only from it)
 *   else bridged to a peer -> 'relay' (native, to the peer's phone; stopped while the peer is attached)
 *   else                   -> 'drop'
 */
import type { Logger } from '../../log.js';
import type { NativeLegStats, NativeRelay, InboundPacket } from '../native/relay.js';
import { parseSdp } from '../sdp/parse.js';
import { serializeSdp } from '../sdp/serialize.js';
import {
  answeredCodecs,
  buildLocalSdp,
  describeAudio,
  effectiveDirection,
  negotiated,
  wantsToReceive,
  type Codec,
  type Negotiated,
  type RemoteAudio,
} from '../sdp/offer-answer.js';
import { SdpError, type Direction, type SessionDescription } from '../sdp/types.js';
import { MediaError } from './errors.js';
import { InboundDecoder, OutboundStream, encodeFrame, type EventPacket, type MediaEndpoint, type MediaOutput } from './endpoint.js';
import type { JitterMode } from '../jitter/jitter-buffer.js';
import { buildSenderReport, readReceptionReports, type RemoteReport } from './rtcp.js';
import { DtmfWatch, type KeyPressListener } from './dtmf-watch.js';

const FRAME_MS = 20;

export interface AttachOptions {
  /**
   * Put the phone's audio through a jitter buffer with loss concealment before the endpoint:
   * 'adaptive' for speech (voicemail, IVR), 'fixed' for fax and modem calls, whose tones a
   * changing delay would corrupt. Without it frames arrive as packets do.
   */
  playout?: JitterMode;
}

/** What the engine lends each leg. */
export interface LegContext {
  relay: NativeRelay;
  advertise: string;
  rtcpIntervalMs: number;
  logger: Logger;
  /** frees the port pair and forgets the leg */
  release(leg: MediaLeg): void;
}

export interface LegStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** RFC 3550 A.3 cumulative lost of the stream this leg receives from its phone */
  lost: number;
  expected: number;
  /** RFC 3550 A.8 interarrival jitter of that stream, ms */
  jitterMs: number;
  /** where we send to this phone (latched or from SDP); null before either is known */
  remote: { ip: string; port: number } | null;
  latched: boolean;
  /** where RTCP for this phone goes (its own RTCP source once latched; its RTP address with rtcp-mux) */
  rtcpRemote: { ip: string; port: number } | null;
  /** moves after the learning window: NAT rebindings of the same stream (RTP Bleed defence) */
  relatches: number;
  /** packets from sources other than the latched phone (strangers, sprays), dropped */
  droppedForeign: number;
  droppedMalformed: number;
  /** datagrams over 2,048 bytes, dropped whole */
  droppedOversize: number;
  /** packets toward this phone the kernel refused (not in packetsOut) */
  droppedSend: number;
  /** the phone's own last RTCP reception report (about what it receives from us) */
  remoteReport?: RemoteReport;
}

/** Our own capabilities when the PBX itself terminates media (voicemail, IVR). */
const OWN_CODECS: Codec[] = [
  { payloadType: 0, name: 'PCMU', clockRate: 8000 },
  { payloadType: 8, name: 'PCMA', clockRate: 8000 },
  { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
];

interface Attachment {
  endpoint: MediaEndpoint;
  decoder: InboundDecoder;
  timer: NodeJS.Timeout;
  /** The 20 ms playout step when the endpoint asked for a jitter buffer. */
  playout: NodeJS.Timeout | null;
}

export class MediaLeg {
  readonly name: string;
  readonly localPort: number;
  readonly #id: number;
  readonly #ctx: LegContext;
  readonly #parentLog: () => Logger;
  #logger: Logger | undefined;
  readonly #sessionId = String(Math.floor(Math.random() * 1e9) + 1);
  #version = 0;
  #closed = false;
  /** the phone's last SDP and its audio stream */
  #remoteSdp: SessionDescription | undefined;
  #remote: RemoteAudio | undefined;
  /** codecs we last offered to this phone (to check its answer against) */
  #offered: Codec[] | undefined;
  #negotiated: Negotiated | undefined;
  #peer: MediaLeg | undefined;
  #attachment: Attachment | undefined;
  readonly #out = new OutboundStream();
  #remoteReport: RemoteReport | undefined;
  #prevExpected = 0;
  #prevReceived = 0;
  readonly #closeListeners: (() => void)[] = [];
  readonly #freeListeners = new Set<() => void>();
  /** a feature watching this phone's RFC 4733 key presses (watchDtmf) */
  #dtmfWatch: DtmfWatch | undefined;

  /** @internal created by MediaSession.createLeg */
  constructor(name: string, id: number, localPort: number, ctx: LegContext, parentLog: () => Logger = () => ctx.logger) {
    this.name = name;
    this.#id = id;
    this.localPort = localPort;
    this.#ctx = ctx;
    this.#parentLog = parentLog;
  }

  /** The leg's child logger, made on first use (as the session's: a pino child is not cheap). */
  get #log(): Logger {
    return (this.#logger ??= this.#parentLog().child({ leg: this.name, port: this.localPort }));
  }

  /** @internal native leg id */
  get nativeId(): number {
    return this.#id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get negotiatedCodec(): Negotiated | undefined {
    return this.#negotiated;
  }

  /** The phone's current direction (as it wrote it, RFC 2543 c=0.0.0.0 folded in). */
  get remoteDirection(): Direction | undefined {
    return this.#remote ? effectiveDirection(this.#remote) : undefined;
  }

  get bridgedTo(): MediaLeg | undefined {
    return this.#peer;
  }

  get attached(): boolean {
    return this.#attachment !== undefined;
  }

  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  // ---- SDP (RFC 3264) ----

  /**
   * `from`'s phone made an offer: remember it on `from`, and return the offer to send to this
   * leg's phone (our address and this leg's port, the codecs we can carry, the same direction).
   */
  anchorOffer(offerSdp: string, from: MediaLeg): string {
    this.#assertOpen();
    from.#assertOpen();
    const sdp = parseEdge(offerSdp);
    const audio = describeEdge(sdp);
    if (!audio.codecs.some((c) => c.name !== 'telephone-event')) {
      throw new MediaError('ERR_NO_COMMON_CODEC', 'offer has none of PCMU, PCMA, G722');
    }
    from.#setRemote(sdp, audio);
    // Per-leg DTMF: telephone-event is offered to this phone whatever `from` supports, because
    // the PBX (not the far phone) terminates it when only one side has it (docs: DTMF interworking).
    const codecs = withTelephoneEvent(audio.codecs);
    this.#offered = codecs;
    const local = buildLocalSdp({
      template: sdp,
      audioIndex: audio.index,
      sessionId: this.#sessionId,
      sessionVersion: ++this.#version,
      address: this.#ctx.advertise,
      port: this.localPort,
      codecs,
      direction: effectiveDirection(audio),
      ...(audio.ptime !== undefined ? { ptime: audio.ptime } : {}),
    });
    return serializeSdp(local);
  }

  /**
   * `from`'s phone answered the offer we sent it: remember it on `from`, and return the answer for
   * this leg's phone (whose offer went through `from.anchorOffer`).
   */
  anchorAnswer(answerSdp: string, from: MediaLeg): string {
    this.#assertOpen();
    from.#assertOpen();
    if (!this.#remote || !this.#remoteSdp || !from.#offered) {
      throw new MediaError('ERR_STATE', 'anchorAnswer without a pending anchorOffer');
    }
    const sdp = parseEdge(answerSdp);
    const audio = describeEdge(sdp);
    const codecs = answeredCodecs(from.#offered, audio.codecs);
    from.#offered = undefined;
    let port = this.localPort;
    let own = codecs;
    if (audio.port === 0 || !codecs.some((c) => c.name !== 'telephone-event')) {
      port = 0; // audio rejected by the answerer (§6): reject it towards our offerer too
    } else {
      from.#negotiated = negotiated(codecs);
      own = offererCodecs(codecs, this.#remote.codecs);
      this.#negotiated = negotiated(own);
      this.#applyDtmf();
    }
    from.#setRemote(sdp, audio);
    // this answer is what lets this leg's phone start sending (a caller waits for it): learn now
    this.#ctx.relay.learn(this.#id);
    const local = buildLocalSdp({
      template: this.#remoteSdp,
      audioIndex: this.#remote.index,
      sessionId: this.#sessionId,
      sessionVersion: ++this.#version,
      address: this.#ctx.advertise,
      port,
      codecs: port === 0 ? this.#remote.codecs : own,
      direction: effectiveDirection(audio),
      ...(audio.ptime !== undefined ? { ptime: audio.ptime } : {}),
    });
    return serializeSdp(local);
  }

  /** The PBX itself answers this phone's offer (voicemail, IVR): G.711 + telephone-event. */
  answerOffer(offerSdp: string): string {
    this.#assertOpen();
    const sdp = parseEdge(offerSdp);
    const audio = describeEdge(sdp);
    const codecs = audio.codecs.filter((c) => OWN_CODECS.some((o) => o.name === c.name));
    if (!codecs.some((c) => c.name === 'PCMU' || c.name === 'PCMA')) {
      throw new MediaError('ERR_NO_COMMON_CODEC', 'offer has neither PCMU nor PCMA');
    }
    const chosen = [codecs.find((c) => c.name !== 'telephone-event') as Codec, ...codecs.filter((c) => c.name === 'telephone-event')];
    return this.#answerWith(sdp, audio, chosen);
  }

  /**
   * The PBX answers a re-offer of an anchored phone itself (hold and resume, RFC 3264 §8.4), without
   * asking the far phone: the codec in use stays (the relay does not transcode), telephone-event
   * stays when offered, and the direction is the offer's mirror. Throws ERR_NO_COMMON_CODEC when the
   * re-offer drops the codec in use (then the far phone has to be asked).
   */
  answerReoffer(offerSdp: string): string {
    this.#assertOpen();
    const current = this.#negotiated;
    if (!current) throw new MediaError('ERR_STATE', 'answerReoffer before any negotiation');
    const sdp = parseEdge(offerSdp);
    const audio = describeEdge(sdp);
    const same = audio.codecs.find((c) => c.name === current.audio.name && c.clockRate === current.audio.clockRate);
    if (!same) throw new MediaError('ERR_NO_COMMON_CODEC', `re-offer without ${current.audio.name}`);
    const te = current.dtmf ? audio.codecs.find((c) => c.name === 'telephone-event') : undefined;
    const chosen = te ? [same, te] : [same];
    return this.#answerWith(sdp, audio, chosen);
  }

  /** Takes `chosen` as negotiated and answers the offer with it, the direction mirrored (RFC 3264 §6.1). */
  #answerWith(sdp: SessionDescription, audio: RemoteAudio, chosen: Codec[]): string {
    this.#negotiated = negotiated(chosen);
    this.#setRemote(sdp, audio);
    const dir = effectiveDirection(audio);
    const answerDir: Direction = dir === 'sendonly' ? 'recvonly' : dir === 'recvonly' ? 'sendonly' : dir;
    return serializeSdp(
      buildLocalSdp({
        template: sdp,
        audioIndex: audio.index,
        sessionId: this.#sessionId,
        sessionVersion: ++this.#version,
        address: this.#ctx.advertise,
        port: this.localPort,
        codecs: chosen,
        direction: answerDir,
        ...(audio.ptime !== undefined ? { ptime: audio.ptime } : {}),
      }),
    );
  }

  /** The PBX offers to this phone on its own (call from a feature, late offer): G.711 + telephone-event. */
  createOffer(direction: Direction = 'sendrecv'): string {
    this.#assertOpen();
    this.#offered = OWN_CODECS;
    const template: SessionDescription = {
      version: 0,
      origin: { username: '-', sessionId: '0', sessionVersion: '0', netType: 'IN', addrType: 'IP4', address: this.#ctx.advertise },
      sessionName: '-',
      emails: [],
      phones: [],
      bandwidths: [],
      times: [],
      attributes: [],
      media: [{ type: 'audio', port: 0, proto: 'RTP/AVP', formats: [], bandwidths: [], rtpmaps: [], fmtps: [], attributes: [] }],
    };
    return serializeSdp(
      buildLocalSdp({
        template,
        audioIndex: 0,
        sessionId: this.#sessionId,
        sessionVersion: ++this.#version,
        address: this.#ctx.advertise,
        port: this.localPort,
        codecs: OWN_CODECS,
        direction,
        ptime: 20,
      }),
    );
  }

  /** The phone's answer to createOffer(). */
  acceptAnswer(answerSdp: string): void {
    this.#assertOpen();
    if (!this.#offered) throw new MediaError('ERR_STATE', 'acceptAnswer without createOffer');
    const sdp = parseEdge(answerSdp);
    const audio = describeEdge(sdp);
    const codecs = answeredCodecs(this.#offered, audio.codecs);
    this.#offered = undefined;
    if (audio.port !== 0) this.#negotiated = negotiated(codecs);
    this.#setRemote(sdp, audio);
  }

  #setRemote(sdp: SessionDescription, audio: RemoteAudio): void {
    this.#remoteSdp = sdp;
    this.#remote = audio;
    this.#applyRemote();
    if (this.#ctx.logger.isLevelEnabled('debug')) {
      this.#log.debug({ remote: `${audio.address}:${audio.port}`, direction: audio.direction }, 'remote SDP');
    }
  }

  #applyRemote(): void {
    const a = this.#remote;
    if (!a) return;
    const known = a.port !== 0 && !a.nullAddress;
    this.#ctx.relay.setRemote(this.#id, {
      ip: known ? a.address : '',
      rtpPort: known ? a.port : 0,
      rtcpPort: known ? a.rtcpPort : 0,
      canSend: wantsToReceive(a),
      dtmfPt: this.#negotiated?.dtmf?.payloadType ?? -1,
      clockRate: 8000,
    });
  }

  #applyDtmf(): void {
    this.#applyRemote();
  }

  // ---- routing ----

  /** @internal used by MediaSession.bridge/unbridge */
  setPeer(peer: MediaLeg | undefined): void {
    this.#peer = peer;
    this.#applyRoute();
  }

  #applyRoute(): void {
    if (this.#closed) return;
    const mode = this.#attachment ? 'js' : this.#peer ? 'relay' : 'drop';
    this.#ctx.relay.setRoute(this.#id, mode, this.#peer && !this.#peer.closed ? this.#peer.nativeId : null);
  }

  /**
   * Feature takeover: from now on this phone's audio goes to `endpoint`, and what the endpoint
   * sends goes to this phone. The bridge partner is left alone (it hears nothing from this leg).
   */
  attach(endpoint: MediaEndpoint, options: AttachOptions = {}): MediaOutput {
    this.#assertOpen();
    const neg = this.#negotiated;
    if (!neg || (neg.audio.name !== 'PCMU' && neg.audio.name !== 'PCMA')) {
      throw new MediaError('ERR_NO_COMMON_CODEC', `takeover needs G.711 on leg ${this.name} (negotiated: ${neg?.audio.name ?? 'none'})`);
    }
    if (this.#attachment) this.#detach();
    const law = neg.audio.name;
    const decoder = new InboundDecoder(endpoint, { law, audioPt: neg.audio.payloadType, dtmfPt: neg.dtmf?.payloadType }, options.playout ?? null);
    const timer = setInterval(() => this.#sendRtcp(), this.#ctx.rtcpIntervalMs);
    timer.unref();
    const playout = options.playout === undefined ? null : setInterval(() => decoder.tick(performance.now()), FRAME_MS);
    playout?.unref();
    const attachment: Attachment = { endpoint, decoder, timer, playout };
    this.#attachment = attachment;
    this.#applyRoute();
    this.#log.info({ codec: law }, 'endpoint attached');
    const pt = neg.audio.payloadType;
    const dtmfPt = neg.dtmf?.payloadType;
    return {
      codec: law,
      telephoneEvent: dtmfPt !== undefined,
      sendAudio: (frame: Int16Array): boolean => {
        if (this.#attachment !== attachment || this.#closed) return false;
        return this.#ctx.relay.send(this.#id, 'rtp', this.#out.next(pt, encodeFrame(law, frame)));
      },
      timestamp: (): number => this.#out.timestampAt(),
      sendEvent: (packet: EventPacket): boolean => {
        if (this.#attachment !== attachment || this.#closed || dtmfPt === undefined) return false;
        return this.#ctx.relay.send(this.#id, 'rtp', this.#out.event(dtmfPt, packet));
      },
    };
  }

  /**
   * Called after every detach() that leaves the leg free (not when a new attach() replaces the
   * endpoint, not on close): a JS bridge (DTMF interworking) takes the leg back after a feature.
   * Returns the unsubscribe function.
   */
  onFree(listener: () => void): () => void {
    this.#freeListeners.add(listener);
    return () => this.#freeListeners.delete(listener);
  }

  /** Ends the takeover; if the leg is bridged, the relay resumes both ways. */
  detach(): void {
    const had = this.#attachment !== undefined;
    this.#detach();
    if (!had || this.#closed) return;
    for (const l of [...this.#freeListeners]) {
      try {
        l();
      } catch (e) {
        this.#log.error({ err: e }, 'free listener threw');
      }
    }
  }

  #detach(): void {
    const a = this.#attachment;
    if (!a) return;
    this.#attachment = undefined;
    clearInterval(a.timer);
    if (a.playout !== null) clearInterval(a.playout);
    this.#applyRoute();
    this.#log.info('endpoint detached');
    try {
      a.endpoint.onDetach?.();
    } catch (e) {
      this.#log.error({ err: e }, 'endpoint onDetach threw');
    }
  }

  /**
   * Key presses this phone sends as RFC 4733 telephone-events, decoded (one per press, end
   * retransmissions de-duplicated), whether the leg is relayed natively (the relay hands JS a copy
   * and still forwards the packet unchanged) or taken over. Null stops watching. One watcher per
   * leg: a new one replaces the old. In-band tones and SIP INFO are not seen here.
   */
  watchDtmf(listener: KeyPressListener | null): void {
    if (this.#closed) return;
    this.#dtmfWatch = listener === null ? undefined : new DtmfWatch(listener);
    this.#ctx.relay.setEvents(this.#id, listener !== null);
  }

  #watchKeys(data: Uint8Array): void {
    const w = this.#dtmfWatch;
    if (w === undefined) return;
    try {
      w.push(data, this.#negotiated?.dtmf?.payloadType);
    } catch (e) {
      this.#log.error({ err: e }, 'DTMF watcher threw');
    }
  }

  /** @internal packets from the native side (takeover RTP, all RTCP, copies of relayed telephone-events) */
  handlePacket(p: InboundPacket): void {
    if (p.kind === 'event') {
      this.#watchKeys(p.data);
      return;
    }
    if (p.kind === 'rtcp') {
      const reports = readReceptionReports(p.data);
      const last = reports[reports.length - 1];
      if (last) this.#remoteReport = last;
      return;
    }
    this.#watchKeys(p.data);
    const a = this.#attachment;
    if (!a) return;
    try {
      a.decoder.push(p.data);
    } catch (e) {
      this.#log.error({ err: e }, 'endpoint threw on inbound audio');
    }
  }

  #sendRtcp(): void {
    if (this.#closed) return;
    const s = this.#ctx.relay.stats(this.#id);
    const expectedInterval = s.expected - this.#prevExpected;
    const receivedInterval = s.expected - s.lost - this.#prevReceived;
    this.#prevExpected = s.expected;
    this.#prevReceived = s.expected - s.lost;
    const lostInterval = expectedInterval - receivedInterval;
    const reception = s.expected > 0
      ? {
          ssrc: s.ssrc,
          fractionLost: expectedInterval > 0 && lostInterval > 0 ? lostInterval / expectedInterval : 0,
          totalLost: s.lost,
          extendedHighestSeq: s.extendedMaxSeq,
          jitter: s.jitter,
        }
      : undefined;
    const sr = buildSenderReport(
      { ssrc: this.#out.ssrc, rtpTimestamp: this.#out.timestamp, packetCount: this.#out.packetCount, octetCount: this.#out.octetCount },
      reception,
    );
    this.#ctx.relay.send(this.#id, 'rtcp', sr);
  }

  stats(): LegStats {
    this.#assertOpen();
    const s: NativeLegStats = this.#ctx.relay.stats(this.#id);
    const out: LegStats = {
      packetsIn: s.packetsIn,
      packetsOut: s.packetsOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      lost: s.lost,
      expected: s.expected,
      jitterMs: s.jitter / 8,
      remote: s.remotePort ? { ip: s.remoteIp, port: s.remotePort } : null,
      latched: s.latched === 1,
      rtcpRemote: s.remoteRtcpPort ? { ip: s.remoteRtcpIp, port: s.remoteRtcpPort } : null,
      relatches: s.relatches,
      droppedForeign: s.droppedForeign,
      droppedMalformed: s.droppedMalformed,
      droppedOversize: s.droppedOversize,
      droppedSend: s.droppedSend,
    };
    if (this.#remoteReport) out.remoteReport = this.#remoteReport;
    return out;
  }

  /** Closes the leg: detaches its endpoint, unbridges, frees the ports. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#freeListeners.clear();
    this.#dtmfWatch = undefined;
    this.#detach();
    const peer = this.#peer;
    this.#peer = undefined;
    if (peer && peer.#peer === this) peer.setPeer(undefined);
    this.#closed = true;
    this.#ctx.release(this);
    for (const l of this.#closeListeners.splice(0)) l();
  }

  #assertOpen(): void {
    if (this.#closed) throw new MediaError('ERR_CLOSED', `leg ${this.name} is closed`);
  }
}

function isG711(c: Codec): boolean {
  return c.name === 'PCMU' || c.name === 'PCMA';
}

/**
 * The codecs to offer a phone: the other side's, plus telephone-event when it had none and G.711 is
 * on offer (the PBX converts to/from in-band then). Its payload type: 101 if free, else a free
 * dynamic one (RFC 3551 §3: 96–127).
 */
function withTelephoneEvent(codecs: Codec[]): Codec[] {
  if (codecs.some((c) => c.name === 'telephone-event') || !codecs.some(isG711)) return codecs;
  const used = new Set(codecs.map((c) => c.payloadType));
  const free = [101, ...Array.from({ length: 32 }, (_, i) => 96 + i)].find((pt) => !used.has(pt));
  if (free === undefined) return codecs;
  return [...codecs, { payloadType: free, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' }];
}

/**
 * The answer for the offerer: the answerer's audio codecs, plus the offerer's own telephone-event
 * when it offered one, whether or not the answerer accepted it (RFC 3264 §6.1: a subset of what the
 * offerer offered). Not on G.722 without DTMF on both sides: interworking needs G.711 frames.
 */
function offererCodecs(answered: Codec[], offeredByOfferer: Codec[]): Codec[] {
  const audio = answered.filter((c) => c.name !== 'telephone-event');
  const te = offeredByOfferer.find((c) => c.name === 'telephone-event');
  const answererTe = answered.some((c) => c.name === 'telephone-event');
  const first = audio[0];
  if (!te || (!answererTe && (!first || !isG711(first)))) return audio;
  return [...audio, te];
}

function parseEdge(text: string): SessionDescription {
  try {
    return parseSdp(text);
  } catch (e) {
    if (e instanceof SdpError) throw new MediaError('ERR_BAD_SDP', e.message);
    throw e;
  }
}

function describeEdge(sdp: SessionDescription): RemoteAudio {
  try {
    return describeAudio(sdp);
  } catch (e) {
    if (e instanceof SdpError) throw new MediaError('ERR_NO_COMMON_CODEC', e.message);
    throw e;
  }
}

