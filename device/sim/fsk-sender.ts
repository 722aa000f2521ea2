/**
 * The central office's caller ID transmitter (test equipment of the virtual board, independent of the
 * gateway's encoder so that each checks the other): an MDMF message (date/time, number, name) as
 * phase-continuous FSK, Bell 202 or V.23, with channel seizure and mark preamble (GR-30-CORE,
 * EN 300 659-1).
 */
import { SAMPLE_RATE } from '../../services/media/codec/g711.js';
import { dbm0ToAmplitude } from '../../services/media/dsp/levels.js';
import type { FskStandard } from '../dsp/callerid-decode.js';

const FREQ: Record<FskStandard, { mark: number; space: number }> = {
  bell202: { mark: 1200, space: 2200 },
  v23: { mark: 1300, space: 2100 },
};

export interface CallerIdToSend {
  number: string | null;
  name?: string | null;
  /** MMDDHHMM; the current UTC time when absent. */
  dateTime?: string;
}

export function mdmfMessage(cid: CallerIdToSend): number[] {
  const now = new Date();
  const two = (n: number): string => String(n).padStart(2, '0');
  const dt = cid.dateTime ?? `${two(now.getUTCMonth() + 1)}${two(now.getUTCDate())}${two(now.getUTCHours())}${two(now.getUTCMinutes())}`;
  const params: number[] = [];
  const add = (type: number, text: string): void => {
    const bytes = [...Buffer.from(text, 'latin1')].slice(0, 20);
    params.push(type, bytes.length, ...bytes);
  };
  add(0x01, dt);
  if (cid.number !== null && cid.number !== '') add(0x02, cid.number);
  else add(0x04, 'P');
  if (cid.name) add(0x07, cid.name);
  const msg = [0x80, params.length, ...params];
  const sum = msg.reduce((a, v) => (a + v) & 0xff, 0);
  msg.push((256 - sum) & 0xff);
  return msg;
}

/** The whole burst as 8 kHz PCM: seizure, mark, message bytes (start, 8 bits LSB first, stop), mark. */
export function callerIdFsk(standard: FskStandard, cid: CallerIdToSend, levelDbm0 = -13): Int16Array {
  const bits: number[] = [];
  for (let i = 0; i < 300; i++) bits.push(i % 2);
  for (let i = 0; i < 180; i++) bits.push(1);
  for (const byte of mdmfMessage(cid)) {
    bits.push(0);
    for (let k = 0; k < 8; k++) bits.push((byte >> k) & 1);
    bits.push(1);
  }
  for (let i = 0; i < 10; i++) bits.push(1);
  const spb = SAMPLE_RATE / 1200;
  const total = Math.ceil(bits.length * spb);
  const out = new Int16Array(total);
  const amp = dbm0ToAmplitude(levelDbm0);
  let phase = 0;
  for (let n = 0; n < total; n++) {
    const bit = bits[Math.min(bits.length - 1, Math.floor(n / spb))] as number;
    const f = bit ? FREQ[standard].mark : FREQ[standard].space;
    phase += (2 * Math.PI * f) / SAMPLE_RATE;
    out[n] = Math.round(amp * Math.sin(phase));
  }
  return out;
}
