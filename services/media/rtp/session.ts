/**
 * A media session: the media side of one B2BUA call. It owns its legs; closing it closes them
 * (mediasoup-style cascade), and their ports go back to the pool.
 */
import type { Logger } from '../../log.js';
import { MediaError } from './errors.js';
import type { MediaLeg } from './leg.js';

export interface SessionContext {
  logger: Logger;
  createLeg(name: string, logger: Logger): MediaLeg;
  release(session: MediaSession): void;
}

export class MediaSession {
  readonly callId: string;
  readonly #ctx: SessionContext;
  readonly #log: Logger;
  readonly #legs = new Set<MediaLeg>();
  #closed = false;

  /** @internal created by MediaEngine.createSession */
  constructor(callId: string, ctx: SessionContext) {
    this.callId = callId;
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ callId });
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
    const leg = this.#ctx.createLeg(name, this.#log);
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
    for (const leg of [a, b]) {
      const old = leg.bridgedTo;
      if (old && old !== a && old !== b) old.setPeer(undefined);
    }
    a.setPeer(b);
    b.setPeer(a);
    this.#log.debug({ a: a.name, b: b.name }, 'bridged');
  }

  unbridge(a: MediaLeg): void {
    const b = a.bridgedTo;
    a.setPeer(undefined);
    if (b && b.bridgedTo === a) b.setPeer(undefined);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const leg of [...this.#legs]) leg.close();
    this.#ctx.release(this);
    this.#log.debug('session closed');
  }
}
