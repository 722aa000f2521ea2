/**
 * The analog ports as pbxctl (`pbxctl port`) and the web UI edit them: port names as printed on the
 * box, which extension an FXS port registers as, each port's country (dial tone, ring cadence and
 * the caller ID standard that follows from it), the FXO landline's number typed in any usual form,
 * and the listing with the live state the `analog` process reports to the store. One
 * implementation, so both editors refuse the same things; errors are StoreErrors.
 */
import { parsePortName } from '../../device/board.js';
import type { CountryCode } from '../pbx/routing/phone-numbers.js';
import { ANALOG_COUNTRIES, type AnalogCountry, type AnalogPortConfig, type AnalogStatus } from '../store/analog-schema.js';
import { StoreError, type Store } from '../store/types.js';
import { e164 } from './numbers.js';

/** A status row older than this means the analog process is not reporting (it reports every 2 s). */
export const ANALOG_STALE_MS = 10_000;

/** `fxs1`, `FXO1` → the canonical port name; 'invalid' otherwise. */
export function portName(text: string): string {
  const port = parsePortName(text.trim().toLowerCase());
  if (port === null) throw new StoreError('invalid', `"${text}" is not a port name (fxs1, fxs2, fxo1 ...)`);
  return `${port.kind}${port.index}`;
}

/** A country code (`fr`, `UK` as GB) or `default` (null: the box's own). */
export function portCountry(text: string): AnalogCountry | null {
  if (text === 'default') return null;
  const value = text.toUpperCase() === 'UK' ? 'GB' : text.toUpperCase();
  if (!(ANALOG_COUNTRIES as readonly string[]).includes(value)) throw new StoreError('invalid', `country must be one of ${ANALOG_COUNTRIES.join(', ')} or default`);
  return value as AnalogCountry;
}

/** The caller ID standard a country's phones expect (device/dsp/callerid-encode.ts uses the same rule). */
export function callerIdStandard(country: string): 'bell202' | 'v23' {
  return country === 'US' || country === 'MX' ? 'bell202' : 'v23';
}

export interface PortSettings {
  /** `default`, or a country code. */
  country?: string;
  /** FXO: the line's number as typed, `none`/empty to clear. */
  number?: string;
}

/** Writes a port's country and/or number in one transaction: either both change or neither. */
export function setPortOptions(store: Pick<Store, 'analog' | 'transaction'>, country: CountryCode, port: string, settings: PortSettings): AnalogPortConfig {
  const name = portName(port);
  return store.transaction(() => {
    let updated = store.analog.get(name);
    if (settings.country !== undefined) updated = store.analog.setCountry(name, portCountry(settings.country));
    if (settings.number !== undefined) {
      const text = settings.number.trim();
      updated = store.analog.setNumber(name, text === 'none' || text === '' ? null : e164(text, country));
    }
    if (updated === null) throw new StoreError('invalid', 'nothing to set: give a country or a number');
    return updated;
  });
}

export function assignPort(store: Pick<Store, 'analog'>, port: string, extension: string | null): AnalogPortConfig {
  return store.analog.assign(portName(port), extension);
}

export interface PortRow {
  port: string;
  extension: string | null;
  number: string | null;
  /** The country in effect (the port's, else the box's). */
  country: string;
  countryIsDefault: boolean;
  /** What the analog process said last; 'not reported' when it is not running. */
  state: string;
  detail: string | null;
  reportedAt: number | null;
}

/** Configured ports and ports the board reported, with their live state. */
export function portRows(store: Pick<Store, 'analog'>, boxCountry: string, now = Date.now()): PortRow[] {
  const configs = new Map(store.analog.list().map((c) => [c.port, c]));
  const statuses = new Map<string, AnalogStatus>(store.analog.statuses().map((s) => [s.name, s]));
  const names = new Set([...configs.keys(), ...[...statuses.keys()].filter((n) => parsePortName(n) !== null)]);
  return [...names].sort(portOrder).map((port) => {
    const c = configs.get(port);
    const s = statuses.get(port);
    const fresh = s !== undefined && now - s.updatedAt < ANALOG_STALE_MS;
    return {
      port,
      extension: c?.extension ?? null,
      number: c?.number ?? null,
      country: c?.country ?? boxCountry,
      countryIsDefault: (c?.country ?? null) === null,
      state: fresh ? s.state : 'not reported',
      detail: fresh ? s.detail : null,
      reportedAt: s?.updatedAt ?? null,
    };
  });
}

function portOrder(a: string, b: string): number {
  const pa = parsePortName(a);
  const pb = parsePortName(b);
  if (pa === null || pb === null) return a.localeCompare(b);
  return pa.kind === pb.kind ? pa.index - pb.index : pa.kind === 'fxs' ? -1 : 1;
}

/** The analog process's own rows (`board`, `failover`) that are fresh. */
export function analogSystemRows(store: Pick<Store, 'analog'>, now = Date.now()): AnalogStatus[] {
  return store.analog.statuses().filter((s) => parsePortName(s.name) === null && now - s.updatedAt < ANALOG_STALE_MS);
}
