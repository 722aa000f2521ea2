import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DtmfDetector, detectDtmfDigits } from './detector.js';
import { ALL_DTMF_DIGITS, digitFrequencies, type DtmfDigit } from './digits.js';
import { sines, silence, concat, whiteNoise, mix, prng } from '../dsp/synth.js';

interface ToneOpts {
  readonly ms?: number;
  readonly lowDbm0?: number;
  readonly highDbm0?: number;
  readonly lowDev?: number;
  readonly highDev?: number;
  readonly phase?: number;
}

function dtmf(d: DtmfDigit, o: ToneOpts = {}): Int16Array {
  const { low, high } = digitFrequencies(d);
  const ms = o.ms ?? 80;
  return sines(
    [
      { freq: low * (1 + (o.lowDev ?? 0)), dbm0: o.lowDbm0 ?? -10, phase: o.phase ?? 0 },
      { freq: high * (1 + (o.highDev ?? 0)), dbm0: o.highDbm0 ?? -8, phase: (o.phase ?? 0) * 1.7 },
    ],
    Math.round(ms * 8),
  );
}

/** Digit embedded between silences, with a leading offset that is not a multiple of the 80-sample hop. */
function isolated(tone: Int16Array, leadSamples = 333): Int16Array {
  return concat(new Int16Array(leadSamples), tone, silence(100));
}

const digitsOf = (pcm: Int16Array): string => detectDtmfDigits(pcm).map((d) => d.digit).join('');

test('all 16 digits are detected once, with start and duration', () => {
  for (const d of ALL_DTMF_DIGITS) {
    const found = detectDtmfDigits(isolated(dtmf(d, { ms: 100 })));
    assert.equal(found.length, 1, d);
    const f = found[0]!;
    assert.equal(f.digit, d);
    assert.ok(Math.abs(f.startMs - 333 / 8) <= 10, `start ${f.startMs}`);
    assert.ok(Math.abs(f.durationMs - 100) <= 10, `duration ${f.durationMs}`);
  }
});

test('frequency deviation: ±1.5 % accepted, ±3.5 % rejected (Q.24)', () => {
  for (const d of ALL_DTMF_DIGITS) {
    for (const dev of [0.015, -0.015]) {
      assert.equal(digitsOf(isolated(dtmf(d, { lowDev: dev, highDev: dev }))), d, `${d} both ${dev}`);
      assert.equal(digitsOf(isolated(dtmf(d, { lowDev: dev, highDev: -dev }))), d, `${d} opposite ${dev}`);
    }
    for (const dev of [0.035, -0.035]) {
      assert.equal(digitsOf(isolated(dtmf(d, { lowDev: dev }))), '', `${d} low ${dev}`);
      assert.equal(digitsOf(isolated(dtmf(d, { highDev: dev }))), '', `${d} high ${dev}`);
    }
  }
});

test('twist: normal ≤ 8 dB and reverse ≤ 4 dB accepted, beyond rejected', () => {
  for (const d of ['1', '5', '9', 'D'] as const) {
    assert.equal(digitsOf(isolated(dtmf(d, { lowDbm0: -14, highDbm0: -7 }))), d, 'normal 7 dB');
    assert.equal(digitsOf(isolated(dtmf(d, { lowDbm0: -7, highDbm0: -10.5 }))), d, 'reverse 3.5 dB');
    assert.equal(digitsOf(isolated(dtmf(d, { lowDbm0: -18, highDbm0: -8 }))), '', 'normal 10 dB');
    assert.equal(digitsOf(isolated(dtmf(d, { lowDbm0: -8, highDbm0: -14 }))), '', 'reverse 6 dB');
  }
});

test('levels: −25 dBm0 per tone accepted, −40 dBm0 rejected', () => {
  assert.equal(digitsOf(isolated(dtmf('3', { lowDbm0: -25, highDbm0: -25 }))), '3');
  assert.equal(digitsOf(isolated(dtmf('3', { lowDbm0: -40, highDbm0: -40 }))), '');
});

test('duration: 40 ms tones accepted at any alignment, 20 ms tones rejected', () => {
  for (let lead = 0; lead < 160; lead += 13) {
    assert.equal(digitsOf(isolated(dtmf('7', { ms: 40 }), lead)), '7', `40 ms lead ${lead}`);
    assert.equal(digitsOf(isolated(dtmf('7', { ms: 20 }), lead)), '', `20 ms lead ${lead}`);
  }
});

test('sequence of digits with 40 ms pauses, and a repeated digit, each reported once', () => {
  const seq = '1234567890*#ABCD55';
  const parts: Int16Array[] = [silence(30)];
  for (const d of seq) parts.push(dtmf(d as DtmfDigit, { ms: 50 }), silence(40));
  const found = detectDtmfDigits(concat(...parts));
  assert.equal(found.map((f) => f.digit).join(''), seq);
  for (const f of found) assert.ok(f.durationMs >= 40 && f.durationMs <= 60, `${f.digit} ${f.durationMs}`);
});

test('a 10 ms interruption inside a digit is bridged', () => {
  const pcm = concat(silence(50), dtmf('8', { ms: 60 }), silence(10), dtmf('8', { ms: 60 }), silence(60));
  const found = detectDtmfDigits(pcm);
  assert.equal(found.length, 1);
  assert.ok(Math.abs(found[0]!.durationMs - 130) <= 10);
});

test('digits in white noise at 15 dB SNR are detected; noise alone gives nothing', () => {
  const seq = '159#';
  const parts: Int16Array[] = [silence(40)];
  for (const d of seq) parts.push(dtmf(d as DtmfDigit, { ms: 60, lowDbm0: -15, highDbm0: -14 }), silence(60));
  const clean = concat(...parts);
  const noisy = mix(clean.length, clean, whiteNoise(clean.length, -26, 11));
  assert.equal(digitsOf(noisy), seq);
  assert.equal(digitsOf(whiteNoise(8000 * 5, -10, 12)), '');
});

test('a 1 kHz tone, a musical chord and a single DTMF tone are not digits (talk-off)', () => {
  assert.equal(digitsOf(sines([{ freq: 1000, dbm0: -5 }], 8000)), '');
  // A major chord with harmonics (A4 C#5 E5 + octaves)
  const chord = sines(
    [440, 554.37, 659.26, 880, 1108.73, 1318.5].map((freq, i) => ({ freq, dbm0: -14 - i })),
    8000 * 2,
  );
  assert.equal(digitsOf(chord), '');
  assert.equal(digitsOf(sines([{ freq: 697, dbm0: -8 }], 8000)), '');
  assert.equal(digitsOf(sines([{ freq: 1336, dbm0: -8 }], 8000)), '');
  // two tones of the same group + one of the other
  assert.equal(digitsOf(sines([{ freq: 697, dbm0: -12 }, { freq: 852, dbm0: -12 }, { freq: 1209, dbm0: -10 }], 8000)), '');
  // DTMF pair plus a strong third tone (speech-like energy outside the pair)
  assert.equal(digitsOf(sines([{ freq: 770, dbm0: -12 }, { freq: 1336, dbm0: -12 }, { freq: 500, dbm0: -10 }], 8000)), '');
  // second harmonic as strong as fundamentals (a buzzy signal)
  assert.equal(
    digitsOf(sines([{ freq: 697, dbm0: -10 }, { freq: 1209, dbm0: -10 }, { freq: 2418, dbm0: -11 }], 8000)),
    '',
  );
});

test('speech-like signal (pitch harmonics with vibrato, syllabic envelope) causes no digits', () => {
  const rnd = prng(5);
  const n = 8000 * 6;
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / 8000;
    const f0 = 120 + 30 * Math.sin(2 * Math.PI * 0.7 * t) + 10 * Math.sin(2 * Math.PI * 5 * t);
    phase += (2 * Math.PI * f0) / 8000;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    let v = 0;
    for (let h = 1; h <= 25; h++) v += Math.sin(h * phase) / h;
    out[i] = Math.round(6000 * env * v + 300 * (rnd() - 0.5));
  }
  assert.equal(digitsOf(out), '');
});

test('streaming is frame-size independent and start precedes end', () => {
  const pcm = concat(silence(25), dtmf('6', { ms: 70 }), silence(50), dtmf('0', { ms: 90 }), silence(45));
  for (const size of [160, 80, 33, 240, 1]) {
    const det = new DtmfDetector();
    const evs = [];
    for (let i = 0; i < pcm.length; i += size) evs.push(...det.process(pcm.subarray(i, i + size)));
    evs.push(...det.flush());
    assert.deepEqual(
      evs.map((e) => `${e.type}:${e.digit}`),
      ['start:6', 'end:6', 'start:0', 'end:0'],
      `frame size ${size}`,
    );
  }
});

test('digit held past the end of the stream is closed by flush', () => {
  const det = new DtmfDetector();
  const evs = [...det.process(concat(silence(20), dtmf('B', { ms: 200 })))];
  assert.equal(det.activeDigit, 'B');
  const end = det.flush();
  assert.equal(evs[0]?.type, 'start');
  assert.equal(end[0]?.type, 'end');
  assert.equal(det.activeDigit, undefined);
});

test('real synthetic speech (espeak-ng, 4 languages) causes no digits; DTMF mixed into it is found', async () => {
  const { execFileSync } = await import('node:child_process');
  const texts: Record<string, string> = {
    en: 'Thank you for calling. Please hold the line, your call is important to us. Press one for sales, two for support.',
    es: 'Gracias por llamar. Por favor espere, su llamada es importante para nosotros. Marque uno para ventas.',
    fr: 'Merci de votre appel. Veuillez patienter, votre appel est important pour nous. Tapez un pour les ventes.',
    sv: 'Tack för att du ringer. Var god dröj, ditt samtal är viktigt för oss. Tryck ett för försäljning.',
  };
  for (const [voice, text] of Object.entries(texts)) {
    const raw = execFileSync('bash', ['-c', 'espeak-ng --stdout -v "$1" "$2" | sox -t wav - -r 8000 -c 1 -b 16 -e signed-integer -t raw -', '_', voice, text], {
      maxBuffer: 16 << 20,
      timeout: 20_000,
    });
    const speech = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.byteLength & ~1)));
    assert.ok(speech.length > 8000 * 3, `${voice}: speech generated`);
    assert.equal(digitsOf(speech), '', `${voice}: talk-off`);
    // a caller pressing a key while the prompt plays (prompt attenuated by 10 dB, as heard back) is still detected
    const key = concat(silence(1000), dtmf('5', { ms: 100, lowDbm0: -8, highDbm0: -6 }));
    const quiet = speech.map((v) => Math.round(v * 0.3));
    assert.equal(digitsOf(mix(Math.max(quiet.length, key.length), quiet, key)), '5', `${voice}: barge-in digit`);
  }
});
