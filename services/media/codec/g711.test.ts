import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  muLawEncode, muLawDecode, aLawEncode, aLawDecode, muLawEncodeSample, muLawDecodeSample,
  aLawEncodeSample, aLawDecodeSample, muLawToALaw, aLawToMuLaw, g711Encode, g711Decode,
  SAMPLE_RATE, FRAME_SAMPLES, SILENCE_BYTE,
} from './g711.js';

const all16 = (): Int16Array => {
  const a = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) a[i] = i - 32768;
  return a;
};

test('constants', () => {
  assert.equal(SAMPLE_RATE, 8000);
  assert.equal(FRAME_SAMPLES, 160);
});

test('μ-law known code points (G.711 Table 2a, 14-bit decision values ×4)', () => {
  const enc = (x: number): number => muLawEncode(Int16Array.of(x))[0] as number;
  assert.equal(enc(0), 0xff);
  assert.equal(enc(-1), 0x7f);
  assert.equal(enc(4), 0xfe); // 14-bit 1 → first step
  assert.equal(enc(11), 0xfe);
  assert.equal(enc(12), 0xfd); // decision value 3
  assert.equal(enc(123), 0xf0);
  assert.equal(enc(124), 0xef); // decision value 31: segment 2 begins
  assert.equal(enc(32767), 0x80);
  assert.equal(enc(-32768), 0x00);
  const dec = (c: number): number => muLawDecode(Uint8Array.of(c))[0] as number;
  assert.equal(dec(0xff), 0);
  assert.equal(dec(0x7f), 0);
  assert.equal(dec(0xfe), 8);
  assert.equal(dec(0xef), 132); // 14-bit 33
  assert.equal(dec(0x80), 32124); // 14-bit 8031
  assert.equal(dec(0x00), -32124);
  assert.equal(SILENCE_BYTE.PCMU, enc(0));
});

test('A-law known code points (G.711 Table 1a, 13-bit decision values ×8)', () => {
  const enc = (x: number): number => aLawEncode(Int16Array.of(x))[0] as number;
  assert.equal(enc(0), 0xd5);
  assert.equal(enc(-1), 0x55);
  assert.equal(enc(15), 0xd5);
  assert.equal(enc(16), 0xd4);
  assert.equal(enc(255), 0xda); // last step of segment 1 (0x8F ^ 0x55)
  assert.equal(enc(256), 0xc5); // segment 2 begins (0x90 ^ 0x55)
  assert.equal(enc(32767), 0xaa);
  assert.equal(enc(-32768), 0x2a);
  const dec = (c: number): number => aLawDecode(Uint8Array.of(c))[0] as number;
  assert.equal(dec(0xd5), 8);
  assert.equal(dec(0x55), -8);
  assert.equal(dec(0xc5), 264);
  assert.equal(dec(0xaa), 32256); // 13-bit 4032
  assert.equal(dec(0x2a), -32256);
  assert.equal(SILENCE_BYTE.PCMA, enc(0));
});

test('table encoders equal the reference quantisers for every 16-bit input', () => {
  const pcm = all16();
  const mu = muLawEncode(pcm);
  const a = aLawEncode(pcm);
  for (let i = 0; i < pcm.length; i++) {
    const x = pcm[i] as number;
    if (mu[i] !== muLawEncodeSample(x)) assert.fail(`μ-law ${x}`);
    if (a[i] !== aLawEncodeSample(x)) assert.fail(`A-law ${x}`);
  }
});

test('encoders are monotonic and decoders are odd-symmetric', () => {
  const pcm = all16();
  const mu = muLawDecode(muLawEncode(pcm));
  const a = aLawDecode(aLawEncode(pcm));
  for (let i = 1; i < pcm.length; i++) {
    assert.ok((mu[i] as number) >= (mu[i - 1] as number));
    assert.ok((a[i] as number) >= (a[i - 1] as number));
  }
  for (let c = 0; c < 128; c++) {
    assert.equal(muLawDecodeSample(c), -muLawDecodeSample(c | 0x80) | 0);
    assert.equal(aLawDecodeSample(c), -aLawDecodeSample(c | 0x80));
  }
});

test('every code word round-trips through linear', () => {
  const codes = new Uint8Array(256).map((_, i) => i);
  const mu = muLawEncode(muLawDecode(codes));
  const a = aLawEncode(aLawDecode(codes));
  for (let c = 0; c < 256; c++) {
    assert.equal(mu[c], c === 0x7f ? 0xff : c, `μ-law code ${c}`); // negative zero folds to positive zero
    assert.equal(a[c], c, `A-law code ${c}`);
  }
});

test('quantisation error is within half a step of each segment', () => {
  const pcm = all16();
  const mu = muLawDecode(muLawEncode(pcm));
  const a = aLawDecode(aLawEncode(pcm));
  let snrNum = 0;
  let snrDen = 0;
  for (let i = 0; i < pcm.length; i++) {
    const x = pcm[i] as number;
    const ax = Math.abs(x);
    const eMu = Math.abs(x - (mu[i] as number));
    const eA = Math.abs(x - (a[i] as number));
    if (ax <= 32124) assert.ok(eMu <= (ax + 132) / 32 + 4, `μ-law err ${eMu} at ${x}`);
    else assert.ok(eMu <= 32768 - 32124);
    if (ax <= 32256) assert.ok(eA <= Math.max(8, ax / 32) + 8, `A-law err ${eA} at ${x}`);
    if (ax > 1000) {
      snrNum += x * x;
      snrDen += eMu * eMu;
    }
  }
  const snr = 10 * Math.log10(snrNum / snrDen);
  assert.ok(snr > 35 && snr < 40, `μ-law SNR ${snr.toFixed(1)} dB`); // ~38 dB for companded PCM
});

test('output buffers are reused and size-checked', () => {
  const pcm = new Int16Array(FRAME_SAMPLES).map((_, i) => Math.round(8000 * Math.sin(i / 3)));
  const bytes = new Uint8Array(FRAME_SAMPLES);
  assert.equal(muLawEncode(pcm, bytes), bytes);
  const back = new Int16Array(FRAME_SAMPLES);
  assert.equal(muLawDecode(bytes, back), back);
  assert.throws(() => aLawEncode(pcm, new Uint8Array(10)), RangeError);
  assert.throws(() => aLawDecode(bytes, new Int16Array(10)), RangeError);
  assert.deepEqual(g711Decode('PCMA', g711Encode('PCMA', pcm)), aLawDecode(aLawEncode(pcm)));
});

test('PCMU↔PCMA transcoding stays close to the linear value', () => {
  const codes = new Uint8Array(256).map((_, i) => i);
  const a = muLawToALaw(codes);
  const linMu = muLawDecode(codes);
  const linA = aLawDecode(a);
  for (let c = 0; c < 256; c++) {
    const x = linMu[c] as number;
    assert.ok(Math.abs(x - (linA[c] as number)) <= Math.max(16, Math.abs(x) / 16), `code ${c}`);
  }
  const back = aLawToMuLaw(a);
  for (let c = 0; c < 256; c++) {
    const d = Math.abs((muLawDecode(Uint8Array.of(back[c] as number))[0] as number) - (linMu[c] as number));
    assert.ok(d <= Math.max(16, Math.abs(linMu[c] as number) / 16));
  }
});
