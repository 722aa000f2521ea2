/** `pbxctl conference set|limits|list`: room PINs and the limits (rooms in use at once, participants per room). */
import { CONFERENCE_ROOMS, setConferencePin } from '../../services/office/conference.js';
import type { Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';
import { intOption } from './ring-group.js';

export const conferenceCommands: CommandGroup = {
  name: 'conference',
  usage: `  conference set ROOM --pin PIN|none        PIN asked on entry (3-10 digits); rooms 8000-8099
  conference limits [--rooms N] [--participants N]   rooms in use at once, participants per room (default 10, 10)
  conference list [--json]`,
  options: {
    rooms: { type: 'string' },
    participants: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'set') return withStore(config, (store) => setRoom(store, rest, values));
    if (sub === 'limits') return withStore(config, (store) => limits(store, rest, values, json));
    if (sub === 'list') return withStore(config, (store) => list(store, rest, json));
    throw new UsageError(sub ? `unknown conference command: ${sub}` : 'conference needs a command: set, limits, list');
  },
};

function setRoom(store: Store, args: string[], values: CliValues): void {
  const [room] = positionals(args, ['ROOM'], 'conference set');
  const pin = stringOption(values, 'pin');
  if (pin === undefined) throw new UsageError('conference set needs --pin PIN (or --pin none)');
  if (!CONFERENCE_ROOMS.test(room as string)) throw new Failure(`conference rooms are 8000-8099 (got ${room})`);
  setConferencePin(store, room as string, pin === 'none' ? null : pin);
  out(pin === 'none' ? `room ${room}: no PIN` : `room ${room}: PIN set`);
}

function limits(store: Store, args: string[], values: CliValues, json: boolean): void {
  positionals(args, [], 'conference limits');
  const rooms = intOption(values, 'rooms');
  const participants = intOption(values, 'participants');
  const now =
    rooms === undefined && participants === undefined
      ? store.routing.conferenceRooms.limits()
      : store.routing.conferenceRooms.setLimits({ ...(rooms !== undefined && { maxRooms: rooms }), ...(participants !== undefined && { maxParticipants: participants }) });
  if (json) printJson(now);
  else out(`conference limits: ${now.maxRooms} rooms in use at once, ${now.maxParticipants} participants per room`);
}

function list(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'conference list');
  const rooms = store.routing.conferenceRooms.list().filter((r) => r.pin !== null);
  const now = store.routing.conferenceRooms.limits();
  if (json) {
    // The PINs themselves stay out of listings (like extension secrets).
    printJson({ limits: now, rooms: rooms.map((r) => ({ room: r.room, pinSet: true })) });
    return;
  }
  out(`rooms 8000-8099; ${now.maxRooms} in use at once, ${now.maxParticipants} participants each`);
  if (rooms.length > 0) out(table(['ROOM', 'PIN'], rooms.map((r) => [r.room, 'set'])));
}
