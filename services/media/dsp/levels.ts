// Level conversions for 16-bit linear PCM carried over G.711.
// ITU-T G.711 §3: the μ-law maximum sine is +3.17 dBm0 (A-law +3.14); the 16-bit decoded peak of μ-law
// is 32124, so 0 dBm0 is a sine of amplitude 32124·10^(−3.17/20) ≈ 22300. We use that single reference
// for both laws (0.03 dB apart).

export const DBM0_REF_AMPLITUDE = 32124 * Math.pow(10, -3.17 / 20);

/** Peak amplitude (16-bit linear) of a sine at `dbm0`. */
export function dbm0ToAmplitude(dbm0: number): number {
  return DBM0_REF_AMPLITUDE * Math.pow(10, dbm0 / 20);
}

/** Level in dBm0 of a sine whose mean-square power is `power` (A²/2). */
export function powerToDbm0(power: number): number {
  if (power <= 0) return -Infinity;
  const ref = (DBM0_REF_AMPLITUDE * DBM0_REF_AMPLITUDE) / 2;
  return 10 * Math.log10(power / ref);
}

/** Mean-square power of a sine at `dbm0`. */
export function dbm0ToPower(dbm0: number): number {
  const a = dbm0ToAmplitude(dbm0);
  return (a * a) / 2;
}

/** Ratio of two powers in dB (a over b). */
export function powerRatioDb(a: number, b: number): number {
  if (a <= 0) return -Infinity;
  if (b <= 0) return Infinity;
  return 10 * Math.log10(a / b);
}
