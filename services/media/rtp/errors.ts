/** Errors of the media engine carry a stable code the B2BUA maps to a SIP response. */
export type MediaErrorCode =
  | 'ERR_PORTS_EXHAUSTED' // -> 503
  | 'ERR_NO_COMMON_CODEC' // -> 488 (RFC 3261 §13.3.1.4)
  | 'ERR_BAD_SDP' // -> 400/488
  | 'ERR_CLOSED'
  | 'ERR_RELAY_FAILED' // the relay thread died -> 503
  | 'ERR_STATE';

export class MediaError extends Error {
  constructor(readonly code: MediaErrorCode, message: string) {
    super(message);
    this.name = 'MediaError';
  }
}
