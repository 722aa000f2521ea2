// Micro benchmark of the media DSP building blocks: ns per 20 ms frame (160 samples at 8 kHz).
// Run: node dist/bench/media-dsp.js   (bounded: each case runs a fixed number of iterations)

import { muLawDecode, muLawEncode, aLawDecode, aLawEncode, FRAME_SAMPLES } from '../services/media/codec/g711.js';
import { DtmfDetector } from '../services/media/dtmf/detector.js';
import { digitFrequencies } from '../services/media/dtmf/digits.js';
import { sines, whiteNoise } from '../services/media/dsp/synth.js';
import { ToneGenerator } from '../services/media/tones/generator.js';
import { TONES } from '../services/media/tones/table.js';
import { G711Plc } from '../services/media/jitter/plc.js';
import { JitterBuffer } from '../services/media/jitter/jitter-buffer.js';

function bench(name: string, iterations: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  console.log(JSON.stringify({ bench: name, nsPerFrame: Math.round(ns), framesPerCoreSecond: Math.round(1e9 / ns) }));
}

const pcm = sines([{ freq: 440, dbm0: -10 }, { freq: 1000, dbm0: -20 }], FRAME_SAMPLES);
const bytes = muLawEncode(pcm);
const abytes = aLawEncode(pcm);
const outPcm = new Int16Array(FRAME_SAMPLES);
const outBytes = new Uint8Array(FRAME_SAMPLES);

bench('mulaw-decode', 200_000, () => muLawDecode(bytes, outPcm));
bench('mulaw-encode', 200_000, () => muLawEncode(pcm, outBytes));
bench('alaw-decode', 200_000, () => aLawDecode(abytes, outPcm));
bench('alaw-encode', 200_000, () => aLawEncode(pcm, outBytes));

const f = digitFrequencies('5');
const dtmfAudio = sines([{ freq: f.low, dbm0: -10 }, { freq: f.high, dbm0: -8 }], FRAME_SAMPLES * 100);
const speechLike = whiteNoise(FRAME_SAMPLES * 100, -15, 9);
const silenceAudio = new Int16Array(FRAME_SAMPLES * 100);
for (const [name, audio] of [['dtmf-detect-digit', dtmfAudio], ['dtmf-detect-noise', speechLike], ['dtmf-detect-silence', silenceAudio]] as const) {
  const det = new DtmfDetector();
  bench(name, 50_000, (i) => det.process(audio.subarray((i % 100) * FRAME_SAMPLES, ((i % 100) + 1) * FRAME_SAMPLES)));
}

const gen = new ToneGenerator(TONES.US.dial);
bench('tone-generate-dial', 50_000, () => gen.nextFrame(outPcm));

const plc = new G711Plc();
bench('plc-good+conceal', 50_000, (i) => {
  if (i % 10 === 9) plc.conceal(outPcm);
  else plc.good(muLawDecode(bytes, outPcm));
});

const jb = new JitterBuffer();
const payload = new Uint8Array(FRAME_SAMPLES);
bench('jitter-push+pop', 200_000, (i) => {
  jb.push({ sequence: i & 0xffff, timestamp: (i * 160) >>> 0, payload }, i * 20 + 5);
  jb.pop(i * 20 + 20);
});
