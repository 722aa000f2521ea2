/** What a transaction needs from the layer that owns it. */
import type { Logger } from '../../log.js';
import type { SipMessage, SipRequest } from '../message.js';
import type { Endpoint } from '../types.js';
import type { ExpiryQueues, TimerSettings } from './timers.js';

export interface TransactionContext {
  readonly timers: TimerSettings;
  /** Shared queues for the timers that only end a state (D, I, K, L, M, J). */
  readonly expiries: ExpiryQueues;
  readonly logger: Logger;
  /** Serializes and sends; returns the bytes so retransmissions reuse them. */
  send(message: SipMessage, destination: Endpoint, onError?: (error: Error) => void): Buffer;
  sendBytes(bytes: Buffer, destination: Endpoint, onError?: (error: Error) => void): void;
  /** ACK for a 2xx that reached an INVITE server transaction in Accepted (RFC 6026 §8.7): to the TU. */
  deliverAck(ack: SipRequest, source: Endpoint): void;
  /** A server transaction sent its first final response or ended without one (overload accounting). */
  settled(): void;
  /**
   * §17.2.2 Completed over UDP, kept by the layer: retransmissions of the request get `bytes`
   * again until `ms` (Timer J) have passed.
   */
  linger(key: string, bytes: Buffer | null, destination: Endpoint | null, ms: number): void;
  /** The transaction reached Terminated: forget it. */
  remove(key: string, kind: 'server' | 'client'): void;
}

/** Calls a TU listener; a throwing listener is logged, never allowed to break the state machine. */
export function safeCall(logger: Logger, what: string, callId: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    logger.error({ event: 'listener-threw', listener: what, callId, err: error }, 'transaction user listener threw');
  }
}
