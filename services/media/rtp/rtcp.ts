/**
 * RTCP with rtp.js: read the reception reports phones send about the streams they receive
 * (RFC 3550 §6.4), and build the SR we send when a JS endpoint is the source of a leg's audio.
 */
import { packets } from 'rtp.js';

const { CompoundPacket, SenderReportPacket, ReceiverReportPacket, ReceptionReport, isRtcp, RtcpPacket } = packets;

/** What the far end says about the stream it receives from us (RFC 3550 §6.4.1). */
export interface RemoteReport {
  /** SSRC of the stream being reported on */
  ssrc: number;
  /** 0..1 since the previous report */
  fractionLost: number;
  totalLost: number;
  /** interarrival jitter, ms (clock 8000) */
  jitterMs: number;
  highestSeq: number;
  receivedAt: number;
}

function toView(data: Uint8Array): DataView {
  // rtp.js keeps views on the buffer it is given: hand it a private copy.
  const copy = new Uint8Array(data);
  return new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
}

/** Reception reports inside an RTCP compound packet; [] for anything malformed. */
export function readReceptionReports(data: Uint8Array, clockRate = 8000): RemoteReport[] {
  const view = toView(data);
  if (!isRtcp(view)) return [];
  const out: RemoteReport[] = [];
  try {
    const compound = new CompoundPacket(view);
    for (const p of compound.getPackets()) {
      let reports: InstanceType<typeof ReceptionReport>[] = [];
      if (p instanceof SenderReportPacket || p instanceof ReceiverReportPacket) reports = p.getReports();
      for (const r of reports) {
        out.push({
          ssrc: r.getSsrc(),
          fractionLost: r.getFractionLost() / 256,
          totalLost: r.getTotalLost(),
          jitterMs: (r.getJitter() * 1000) / clockRate,
          highestSeq: r.getHighestSeqNumber(),
          receivedAt: Date.now(),
        });
      }
    }
  } catch {
    return [];
  }
  return out;
}

export interface SenderInfo {
  ssrc: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export interface ReceptionInfo {
  ssrc: number;
  fractionLost: number;
  totalLost: number;
  extendedHighestSeq: number;
  /** timestamp units */
  jitter: number;
}

/** NTP timestamp (RFC 3550 §4) of now. */
function ntpNow(): { seconds: number; fraction: number } {
  const ms = Date.now();
  const seconds = Math.floor(ms / 1000) + 2208988800;
  const fraction = Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0;
  return { seconds: seconds >>> 0, fraction };
}

/** SR (with one report block about what we receive, when known) serialized to bytes. */
export function buildSenderReport(sender: SenderInfo, reception?: ReceptionInfo): Uint8Array {
  const sr = new SenderReportPacket();
  sr.setSsrc(sender.ssrc);
  const ntp = ntpNow();
  sr.setNtpSeconds(ntp.seconds);
  sr.setNtpFraction(ntp.fraction);
  sr.setRtpTimestamp(sender.rtpTimestamp >>> 0);
  sr.setPacketCount(sender.packetCount >>> 0);
  sr.setOctetCount(sender.octetCount >>> 0);
  if (reception) sr.addReport(receptionReport(reception));
  const view = sr.getView();
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** RR from a receiver that sends nothing (RFC 3550 §6.4.2). */
export function buildReceiverReport(ssrc: number, reception: ReceptionInfo): Uint8Array {
  const rr = new ReceiverReportPacket();
  rr.setSsrc(ssrc);
  rr.addReport(receptionReport(reception));
  const view = rr.getView();
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function receptionReport(r: ReceptionInfo): InstanceType<typeof ReceptionReport> {
  const rep = new ReceptionReport();
  rep.setSsrc(r.ssrc >>> 0);
  rep.setFractionLost(Math.max(0, Math.min(255, Math.round(r.fractionLost * 256))));
  rep.setTotalLost(Math.max(0, Math.min(0x7fffff, r.totalLost)));
  rep.setHighestSeqNumber(r.extendedHighestSeq >>> 0);
  rep.setJitter(Math.max(0, Math.round(r.jitter)) >>> 0);
  rep.setLastSRTimestamp(0);
  rep.setDelaySinceLastSR(0);
  return rep;
}

export { RtcpPacket };
