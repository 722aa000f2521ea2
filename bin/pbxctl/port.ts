/**
 * `pbxctl port assign|unassign|set|list`: the analog ports. An FXS port registers to the pbx as the
 * extension assigned to it (with that extension's credentials); each port has a country (tones, ring
 * cadence, caller ID standard; default the box's); the FXO port has the landline's number, which
 * `pbxctl number add` maps to a destination like any other number. The running `analog` process
 * picks changes up within a second; live state comes from what it reports to the store.
 */
import { parsePortName } from '../../device/board.js';
import { countryCode, displayNumber } from '../../services/pbx/routing/phone-numbers.js';
import { ANALOG_COUNTRIES, type AnalogCountry, type AnalogPortConfig, type AnalogStatus, type Store } from '../../services/store/index.js';
import { e164 as e164Argument } from '../../services/office/numbers.js';
import { out, positionals, printJson, stringOption, table, UsageError, withStore, type CommandGroup } from './cli.js';

/** A status row older than this means the analog process is not reporting (it reports every 2 s). */
export const ANALOG_STALE_MS = 10_000;

export const portCommands: CommandGroup = {
  name: 'port',
  usage: `  port assign PORT EXT      an FXS port (fxs1, fxs2) registers as extension EXT (its SIP credentials)
  port unassign PORT        the port goes out of service
  port set PORT [--country ${ANALOG_COUNTRIES.join('|')}|default] [--number NUMBER|none]
                            country: dial tone, ring cadence, caller ID standard; --number: the FXO line's number
  port list [--json]        ports, their extension or number, country and live state`,
  options: {
    country: { type: 'string' },
    number: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'assign' || sub === 'unassign') {
      return withStore(config, (store) => {
        const [port, extension] = positionals(rest, sub === 'assign' ? ['PORT', 'EXT'] : ['PORT'], `port ${sub}`);
        const name = portArgument(port as string);
        const updated = store.analog.assign(name, extension ?? null);
        if (json) printJson(updated);
        else out(extension === undefined ? `${name} unassigned` : `${name} registers as extension ${extension}`);
      });
    }
    if (sub === 'set') {
      return withStore(config, (store) => {
        const [port] = positionals(rest, ['PORT'], 'port set');
        const name = portArgument(port as string);
        const country = stringOption(values, 'country');
        const number = stringOption(values, 'number');
        if (country === undefined && number === undefined) throw new UsageError('port set needs --country or --number');
        let updated: AnalogPortConfig | null = null;
        store.transaction(() => {
          if (country !== undefined) {
            const value = country === 'default' ? null : (country.toUpperCase() === 'UK' ? 'GB' : country.toUpperCase());
            if (value !== null && !(ANALOG_COUNTRIES as readonly string[]).includes(value)) throw new UsageError(`--country must be one of ${ANALOG_COUNTRIES.join(', ')} or default`);
            updated = store.analog.setCountry(name, value as AnalogCountry | null);
          }
          if (number !== undefined) updated = store.analog.setNumber(name, number === 'none' ? null : e164Argument(number, countryCode(config.country)));
        });
        if (json) printJson(updated);
        else out(`${name} updated`);
      });
    }
    if (sub === 'list') {
      return withStore(config, (store) => {
        positionals(rest, [], 'port list');
        const ports = portRows(store, config.country);
        if (json) {
          printJson(ports);
          return;
        }
        out(portTable(ports, config.country));
      });
    }
    throw new UsageError(sub ? `unknown port command: ${sub}` : 'port needs a command: assign, unassign, set, list');
  },
};

function portArgument(text: string): string {
  const port = parsePortName(text.toLowerCase());
  if (port === null) throw new UsageError(`"${text}" is not a port name (fxs1, fxs2, fxo1 ...)`);
  return `${port.kind}${port.index}`;
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
export function portRows(store: Store, boxCountry: string, now = Date.now()): PortRow[] {
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

export function portTable(ports: PortRow[], boxCountry: string): string {
  if (ports.length === 0) return 'no analog ports (none assigned, and the analog process has reported none)';
  let country: ReturnType<typeof countryCode> | null = null;
  try {
    country = countryCode(boxCountry);
  } catch {
    country = null;
  }
  return table(
    ['PORT', 'EXTENSION/NUMBER', 'COUNTRY', 'STATE', 'DETAIL'],
    ports.map((p) => [
      p.port,
      p.extension ?? (p.number === null ? '-' : country === null ? p.number : displayNumber(p.number, country)),
      `${p.country}${p.countryIsDefault ? ' (box)' : ''}`,
      p.state,
      p.detail ?? '-',
    ]),
  );
}

/** The analog process's own rows (`board`, `failover`) that are fresh, for `pbxctl status`. */
export function analogSystemRows(store: Store, now = Date.now()): AnalogStatus[] {
  return store.analog.statuses().filter((s) => parsePortName(s.name) === null && now - s.updatedAt < ANALOG_STALE_MS);
}
