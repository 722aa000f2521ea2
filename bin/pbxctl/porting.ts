/**
 * `pbxctl porting list|show|status`: number porting requests (made in the web UI) and the one
 * interface their status changes arrive through until the cloud sync agent exists:
 * `pbxctl porting status ID --set submitted|foc|ported|test-call|completed|rejected [--date D] [--reason R]`.
 * Completing a port puts the ported numbers in place of the temporary one (services/porting/service.ts).
 */
import { changePortingStatus, PortingError } from '../../services/porting/service.js';
import { PORTING_STATUSES, type PortingRequest, type PortingStatus } from '../../services/porting/request.js';
import type { Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const portingCommands: CommandGroup = {
  name: 'porting',
  usage: `  porting list [--json]          number porting requests and their status
  porting show ID [--json]       one request with its timeline
  porting status ID --set ${PORTING_STATUSES.join('|')} [--date YYYY-MM-DD] [--reason TEXT]
                           record what the carrier said (foc needs --date, rejected needs --reason)`,
  options: {
    set: { type: 'string' },
    date: { type: 'string' },
    reason: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'list') return withStore(config, (store) => list(store, rest, json));
    if (sub === 'show') return withStore(config, (store) => show(store, rest, json));
    if (sub === 'status') return withStore(config, (store) => status(store, rest, values, json));
    throw new UsageError(sub ? `unknown porting command: ${sub}` : 'porting needs a command: list, show, status');
  },
};

function requestId(text: string | undefined): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0) throw new UsageError(`porting request ID must be a positive number (got ${text ?? 'nothing'})`);
  return id;
}

function list(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'porting list');
  const requests = store.porting.list();
  if (json) return printJson({ requests });
  if (requests.length === 0) return out('no porting requests');
  out(
    table(
      ['ID', 'STATUS', 'FOC DATE', 'NUMBERS', 'PROVIDER', 'SUBMITTED'],
      requests.map((r) => [String(r.id), r.status, r.focDate ?? '-', r.body.numbers.join(' '), r.body.provider, r.createdAt.slice(0, 10)]),
    ),
  );
}

function printRequest(r: PortingRequest): void {
  out(`request ${r.id}: ${r.status}${r.focDate ? ` (FOC ${r.focDate})` : ''}${r.reason ? ` — ${r.reason}` : ''}`);
  out(`  numbers   ${r.body.numbers.join(', ')} (${r.body.numberType}) from ${r.body.provider}, account ${r.body.accountNumber}`);
  out(`  holder    ${r.body.holderFirstName} ${r.body.holderLastName}, ${r.body.serviceAddress.street}, ${r.body.serviceAddress.postalCode} ${r.body.serviceAddress.city}`);
  out(`  replaces  ${r.body.primaryNumber}${r.body.keepTemporary ? ' (kept as an additional number)' : ' (released at completion)'}`);
  out(`  signed    ${r.body.signature.name} at ${r.body.signature.signedAt}`);
  for (const e of r.events) out(`  ${e.at}  ${e.status}${e.date ? ` ${e.date}` : ''}${e.reason ? ` — ${e.reason}` : ''}`);
}

function show(store: Store, args: string[], json: boolean): void {
  const [text] = positionals(args, ['ID'], 'porting show');
  const request = store.porting.get(requestId(text));
  if (request === null) throw new Failure(`porting request ${text} does not exist`);
  if (json) printJson({ request });
  else printRequest(request);
}

function status(store: Store, args: string[], values: CliValues, json: boolean): void {
  const [text] = positionals(args, ['ID'], 'porting status');
  const set = stringOption(values, 'set');
  if (set === undefined) throw new UsageError(`porting status needs --set ${PORTING_STATUSES.join('|')}`);
  if (!(PORTING_STATUSES as readonly string[]).includes(set)) throw new UsageError(`--set must be one of ${PORTING_STATUSES.join(', ')}`);
  let updated: PortingRequest;
  try {
    updated = changePortingStatus(store, requestId(text), { status: set as PortingStatus, date: stringOption(values, 'date') ?? null, reason: stringOption(values, 'reason') ?? null });
  } catch (error) {
    if (error instanceof PortingError) throw new UsageError(error.message);
    throw error;
  }
  if (json) printJson({ request: updated });
  else printRequest(updated);
}
