/**
 * A media session: the media side of one B2BUA call. It owns its legs; closing it closes them
 * (mediasoup-style cascade), and their ports go back to the pool.
 */
import type { Logger } from '../../log.js';
import { MediaError } from './errors.js';
import type { MediaLeg } from './leg.js';

export interface SessionContext {
  logger: Logger;
  /** `logger` gives the session's logger (made on first use) for the leg's own child */
  createLeg(name: string, logger: () => Logger): MediaLeg;
  release(session: MediaSession): void;
}

export class MediaSession {
  readonly callId: string;
  readonly #ctx: SessionContext;
  #logger: Logger | undefined;
  readonly #legs = new Set<MediaLeg>();
  #closed = false;

  /** @internal created by MediaEngine.createSession */
  constructor(callId: string, ctx: SessionContext) {
    this.callId = callId;
    this.#ctx = ctx;
  }

  /**
   * The call's child logger, made on first use: a pino child (bindings serialized, redaction set
   * up) cost more than the rest of a session's setup, and most calls never log at their level.
   */
  get #log(): Logger {
    return (this.#logger ??= this.#ctx.logger.child({ callId: this.callId }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get legs(): readonly MediaLeg[] {
    return [...this.#legs];
  }

  /** Allocates an RTP/RTCP port pair. Throws MediaError ERR_PORTS_EXHAUSTED when the range is full. */
  createLeg(name: string): MediaLeg {
    if (this.#closed) throw new MediaError('ERR_CLOSED', `session ${this.callId} is closed`);
    const leg = this.#ctx.createLeg(name, () => this.#log);
    this.#legs.add(leg);
    leg.onClose(() => this.#legs.delete(leg));
    return leg;
  }

  /** Native relay both ways between two legs of this session (a leg has at most one partner). */
  bridge(a: MediaLeg, b: MediaLeg): void {
    if (this.#closed) throw new MediaError('ERR_CLOSED', `session ${this.callId} is closed`);
    if (a === b || !this.#legs.has(a) || !this.#legs.has(b)) {
      throw new MediaError('ERR_STATE', 'bridge needs two different open legs of this session');
    }
    // Already this pair (the B2BUA bridges at the answer and again at connect): the routes stand.
    if (a.bridgedTo === b && b.bridgedTo === a) return;
    for (const leg of [a, b]) {
      const old = leg.bridgedTo;
      if (old && old !== a && old !== b) old.setPeer(undefined);
    }
    a.setPeer(b);
    b.setPeer(a);
    if (this.#ctx.logger.isLevelEnabled('debug')) this.#log.debug({ a: a.name, b: b.name }, 'bridged');
  }

  unbridge(a: MediaLeg): void {
    const b = a.bridgedTo;
    a.setPeer(undefined);
    if (b && b.bridgedTo === a) b.setPeer(undefined);
  }

  /**
   * Hands an open leg over to another session (an attended transfer joins the parties of two
   * calls): closing this session no longer closes it, closing `to` does.
   */
  moveLeg(leg: MediaLeg, to: MediaSession): void {
    if (to.#closed) throw new MediaError('ERR_CLOSED', `session ${to.callId} is closed`);
    if (!this.#legs.delete(leg) || leg.closed) throw new MediaError('ERR_STATE', `leg ${leg.name} is not an open leg of session ${this.callId}`);
    to.#legs.add(leg);
    leg.onClose(() => to.#legs.delete(leg));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const leg of [...this.#legs]) leg.close();
    this.#ctx.release(this);
    if (this.#ctx.logger.isLevelEnabled('debug')) this.#log.debug('session closed');
  }
}
