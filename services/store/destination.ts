/**
 * Where a number, a menu option or a no-answer rule sends a call. One typed value for every place a
 * call can go, so number mapping, the virtual receptionist, ring groups and forwarding all speak the
 * same language, and `pbxctl`/the web UI parse and show it the same way (`extension:101`).
 */
export type Destination =
  | { kind: 'extension'; number: string }
  | { kind: 'ring-group'; name: string }
  | { kind: 'receptionist'; name: string }
  | { kind: 'conference'; room: string }
  | { kind: 'voicemail'; extension: string }
  /** the user's virtual fax line: the box answers with a fax modem (services/fax/) */
  | { kind: 'fax'; extension: string };

export type DestinationKind = Destination['kind'];

export const DESTINATION_KINDS: readonly DestinationKind[] = ['extension', 'ring-group', 'receptionist', 'conference', 'voicemail', 'fax'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const DIGITS = /^[0-9]{2,6}$/;

export class DestinationError extends Error {}

/** `kind:value` as typed by a technician or stored in SQLite. Throws DestinationError with the reason. */
export function parseDestination(text: string): Destination {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new DestinationError(`destination must be KIND:VALUE with KIND one of ${DESTINATION_KINDS.join(', ')} (got "${text}")`);
  const kind = text.slice(0, colon);
  const value = text.slice(colon + 1);
  switch (kind) {
    case 'extension':
      if (!DIGITS.test(value)) throw new DestinationError(`extension must be 2-6 digits (got "${value}")`);
      return { kind, number: value };
    case 'voicemail':
      if (!DIGITS.test(value)) throw new DestinationError(`voicemail box must be an extension of 2-6 digits (got "${value}")`);
      return { kind, extension: value };
    case 'fax':
      if (!DIGITS.test(value)) throw new DestinationError(`fax line must be an extension of 2-6 digits (got "${value}")`);
      return { kind, extension: value };
    case 'conference':
      if (!DIGITS.test(value)) throw new DestinationError(`conference room must be digits (got "${value}")`);
      return { kind, room: value };
    case 'ring-group':
    case 'receptionist':
      if (!NAME.test(value)) throw new DestinationError(`${kind} name must be 1-32 letters, digits, - or _ (got "${value}")`);
      return { kind, name: value };
    default:
      throw new DestinationError(`unknown destination kind "${kind}": one of ${DESTINATION_KINDS.join(', ')}`);
  }
}

export function formatDestination(destination: Destination): string {
  switch (destination.kind) {
    case 'extension':
      return `extension:${destination.number}`;
    case 'voicemail':
      return `voicemail:${destination.extension}`;
    case 'fax':
      return `fax:${destination.extension}`;
    case 'conference':
      return `conference:${destination.room}`;
    case 'ring-group':
    case 'receptionist':
      return `${destination.kind}:${destination.name}`;
  }
}
