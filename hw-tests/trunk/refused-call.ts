/**
 * A call the PBX refuses after a prompt (183 early media, then a final status), placed from a
 * sip.js test phone with early media on, so the test can listen to what the caller heard.
 */
import { Inviter, UserAgent } from 'sip.js/lib/api/index.js';
import type { RtpPhone } from '../support/rtp-phone.js';
import type { SipPhone } from '../support/sip-phone.js';

export interface RefusedCall {
  status: number;
  reason: string;
  /** Audio the phone received during the early media, decoded. */
  heard: Int16Array;
}

export async function placeRefusedCall(phone: SipPhone, target: string, pbx: { address: string; port: number }, timeoutMs = 15_000): Promise<RefusedCall> {
  const uri = UserAgent.makeURI(`sip:${target}@${pbx.address}:${pbx.port}`);
  if (!uri) throw new Error(`bad target ${target}`);
  const inviter = new Inviter(phone.ua, uri, { earlyMedia: true });
  let media: RtpPhone | null = null;
  const grabMedia = (): void => {
    // SipPhone's session description handler exposes the phone's RTP endpoint as `media`.
    const sdh = inviter.sessionDescriptionHandler as unknown as { media?: RtpPhone } | undefined;
    if (sdh?.media !== undefined) media = sdh.media;
  };
  const final = new Promise<{ status: number; reason: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target}: no final response within ${timeoutMs} ms`)), timeoutMs);
    void inviter
      .invite({
        requestDelegate: {
          onProgress: () => grabMedia(),
          onAccept: () => {
            clearTimeout(timer);
            resolve({ status: 200, reason: 'OK' });
          },
          onReject: (response) => {
            clearTimeout(timer);
            grabMedia();
            resolve({ status: response.message.statusCode ?? 0, reason: response.message.reasonPhrase ?? '' });
          },
        },
      })
      .catch(reject);
  });
  const { status, reason } = await final;
  const got = media as RtpPhone | null;
  return { status, reason, heard: got === null ? new Int16Array(0) : got.pcmBetween(0, performance.now()) };
}
