/**
 * `pbxctl port assign|unassign|set|list`: the analog ports. An FXS port registers to the pbx as the
 * extension assigned to it (with that extension's credentials); each port has a country (tones, ring
 * cadence, caller ID standard; default the box's); the FXO port has the landline's number, which
 * `pbxctl number add` maps to a destination like any other number. The running `analog` process
 * picks changes up within a second; live state comes from what it reports to the store.
 */
import { countryCode, displayNumber } from '../../services/pbx/routing/phone-numbers.js';
import { analogSystemRows, ANALOG_STALE_MS, assignPort, portRows, setPortOptions, type PortRow } from '../../services/office/analog-ports.js';
import { ANALOG_COUNTRIES, type AnalogPortConfig } from '../../services/store/index.js';
import { out, positionals, printJson, stringOption, table, UsageError, withStore, type CommandGroup } from './cli.js';

export { analogSystemRows, ANALOG_STALE_MS, portRows, type PortRow };

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
        const updated = assignPort(store, port as string, extension ?? null);
        if (json) printJson(updated);
        else out(extension === undefined ? `${updated.port} unassigned` : `${updated.port} registers as extension ${extension}`);
      });
    }
    if (sub === 'set') {
      return withStore(config, (store) => {
        const [port] = positionals(rest, ['PORT'], 'port set');
        const country = stringOption(values, 'country');
        const number = stringOption(values, 'number');
        if (country === undefined && number === undefined) throw new UsageError('port set needs --country or --number');
        const updated: AnalogPortConfig = setPortOptions(store, countryCode(config.country), port as string, { ...(country !== undefined && { country }), ...(number !== undefined && { number }) });
        if (json) printJson(updated);
        else out(`${updated.port} updated`);
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
