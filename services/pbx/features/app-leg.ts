/**
 * The caller's media leg of a call the PBX answers itself: a media session of its own on the
 * engine (named after the Call-ID, prefixed so it never collides with a relayed call's session),
 * one leg that answers the phone's offer (G.711 + telephone-event), and the JS takeover of that
 * leg once the call runs.
 */
import type { AttachOptions, MediaEndpoint, MediaEngine, MediaLeg, MediaOutput, MediaSession } from '../../media/engine.js';

export class AppLeg {
  readonly #session: MediaSession;
  readonly #leg: MediaLeg;
  /** the session now belongs to a bridged call (a transfer was answered): close() leaves it */
  #handedOver = false;

  constructor(engine: MediaEngine, callId: string) {
    this.#session = engine.createSession({ callId: `app:${callId}` });
    try {
      this.#leg = this.#session.createLeg('caller');
    } catch (error) {
      this.#session.close();
      throw error;
    }
  }

  get leg(): MediaLeg {
    return this.#leg;
  }

  get session(): MediaSession {
    return this.#session;
  }

  /** The caller's leg now belongs to the call a transfer made: it closes the session, not us. */
  handOver(): void {
    this.#handedOver = true;
  }

  /** RFC 3264 answer to the phone's offer (INVITE or re-INVITE). Throws MediaError when unusable. */
  answer(offer: Buffer): Buffer {
    return Buffer.from(this.#leg.answerOffer(offer.toString('utf8')));
  }

  attach(endpoint: MediaEndpoint, options: AttachOptions = {}): MediaOutput {
    return this.#leg.attach(endpoint, options);
  }

  close(): void {
    if (this.#handedOver) return;
    this.#session.close();
  }
}
