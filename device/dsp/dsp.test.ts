import assert from 'node:assert/strict';
import test from 'node:test';
import { muLawDecode, muLawEncode } from '../../services/media/codec/g711.js';
import { concat, frames, mix, silence, sines, whiteNoise } from '../../services/media/dsp/synth.js';
import { ToneGenerator } from '../../services/media/tones/generator.js';
import { toneSpec, COUNTRIES } from '../../services/media/tones/table.js';
import { CallerIdDecoder, parseCallerIdMessage, type CallerId as Decoded } from './callerid-decode.js';
import { encodeCallerId, fskStandardOf, mdmfMessage } from './callerid-encode.js';
import { characterBits, demodulate, modulate } from './fsk.js';
import { BusyToneDetector, CasDetector, DialToneDetector, FaxToneDetector, isFskFrame } from './tone-detect.js';
import { detectTones } from '../../services/media/dsp/goertzel.js';

/** Through the board's µ-law, as the line carries it. */
function overLine(pcm: Int16Array): Int16Array {
  return muLawDecode(muLawEncode(pcm));
}

const WHEN = new Date(2026, 11, 6, 9, 5);

/** The phone's side: the streaming decoder the simulated phone uses (device/dsp/callerid-decode.ts). */
function decode(pcm: Int16Array): Decoded[] {
  const out: Decoded[] = [];
  const decoder = new CallerIdDecoder((c) => out.push(c));
  for (let i = 0; i < pcm.length; i += 160) decoder.pushPcm(pcm.subarray(i, i + 160));
  return out;
}

test('MDMF: date/time, number, name, checksum makes the sum 0 mod 256', () => {
  const bytes = mdmfMessage({ number: '5551234567', name: 'Ana Lopez', when: WHEN });
  assert.equal(bytes[0], 0x80);
  assert.equal(bytes[1], bytes.length - 3);
  assert.equal(bytes.reduce((a, b) => a + b, 0) % 256, 0);
  const parsed = parseCallerIdMessage('bell202', [...bytes]);
  assert.deepEqual(parsed, { standard: 'bell202', format: 'mdmf', number: '5551234567', name: 'Ana Lopez', dateTime: '12060905', numberAbsent: null });
  const corrupted = [...bytes];
  corrupted[5] = (corrupted[5] as number) ^ 1;
  assert.notEqual(corrupted.reduce((a, b) => a + b, 0) % 256, 0, 'a flipped bit fails the checksum');
});

test('withheld number: reason P, no name', () => {
  const parsed = parseCallerIdMessage('v23', [...mdmfMessage({ number: null, name: null, numberAbsent: 'private', when: WHEN })]);
  assert.equal(parsed?.number, null);
  assert.equal(parsed?.numberAbsent, 'private');
});

test('FSK characters round-trip at both standards, through µ-law and with noise', () => {
  for (const standard of ['bell202', 'v23'] as const) {
    const data = [0x55, 0x80, 0x00, 0xff, 0x31, 0x7e];
    const bits = [...Array(40).fill(1), ...data.flatMap(characterBits), 1, 1, 1];
    const clean = modulate(bits, standard, -20);
    const pcm = overLine(mix(clean.length, clean, whiteNoise(clean.length, -45)));
    assert.deepEqual(demodulate(pcm, standard).map((c) => c.byte), data, standard);
  }
});


test('caller ID of every country decodes back: Bell 202 for US/MX, V.23 for FR/SE/GB', () => {
  for (const country of COUNTRIES) {
    const pcm = overLine(concat(silence(300), encodeCallerId({ number: '+33142345601', name: 'Cafe du Port', when: WHEN }, country), silence(200)));
    const decoded = decode(pcm).find((c) => c.standard === fskStandardOf(country));
    assert.equal(decoded?.number, '+33142345601', country);
    assert.equal(decoded?.name, 'Cafe du Port', country);
    assert.equal(decoded?.dateTime, '12060905', country);
  }
});

test('off-hook (call waiting) caller ID: short mark, no seizure, still decodes', () => {
  const pcm = overLine(encodeCallerId({ number: '101', name: 'Reception', when: WHEN }, 'US', { offHook: true }));
  assert.ok(pcm.length < 8000 * 0.45, `type II is short (${pcm.length} samples)`);
  assert.equal(decode(pcm).find((c) => c.standard === 'bell202')?.number, '101');
});

test('caller ID is at the level asked (−13 dBm0) and sits on the mark/space tones', () => {
  const pcm = encodeCallerId({ number: '101', name: null, when: WHEN }, 'FR');
  const mark = pcm.subarray(300 * 6.67 + 40, 300 * 6.67 + 40 + 800);
  const [p1300, p2100, p1200] = detectTones(mark, [1300, 2100, 1200]);
  assert.ok((p1300 as number) > 50 * (p2100 as number), 'the mark run is 1300 Hz');
  assert.ok((p1300 as number) > 5 * (p1200 as number));
});

test('noise and speech-like signals decode to nothing (no false caller ID)', () => {
  assert.deepEqual(decode(overLine(whiteNoise(8000, -15, 7))), []);
  assert.deepEqual(decode(overLine(sines([{ freq: 300, dbm0: -10 }, { freq: 1700, dbm0: -12 }], 8000))), []);
});

function tone(country: (typeof COUNTRIES)[number], name: 'dial' | 'busy' | 'congestion' | 'ringback', ms: number): Int16Array[] {
  const gen = new ToneGenerator(toneSpec(country, name));
  const out: Int16Array[] = [];
  for (let i = 0; i < ms / 20; i++) out.push(overLine(gen.nextFrame()));
  return out;
}

test('dial tone of every country is detected within 100–140 ms; US busy (480+620) and noise are not dial tone', () => {
  for (const country of COUNTRIES) {
    const d = new DialToneDetector();
    const at = tone(country, 'dial', 400).findIndex((f) => d.push(f));
    assert.ok(at >= 4 && at <= 6, `${country} dial tone at frame ${at}`);
  }
  const notDial = new DialToneDetector();
  assert.equal(tone('US', 'busy', 3000).some((f) => notDial.push(f)), false, 'US busy is not dial tone');
  const speechLike = new DialToneDetector();
  assert.equal(frames(overLine(whiteNoise(16000, -20))).some((f) => speechLike.push(f)), false);
});

test('busy and reorder of every country are detected within 3 s; dial tone, ringback and noise are not', () => {
  for (const country of COUNTRIES) {
    for (const name of ['busy', 'congestion'] as const) {
      if (country === 'GB' && name === 'congestion') continue; // GB congestion is a 4-step cadence, heard as busy by its first bursts only
      const d = new BusyToneDetector();
      const at = tone(country, name, 4000).findIndex((f) => d.push(f));
      assert.ok(at > 0 && at < 160, `${country} ${name} detected at frame ${at}`);
    }
    for (const name of ['dial', 'ringback'] as const) {
      const d = new BusyToneDetector();
      assert.equal(tone(country, name, 12000).some((f) => d.push(f)), false, `${country} ${name} is not busy`);
    }
  }
});

test('CNG and CED are told apart; DTMF-like and dial tones are not fax', () => {
  const cng = frames(overLine(concat(sines([{ freq: 1100, dbm0: -30 }], 4000), silence(3000))));
  const d = new FaxToneDetector();
  const hits = cng.map((f) => d.push(f));
  assert.equal(hits.find((h) => h !== null), 'cng');
  assert.ok(hits.indexOf('cng') <= 21);
  const ced = frames(overLine(sines([{ freq: 2100, dbm0: -20 }], 24000)));
  const e = new FaxToneDetector();
  assert.equal(ced.map((f) => e.push(f)).find((h) => h !== null), 'ced');
  const voice = new FaxToneDetector();
  const other = [...tone('US', 'dial', 2000), ...frames(overLine(sines([{ freq: 1209, dbm0: -10 }, { freq: 697, dbm0: -10 }], 8000)))];
  assert.equal(other.some((f) => voice.push(f) !== null), false);
});

test('CAS (2130+2750 Hz, 80 ms) is detected once at its end, whatever its alignment; longer, shorter, lopsided or one tone is not', () => {
  const cas = (ms: number, lowDbm0 = -15, highDbm0 = -15): Int16Array => sines([{ freq: 2130, dbm0: lowDbm0 }, { freq: 2750, dbm0: highDbm0 }], ms * 8);
  const hitsIn = (pcm: Int16Array): number[] => {
    const d = new CasDetector();
    return frames(overLine(pcm)).flatMap((f, i) => (d.push(f) ? [i] : []));
  };
  for (const lead of [0, 37, 80, 123]) {
    const at = hitsIn(concat(silence(lead / 8 + 40), cas(80), silence(200)));
    assert.equal(at.length, 1, `one CAS with ${lead} samples of lead: ${at.join(',')}`);
    // Reported within 20 ms of its end: the phone's ACK can start at once (GR-30: ≤ 100 ms).
    const endMs = lead / 8 + 40 + 80;
    assert.ok((at[0] as number) * 20 + 20 - endMs <= 30, `reported ${(at[0] as number) * 20 + 20 - endMs} ms after the end`);
  }
  assert.equal(hitsIn(concat(cas(80, -28, -30), silence(100))).length, 1, 'a quiet CAS (−28/−30 dBm0)');
  assert.equal(hitsIn(concat(cas(300), silence(100))).length, 0, 'a 300 ms dual tone is not CAS');
  assert.equal(hitsIn(concat(cas(30), silence(100))).length, 0, 'a 30 ms click is not CAS');
  assert.equal(hitsIn(concat(cas(80, -10, -25), silence(100))).length, 0, '15 dB of twist is not CAS');
  assert.equal(hitsIn(concat(sines([{ freq: 2130, dbm0: -12 }], 640), silence(100))).length, 0, 'one tone is not CAS');
  const cas2 = new CasDetector();
  const speech = frames(overLine(concat(whiteNoise(8000, -15), mix(640, cas(80, -20, -20), whiteNoise(640, -12)))));
  assert.equal(speech.some((f) => cas2.push(f)), false, 'noise, and a CAS buried in louder noise, are not taken');
});

test('caller ID FSK frames are told from tones, DTMF and silence (what the phone reports as FSK heard)', () => {
  for (const country of ['US', 'GB'] as const) {
    const fsk = frames(overLine(encodeCallerId({ number: '102', name: 'Accounts', when: WHEN }, country, { offHook: true })));
    const share = fsk.filter((f) => isFskFrame(f)).length / fsk.length;
    assert.ok(share > 0.6, `${country}: ${Math.round(share * 100)} % of the FSK frames heard as FSK`);
  }
  const other = [
    ...frames(overLine(sines([{ freq: 1000, dbm0: -12 }], 4000))),
    ...frames(overLine(sines([{ freq: 941, dbm0: -8 }, { freq: 1633, dbm0: -6 }], 4000))),
    ...frames(overLine(sines([{ freq: 440, dbm0: -13 }], 4000))),
    ...frames(overLine(sines([{ freq: 1525, dbm0: -12 }], 4000))),
    ...frames(overLine(sines([{ freq: 2100, dbm0: -12 }], 4000))),
    ...frames(silence(200)),
  ];
  assert.equal(other.filter((f) => isFskFrame(f)).length, 0);
});
