// Call-progress tones by country: ONE table, each entry with its source.
//
// Sources (what was actually used — the national documents themselves were not at hand, so values were
// taken from the compilations that transcribe them and cross-checked where two agree):
//  - US: ANSI T1.401 / Telcordia GR-506-CORE "precise tone plan" frequencies, cadences and levels
//        (dial −13, audible ring −19, busy/reorder −24 dBm0 per frequency), as also compiled in
//        ITU-T E.180 Suppl. 2 (Operational Bulletin 781, 2003) and Asterisk indications.conf [us].
//  - GB: BT SIN 350 via Asterisk indications.conf [uk] ("official tones taken from BT SIN350") and
//        ITU-T E.180 Suppl. 2 (United Kingdom).
//  - FR: ITU-T E.180 Suppl. 2 (France, France Télécom/ARCEP-regulated network) via Asterisk [fr].
//        E.180 lists no congestion tone for France; the 0.25/0.25 s fast busy used by French PBXs is used.
//  - SE: ITU-T E.180 Suppl. 2 (Sweden, Telia / PTS) via Asterisk [se]; special dial tone 425 Hz
//        320 ms on / 20 ms off is the Swedish standard value noted there.
//  - MX: ITU-T E.180 Suppl. 2 (Mexico, Telmex / IFT) via Asterisk [mx]. E.180 gives the same cadence for
//        busy and congestion in Mexico. The Mexican stutter dial tone is not specified; 425 Hz interrupted
//        0.1/0.1 s ×6 then steady (the common European/LatAm practice) is used.
//  - Special information tone (SIT): ITU-T Q.35 / E.180 §6 950/1400/1800 Hz, 330 ms each; US uses the
//        ANSI T1.401 SIT frequencies 913.8/1370.6/1776.7 Hz (274/274/380 ms).
// Levels: where the national level is not given above, −13 dBm0 per frequency is used (inside the
// ITU-T E.180 §2 recommended range; the same as the US dial tone).

export type Country = 'US' | 'GB' | 'FR' | 'SE' | 'MX';
export type ToneName = 'dial' | 'ringback' | 'busy' | 'congestion' | 'callWaiting' | 'stutterDial' | 'specialInfo';

export const COUNTRIES: readonly Country[] = ['US', 'GB', 'FR', 'SE', 'MX'];
export const TONE_NAMES: readonly ToneName[] = ['dial', 'ringback', 'busy', 'congestion', 'callWaiting', 'stutterDial', 'specialInfo'];

export interface ToneStep {
  readonly ms: number;
  /** Frequencies sounding during this step; empty = silence. */
  readonly freqs: readonly number[];
}

export interface ToneSpec {
  /** Level of each frequency component, dBm0. */
  readonly levelDbm0: number;
  readonly steps: readonly ToneStep[];
  /** Step index where playback restarts after the last step (0 = whole cadence repeats). */
  readonly loopFrom: number;
  readonly source: string;
}

function continuous(freqs: readonly number[], levelDbm0: number, source: string): ToneSpec {
  return { levelDbm0, steps: [{ ms: 1000, freqs }], loopFrom: 0, source };
}

/** Alternating on/off durations starting with "on", repeated forever. */
function cadence(freqs: readonly number[], onOff: readonly number[], levelDbm0: number, source: string): ToneSpec {
  return { levelDbm0, steps: onOff.map((ms, i) => ({ ms, freqs: i % 2 === 0 ? freqs : [] })), loopFrom: 0, source };
}

/** `bursts` × (on/off) then the steady tone forever. */
function stutter(freqs: readonly number[], bursts: number, onMs: number, offMs: number, levelDbm0: number, source: string): ToneSpec {
  const steps: ToneStep[] = [];
  for (let i = 0; i < bursts; i++) steps.push({ ms: onMs, freqs }, { ms: offMs, freqs: [] });
  steps.push({ ms: 1000, freqs });
  return { levelDbm0, steps, loopFrom: steps.length - 1, source };
}

function sit(freqs: readonly [number, number, number], ms: readonly [number, number, number], gapMs: number, pauseMs: number, levelDbm0: number, source: string): ToneSpec {
  const steps: ToneStep[] = [];
  for (let i = 0; i < 3; i++) {
    steps.push({ ms: ms[i] as number, freqs: [freqs[i] as number] });
    if (gapMs > 0 && i < 2) steps.push({ ms: gapMs, freqs: [] });
  }
  steps.push({ ms: pauseMs, freqs: [] });
  return { levelDbm0, steps, loopFrom: 0, source };
}

const US_SRC = 'ANSI T1.401 / Telcordia GR-506-CORE precise tone plan';
const GB_SRC = 'BT SIN 350 (via ITU-T E.180 Suppl. 2 and Asterisk indications.conf [uk])';
const FR_SRC = 'ITU-T E.180 Suppl. 2, France (via Asterisk indications.conf [fr])';
const SE_SRC = 'ITU-T E.180 Suppl. 2, Sweden / Telia (via Asterisk indications.conf [se])';
const MX_SRC = 'ITU-T E.180 Suppl. 2, Mexico / Telmex (via Asterisk indications.conf [mx])';
const ITU_SIT = 'ITU-T Q.35 / E.180 §6 special information tone';

export const TONES: Readonly<Record<Country, Readonly<Record<ToneName, ToneSpec>>>> = {
  US: {
    dial: continuous([350, 440], -13, US_SRC),
    ringback: cadence([440, 480], [2000, 4000], -19, US_SRC),
    busy: cadence([480, 620], [500, 500], -24, US_SRC),
    congestion: cadence([480, 620], [250, 250], -24, `${US_SRC} (reorder, local)`),
    callWaiting: cadence([440], [300, 9700], -13, `${US_SRC} (CWT: 300 ms, repeated after 10 s)`),
    stutterDial: stutter([350, 440], 10, 100, 100, -13, `${US_SRC} (message-waiting stutter dial tone)`),
    specialInfo: sit([913.8, 1370.6, 1776.7], [274, 274, 380], 0, 1000, -24, 'ANSI T1.401 SIT (intercept segments)'),
  },
  GB: {
    dial: continuous([350, 440], -13, GB_SRC),
    ringback: cadence([400, 450], [400, 200, 400, 2000], -13, GB_SRC),
    busy: cadence([400], [375, 375], -13, `${GB_SRC} (engaged)`),
    congestion: cadence([400], [400, 350, 225, 525], -13, `${GB_SRC} (congestion)`),
    callWaiting: cadence([400], [100, 4000], -13, GB_SRC),
    stutterDial: {
      levelDbm0: -13,
      steps: [{ ms: 750, freqs: [350, 440] }, { ms: 750, freqs: [440] }],
      loopFrom: 0,
      source: `${GB_SRC} (special dial tone: 350+440 Hz alternating with 440 Hz)`,
    },
    specialInfo: sit([950, 1400, 1800], [330, 330, 330], 15, 1000, -13, `${ITU_SIT}; ${GB_SRC}`),
  },
  FR: {
    dial: continuous([440], -13, FR_SRC),
    ringback: cadence([440], [1500, 3500], -13, FR_SRC),
    busy: cadence([440], [500, 500], -13, FR_SRC),
    congestion: cadence([440], [250, 250], -13, `${FR_SRC} (not in E.180; fast busy as used by French PBXs)`),
    callWaiting: cadence([440], [300, 10000], -13, FR_SRC),
    stutterDial: stutter([440], 6, 100, 100, -13, FR_SRC),
    specialInfo: sit([950, 1400, 1800], [330, 330, 330], 0, 1000, -13, ITU_SIT),
  },
  SE: {
    dial: continuous([425], -13, SE_SRC),
    ringback: cadence([425], [1000, 5000], -13, SE_SRC),
    busy: cadence([425], [250, 250], -13, SE_SRC),
    congestion: cadence([425], [250, 750], -13, SE_SRC),
    callWaiting: cadence([425], [200, 500, 200, 9100], -13, SE_SRC),
    stutterDial: cadence([425], [320, 20], -13, `${SE_SRC} (Swedish special dial tone 320/20 ms)`),
    specialInfo: sit([950, 1400, 1800], [332, 332, 332], 24, 2024, -13, `${ITU_SIT}; ${SE_SRC}`),
  },
  MX: {
    dial: continuous([425], -13, MX_SRC),
    ringback: cadence([425], [1000, 4000], -13, MX_SRC),
    busy: cadence([425], [250, 250], -13, MX_SRC),
    congestion: cadence([425], [250, 250], -13, `${MX_SRC} (same cadence as busy in E.180)`),
    callWaiting: cadence([425], [200, 600, 200, 10000], -13, MX_SRC),
    stutterDial: stutter([425], 6, 100, 100, -13, `${MX_SRC} (stutter not specified; 0.1/0.1 s ×6 then steady)`),
    specialInfo: sit([950, 1400, 1800], [330, 330, 330], 30, 1000, -13, `${ITU_SIT}; ${MX_SRC}`),
  },
};

export function toneSpec(country: Country, name: ToneName): ToneSpec {
  return TONES[country][name];
}

/** Parse an ISO 3166 alpha-2 code ('UK' accepted for GB); undefined when no table exists. */
export function parseCountry(s: string): Country | undefined {
  const u = s.trim().toUpperCase();
  const c = u === 'UK' ? 'GB' : u;
  return (COUNTRIES as readonly string[]).includes(c) ? (c as Country) : undefined;
}

/** All distinct frequencies of a tone. */
export function toneFrequencies(spec: ToneSpec): number[] {
  const s = new Set<number>();
  for (const st of spec.steps) for (const f of st.freqs) s.add(f);
  return [...s].sort((a, b) => a - b);
}

/** Length of one repetition of the looping part, ms. */
export function loopPeriodMs(spec: ToneSpec): number {
  let ms = 0;
  for (let i = spec.loopFrom; i < spec.steps.length; i++) ms += (spec.steps[i] as ToneStep).ms;
  return ms;
}
