/**
 * The media policy that leaves SDP untouched: the phones send RTP to each other directly. Used
 * when no media engine runs (and by tests of pure signalling); anchoring is the default in `pbx`.
 */
import type { CallMedia, CallMediaFactory } from './types.js';

const passthrough: CallMedia = {
  offerToCallee: (offer) => offer,
  answerToCaller: (answer) => answer,
  reoffer: (_from, offer) => offer,
  reanswer: (_from, answer) => answer,
  connected: () => undefined,
  close: () => undefined,
};

export const passthroughMedia: CallMediaFactory = { create: () => passthrough };
