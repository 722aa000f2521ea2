/**
 * The PBX as the listening tests need it: a real store in a temp dir, the SIP service on free
 * loopback ports, the media engine (native relay) on a port range of its own per test file, calls
 * anchored through it, and the PBX's own applications (echo test, conference rooms). Plus helpers
 * to register sip.js phones and to listen to what they received.
 */
import assert from 'node:assert/strict';
import { detectTones } from '../../services/media/dsp/goertzel.js';
import { powerToDbm0 } from '../../services/media/dsp/levels.js';
import { fftInPlace } from '../../services/media/dsp/spectrum.js';
import type { MediaEngine } from '../../services/media/engine.js';
import { anchoredMedia } from '../../services/pbx/anchored-media.js';
import { createApplications, type PbxApplications } from '../../services/pbx/features/applications.js';
import { startSipService, type SipService } from '../../services/pbx/sip-service.js';
import type { Language, Store } from '../../services/store/types.js';
import { startPbxBase } from '../support/pbx-base.js';
import type { PhoneCall, PhoneOptions, SipPhone } from '../support/sip-phone.js';

export interface TestPbx {
  dir: string;
  store: Store;
  engine: MediaEngine;
  sip: SipService;
  applications: PbxApplications;
  address: { address: string; port: number };
  rtpRange: { min: number; max: number };
  phone(user: string, options?: Partial<PhoneOptions>): Promise<SipPhone>;
  close(): Promise<void>;
}

export interface TestExtension {
  number: string;
  secret: string;
  language?: Language;
}

export async function startTestPbx(extensions: TestExtension[]): Promise<TestPbx> {
  const { dir, config, store, engine, logger, rtpRange, phones } = await startPbxBase({ prefix: 'media-listen-', extensions });
  const applications = createApplications({ engine, extensions: store.extensions, logger });
  const sip = await startSipService({ config, store, logger, media: anchoredMedia(engine), applications, keepaliveSeconds: false });
  const address = { address: '127.0.0.1', port: sip.ports().udp ?? 0 };
  const started = phones(address, async () => {
    await sip.close();
    applications.close();
  });
  return { dir, store, engine, sip, applications, address, rtpRange, phone: started.phone, close: started.close };
}

/** Level in dBm0 of each frequency in `pcm` (Hann-windowed Goertzel). */
export function levels(pcm: Int16Array, freqs: readonly number[]): number[] {
  if (pcm.length === 0) return freqs.map(() => -Infinity);
  return [...detectTones(pcm, freqs)].map((p) => powerToDbm0(p));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The caller hangs up; then no call and no media session may be left in the PBX. */
export async function hangUpAndCheckReleased(pbx: TestPbx, caller: SipPhone, callerCall: PhoneCall, calleeCall: PhoneCall): Promise<void> {
  await caller.hangUp(callerCall).catch(() => undefined);
  await calleeCall.ended;
  await sleep(100);
  assert.deepEqual(pbx.sip.calls(), [], 'no call left');
  assert.equal(pbx.engine.sessions.size, 0, 'media session released');
}

/** "f: level" list for assertion messages. */
export function describeLevels(freqs: readonly number[], dbm0: readonly number[]): string {
  return freqs.map((f, i) => `${f} Hz ${(dbm0[i] as number).toFixed(1)} dBm0`).join(', ');
}

/**
 * Best normalised cross-correlation of `reference` inside `received` (1.0 = the same waveform at
 * some delay), and that delay. Used to recognise a prompt in what a phone heard. Computed with
 * FFTs: the PBX runs in this process, and a direct search would stall its event loop for seconds.
 */
export function findInAudio(received: Int16Array, reference: Int16Array): { correlation: number; delayMs: number } {
  const n = reference.length;
  if (received.length < n || n === 0) return { correlation: 0, delayMs: 0 };
  let size = 1;
  while (size < received.length + n) size <<= 1;
  const ar = new Float64Array(size);
  const ai = new Float64Array(size);
  const br = new Float64Array(size);
  const bi = new Float64Array(size);
  ar.set(received);
  // The reference reversed: convolution with it is correlation.
  for (let i = 0; i < n; i++) br[i] = reference[n - 1 - i] as number;
  fftInPlace(ar, ai);
  fftInPlace(br, bi);
  for (let i = 0; i < size; i++) {
    const re = (ar[i] as number) * (br[i] as number) - (ai[i] as number) * (bi[i] as number);
    const im = (ar[i] as number) * (bi[i] as number) + (ai[i] as number) * (br[i] as number);
    ar[i] = re;
    ai[i] = im;
  }
  fftInPlace(ar, ai, true);
  let refEnergy = 0;
  for (let i = 0; i < n; i++) refEnergy += (reference[i] as number) ** 2;
  let winEnergy = 0;
  for (let i = 0; i < n; i++) winEnergy += (received[i] as number) ** 2;
  let best = { correlation: 0, delayMs: 0 };
  for (let lag = 0; lag + n <= received.length; lag++) {
    if (lag > 0) winEnergy += (received[lag + n - 1] as number) ** 2 - (received[lag - 1] as number) ** 2;
    if (winEnergy <= 1) continue;
    const c = (ar[lag + n - 1] as number) / Math.sqrt(winEnergy * refEnergy);
    if (c > best.correlation) best = { correlation: c, delayMs: lag / 8 };
  }
  return best;
}


/** `pcm` with narrow notches (RBJ biquad, Q 20) at `freqs`: removes test tones from under speech. */
export function notch(pcm: Int16Array, freqs: readonly number[]): Int16Array {
  let x = Float64Array.from(pcm);
  for (const f of freqs) {
    const w = (2 * Math.PI * f) / 8000;
    const alpha = Math.sin(w) / (2 * 20);
    const a0 = 1 + alpha;
    const b0 = 1 / a0;
    const b1 = (-2 * Math.cos(w)) / a0;
    const a1 = b1;
    const a2 = (1 - alpha) / a0;
    const y = new Float64Array(x.length);
    let x1 = 0;
    let x2 = 0;
    let y1 = 0;
    let y2 = 0;
    for (let i = 0; i < x.length; i++) {
      const v = b0 * (x[i] as number) + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x[i] as number;
      y2 = y1;
      y1 = v;
      y[i] = v;
    }
    x = y;
  }
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

/** The loudest level of each frequency over 100 ms blocks (50 % overlap): for short beeps anywhere in `pcm`. */
export function peakLevels(pcm: Int16Array, freqs: readonly number[], blockSamples = 800): number[] {
  const best = freqs.map(() => -Infinity);
  for (let off = 0; off + blockSamples <= pcm.length; off += blockSamples / 2) {
    levels(pcm.subarray(off, off + blockSamples), freqs).forEach((l, i) => {
      if (l > (best[i] as number)) best[i] = l;
    });
  }
  return best;
}
